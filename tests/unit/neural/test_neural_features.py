"""Features are causal, windows cannot see the future, and the split cannot leak."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neural_trader.core.market_data import BarSeries
from neural_trader.errors import NeuralError
from neural_trader.neural.features import (
    FEATURE_NAMES,
    ForecastDataset,
    build_features,
    future_log_returns,
    make_windows,
    ohlcv_features,
    prepare_dataset,
)

VOL_WINDOW = 20
WINDOW = 10


def _scramble_after(series: BarSeries, t: int, seed: int) -> BarSeries:
    """Bars after row ``t`` shuffled and rescaled; rows ``<= t`` untouched."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([np.arange(t + 1), t + 1 + rng.permutation(len(series) - t - 1)])
    scale, volume_scale = np.ones(len(series)), np.ones(len(series))
    scale[t + 1 :] = rng.uniform(0.5, 2.0, len(series) - t - 1)
    volume_scale[t + 1 :] = rng.uniform(0.1, 10.0, len(series) - t - 1)
    return BarSeries(
        series.symbol,
        series.interval,
        series.ts,
        series.open[order] * scale,
        series.high[order] * scale,
        series.low[order] * scale,
        series.close[order] * scale,
        series.volume[order] * volume_scale,
    )


def test_features_match_hand_computation(spx_bars: BarSeries) -> None:
    raw = ohlcv_features(spx_bars, VOL_WINDOW)
    c, o, h, lo, v = (spx_bars.close, spx_bars.open, spx_bars.high, spx_bars.low, spx_bars.volume)
    t = 100
    returns = np.log(c[1:] / c[:-1])
    expected = [
        np.log(c[t] / c[t - 1]),
        np.log(h[t] / lo[t]),
        np.log(c[t] / o[t]),
        np.log1p(v[t]) - np.log1p(v[t - 1]),
        np.std(returns[t - VOL_WINDOW : t], ddof=1),
    ]
    assert raw.shape == (len(spx_bars), len(FEATURE_NAMES))
    np.testing.assert_allclose(raw[t], expected, rtol=1e-12)
    assert np.isnan(raw[VOL_WINDOW - 1, 4]) and np.isfinite(raw[VOL_WINDOW]).all()


def test_targets_are_future_cumulative_log_returns(spx_bars: BarSeries) -> None:
    targets = future_log_returns(spx_bars.close, (1, 5))
    c = spx_bars.close
    np.testing.assert_allclose(targets[7], [np.log(c[8] / c[7]), np.log(c[12] / c[7])])
    assert np.isnan(targets[-5:, 1]).all() and np.isfinite(targets[:-5, 1]).all()
    assert np.isnan(targets[-1, 0]) and np.isfinite(targets[-2, 0])


@pytest.mark.parametrize("t", [60, 300, 700])
def test_scrambling_after_t_leaves_features_and_windows_up_to_t_unchanged(
    spx_bars: BarSeries, t: int
) -> None:
    scrambled = _scramble_after(spx_bars, t, seed=t)
    original_raw = ohlcv_features(spx_bars, VOL_WINDOW)
    scrambled_raw = ohlcv_features(scrambled, VOL_WINDOW)
    np.testing.assert_array_equal(original_raw[: t + 1], scrambled_raw[: t + 1])
    assert not np.allclose(original_raw[t + 1 :], scrambled_raw[t + 1 :])

    first_full = VOL_WINDOW  # first row with every feature defined
    original_windows = make_windows(original_raw[first_full:], WINDOW)
    scrambled_windows = make_windows(scrambled_raw[first_full:], WINDOW)
    last_window_ending_by_t = t - first_full - (WINDOW - 1)  # window i ends at row i + W - 1
    np.testing.assert_array_equal(
        original_windows[: last_window_ending_by_t + 1],
        scrambled_windows[: last_window_ending_by_t + 1],
    )
    assert not np.array_equal(
        original_windows[last_window_ending_by_t + 1],
        scrambled_windows[last_window_ending_by_t + 1],
    )


def test_scrambling_after_train_leaves_train_inputs_and_normaliser_unchanged(
    spx_bars: BarSeries, spx_dataset: ForecastDataset
) -> None:
    last_train_bar = int(spx_dataset.train.end_rows[-1]) + VOL_WINDOW  # feature row -> bar row
    scrambled = prepare_dataset(
        build_features(_scramble_after(spx_bars, last_train_bar, seed=1), horizons=(1, 5)),
        window=WINDOW,
    )
    assert np.array_equal(scrambled.normaliser.mean, spx_dataset.normaliser.mean)
    assert np.array_equal(scrambled.normaliser.std, spx_dataset.normaliser.std)
    assert np.array_equal(scrambled.train.x.numpy(), spx_dataset.train.x.numpy())
    assert not np.array_equal(scrambled.test.x.numpy(), spx_dataset.test.x.numpy())


def test_split_is_chronological_with_gaps_no_sample_overlaps(spx_dataset: ForecastDataset) -> None:
    window, max_h = spx_dataset.window, max(spx_dataset.horizons)
    splits = (spx_dataset.train, spx_dataset.val, spx_dataset.test)
    for earlier, later in itertools.pairwise(splits):
        last_target_row = int(earlier.end_rows[-1]) + max_h
        first_input_row = int(later.end_rows[0]) - window + 1
        assert first_input_row > last_target_row
        assert later.end_ts[0] > earlier.end_ts[-1]
    for split in splits:
        assert np.all(np.diff(split.end_rows) == 1)
        assert split.x.shape[1:] == (window, len(FEATURE_NAMES))
        assert split.y.shape == (len(split), 2)
        assert str(split.x.dtype) == "torch.float32"


def test_normaliser_is_fitted_on_train_rows_only(
    spx_bars: BarSeries, spx_dataset: ForecastDataset
) -> None:
    features = build_features(spx_bars, horizons=(1, 5)).features
    train_rows = features[: int(spx_dataset.train.end_rows[-1]) + 1]
    np.testing.assert_allclose(spx_dataset.normaliser.mean, train_rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(spx_dataset.normaliser.std, train_rows.std(axis=0), rtol=1e-12)
    assert not np.allclose(spx_dataset.normaliser.mean, features.mean(axis=0), rtol=1e-6)
    normalised_train = spx_dataset.train.x.numpy().reshape(-1, len(FEATURE_NAMES))
    assert np.abs(normalised_train.mean(axis=0)).max() < 0.1


def test_window_contents_match_the_normalised_rows(
    spx_bars: BarSeries, spx_dataset: ForecastDataset
) -> None:
    fs = build_features(spx_bars, horizons=(1, 5))
    row = int(spx_dataset.val.end_rows[3])
    expected = spx_dataset.normaliser.transform(fs.features[row - WINDOW + 1 : row + 1])
    np.testing.assert_allclose(spx_dataset.val.x[3].numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(spx_dataset.val.y[3].numpy(), fs.targets[row], rtol=1e-6)


def test_too_short_series_is_a_clear_error(spx_bars: BarSeries) -> None:
    short = spx_bars.slice_time(None, int(spx_bars.ts[24]))  # 25 bars <= 20 + 5
    with pytest.raises(NeuralError, match="too short"):
        build_features(short, horizons=(1, 5))
    with pytest.raises(NeuralError, match="too short for a window of 10"):
        make_windows(np.zeros((9, 5)), WINDOW)
    medium = build_features(spx_bars.slice_time(None, int(spx_bars.ts[60])), horizons=(1, 5))
    with pytest.raises(NeuralError, match="too short for window 10"):
        prepare_dataset(medium, window=WINDOW)


def test_nan_or_bad_shape_in_features_is_a_clear_error() -> None:
    features = np.ones((50, 5))
    features[17, 2] = np.nan
    with pytest.raises(NeuralError, match="NaN or inf \\(first at row 17, column 2\\)"):
        make_windows(features, WINDOW)
    with pytest.raises(NeuralError, match="must be 2-D"):
        make_windows(np.ones(50), WINDOW)
    with pytest.raises(NeuralError, match="horizons"):
        future_log_returns(np.ones(50), (5, 1))
