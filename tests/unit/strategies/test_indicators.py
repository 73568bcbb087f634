"""Incremental indicators against independent references on real data (S&P 500 closes from
``arch.data``): pandas rolling/ewm and numpy closed forms written here, and TA-Lib where it is
installed. Every comparison starts where the indicator is first warm and checks that it is
None before that."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest
from arch.data import sp500
from numpy.lib.stride_tricks import sliding_window_view

from neural_trader.strategies.indicators import (
    EMA,
    MACD,
    RSI,
    SMA,
    Bollinger,
    RateOfChange,
    RollingStd,
    ZScore,
)

RTOL = 1e-9


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    return sp500.load()["Close"].to_numpy(dtype=np.float64)


def feed(update: Callable[[float], object], x: np.ndarray) -> list[object]:
    return [update(float(v)) for v in x]


def column(out: Sequence[object], field: str | None = None) -> np.ndarray:
    """Indicator outputs as floats, NaN where the indicator was not warm yet."""
    return np.array(
        [math.nan if o is None else (getattr(o, field) if field else o) for o in out],
        dtype=np.float64,
    )


def assert_matches(got: np.ndarray, ref: np.ndarray, first: int, atol_scale: float = 0.0) -> None:
    """NaN exactly before ``first``, equal to ``ref`` to RTOL from there on.

    ``atol_scale`` allows an absolute error of RTOL times that scale for values that cross
    zero, where a purely relative bound means nothing.
    """
    assert np.isnan(got[:first]).all()
    assert not np.isnan(got[first:]).any()
    assert not np.isnan(ref[first:]).any()
    np.testing.assert_allclose(got[first:], ref[first:], rtol=RTOL, atol=RTOL * atol_scale)


# -- references (pandas / numpy, written from the definitions) --------------------------------


def ema_ref(x: np.ndarray, period: int, first: int | None = None) -> np.ndarray:
    """EMA seeded with the mean of the ``period`` values ending at ``first`` (default: the
    first ``period`` values), then ``adjust=False`` recursion from there."""
    first = period - 1 if first is None else first
    seed = x[first - period + 1 : first + 1].mean()
    tail = pd.Series(np.concatenate(([seed], x[first + 1 :])))
    out = np.full(x.shape, np.nan)
    out[first:] = tail.ewm(alpha=2.0 / (period + 1), adjust=False).mean().to_numpy()
    return out


def rsi_ref(x: np.ndarray, period: int) -> np.ndarray:
    """Wilder's RSI: simple mean of the first ``period`` gains/losses, then ewm(alpha=1/n)."""
    d = np.diff(x)
    gain, loss = np.clip(d, 0, None), np.clip(-d, 0, None)

    def wilder(v: np.ndarray) -> np.ndarray:
        s = pd.Series(np.concatenate(([v[:period].mean()], v[period:])))
        return s.ewm(alpha=1.0 / period, adjust=False).mean().to_numpy()

    g, lo = wilder(gain), wilder(loss)
    out = np.full(x.shape, np.nan)
    out[period:] = 100.0 * g / (g + lo)
    return out


def macd_ref(x: np.ndarray, fast: int, slow: int, signal: int) -> tuple[np.ndarray, ...]:
    """Both EMAs start at input ``slow - 1`` (the fast one from the mean of the ``fast``
    values ending there), the signal EMA from the mean of the first ``signal`` MACD values."""
    macd = ema_ref(x, fast, first=slow - 1) - ema_ref(x, slow)
    sig = np.full(x.shape, np.nan)
    sig[slow - 1 :] = ema_ref(macd[slow - 1 :], signal)
    macd = np.where(np.isnan(sig), np.nan, macd)
    return macd, sig, macd - sig


def rolling_std_ref(x: np.ndarray, period: int, ddof: int = 0) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    out[period - 1 :] = sliding_window_view(x, period).std(axis=1, ddof=ddof)
    return out


# -- SMA (unchanged) and EMA -------------------------------------------------------------------


@pytest.mark.parametrize("period", [1, 5, 50])
def test_sma_matches_pandas_rolling_mean(close: np.ndarray, period: int) -> None:
    got = column(feed(SMA(period).update, close))
    ref = pd.Series(close).rolling(period).mean().to_numpy()
    assert_matches(got, ref, period - 1)


@pytest.mark.parametrize("period", [1, 2, 12, 26, 200])
def test_ema_matches_sma_seeded_pandas_ewm(close: np.ndarray, period: int) -> None:
    ema = EMA(period)
    got = column(feed(ema.update, close))
    assert_matches(got, ema_ref(close, period), period - 1)
    assert ema.value == got[-1]


def test_ema_seed_sets_the_starting_value() -> None:
    ema = EMA(3)
    assert ema.seed(10.0) == 10.0
    assert ema.update(14.0) == pytest.approx(12.0)  # alpha = 2 / (3 + 1) = 0.5


# -- RollingStd and ZScore ----------------------------------------------------------------------


@pytest.mark.parametrize(("period", "ddof"), [(2, 0), (20, 0), (20, 1), (252, 0), (7, 1)])
def test_rolling_std_matches_two_pass_numpy(close: np.ndarray, period: int, ddof: int) -> None:
    std = RollingStd(period, ddof)
    got = column(feed(std.update, close))
    assert_matches(got, rolling_std_ref(close, period, ddof), period - 1)
    assert std.mean == pytest.approx(close[-period:].mean(), rel=RTOL)


def test_rolling_std_does_not_drift_over_a_long_badly_scaled_series() -> None:
    # A large offset and a tiny spread make running sums of squares useless; a million updates
    # would let an update-only scheme accumulate error. The exact recompute keeps it clean.
    rng = np.random.default_rng(7)
    x = 1e6 + rng.standard_normal(1_000_000) * 1e-3
    std = RollingStd(50)
    for v in x.tolist():
        std.update(v)
    assert std.value == pytest.approx(x[-50:].std(), rel=1e-7)
    assert std.mean == pytest.approx(x[-50:].mean(), rel=1e-12)


def test_rolling_std_of_a_constant_is_zero() -> None:
    std = RollingStd(5)
    out = feed(std.update, np.full(30, 123.456))
    assert out[:4] == [None] * 4
    assert out[4:] == [0.0] * 26


@pytest.mark.parametrize("period", [5, 60])
def test_zscore_matches_closed_form(close: np.ndarray, period: int) -> None:
    returns = close[1:] / close[:-1] - 1.0
    got = column(feed(ZScore(period).update, returns))
    win = sliding_window_view(returns, period)
    ref = np.full(returns.shape, np.nan)
    ref[period - 1 :] = (win[:, -1] - win.mean(axis=1)) / win.std(axis=1)
    assert_matches(got, ref, period - 1, atol_scale=1.0)


def test_zscore_is_zero_without_spread_and_known_on_a_small_case() -> None:
    z = ZScore(4)
    assert feed(z.update, np.array([1.0, 1.0, 1.0, 1.0])) == [None, None, None, 0.0]
    # window (1, 1, 1, 5): mean 2, population std sqrt(3) -> z = 3 / sqrt(3) = sqrt(3)
    assert z.update(5.0) == pytest.approx(math.sqrt(3.0), rel=1e-12)


# -- RSI, MACD, Bollinger, rate of change --------------------------------------------------------


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_matches_wilder_reference(close: np.ndarray, period: int) -> None:
    got = column(feed(RSI(period).update, close))
    assert_matches(got, rsi_ref(close, period), period)


def test_rsi_edge_cases() -> None:
    rising = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert feed(RSI(3).update, rising) == [None, None, None, 100.0, 100.0]
    assert feed(RSI(3).update, np.array([5.0, 4.0, 3.0, 2.0])) == [None, None, None, 0.0]
    assert feed(RSI(3).update, np.full(5, 7.0))[3:] == [50.0, 50.0]  # nothing moved: neutral


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (3, 10, 16)])
def test_macd_matches_reference(close: np.ndarray, fast: int, slow: int, signal: int) -> None:
    macd = MACD(fast, slow, signal)
    out = feed(macd.update, close)
    first = slow + signal - 2
    scale = float(np.abs(np.diff(close)).max())
    refs = macd_ref(close, fast, slow, signal)
    for field, ref in zip(("macd", "signal", "hist"), refs, strict=True):
        assert_matches(column(out, field), ref, first, atol_scale=scale)
    assert macd.value is out[-1]


@pytest.mark.parametrize(("period", "num_std"), [(20, 2.0), (5, 1.5), (50, 3.0)])
def test_bollinger_matches_pandas_rolling(close: np.ndarray, period: int, num_std: float) -> None:
    out = feed(Bollinger(period, num_std).update, close)
    roll = pd.Series(close).rolling(period)
    mid = roll.mean().to_numpy()
    std = roll.std(ddof=0).to_numpy()
    assert_matches(column(out, "mid"), mid, period - 1)
    assert_matches(column(out, "lower"), mid - num_std * std, period - 1)
    assert_matches(column(out, "upper"), mid + num_std * std, period - 1)


@pytest.mark.parametrize("period", [1, 20, 250])
def test_rate_of_change_matches_closed_form(close: np.ndarray, period: int) -> None:
    got = column(feed(RateOfChange(period).update, close))
    ref = np.full(close.shape, np.nan)
    ref[period:] = close[period:] / close[:-period] - 1.0
    assert_matches(got, ref, period, atol_scale=1.0)
    np.testing.assert_allclose(
        got[period:], pd.Series(close).pct_change(period).to_numpy()[period:], rtol=RTOL, atol=RTOL
    )


def test_rate_of_change_is_undefined_on_a_zero_base() -> None:
    roc = RateOfChange(1)
    assert feed(roc.update, np.array([0.0, 1.0, 2.0])) == [None, None, 1.0]


# -- TA-Lib, the industry reference, where installed ---------------------------------------------


def test_against_talib(close: np.ndarray) -> None:
    talib = pytest.importorskip("talib")
    for period in (5, 14, 30):
        ema = column(feed(EMA(period).update, close))
        assert_matches(ema, talib.EMA(close, period), period - 1)
        rsi = column(feed(RSI(period).update, close))
        assert_matches(rsi, talib.RSI(close, period), period)
        upper, mid, lower = talib.BBANDS(close, period, 2.0, 2.0, 0)
        bands = feed(Bollinger(period, 2.0).update, close)
        # TA-Lib's own stddev uses running sums of squares (error ~1e-11 relative to σ here),
        # which is still far inside RTOL on the bands themselves.
        assert_matches(column(bands, "mid"), mid, period - 1)
        assert_matches(column(bands, "lower"), lower, period - 1)
        assert_matches(column(bands, "upper"), upper, period - 1)
        roc = column(feed(RateOfChange(period).update, close))
        assert_matches(roc, talib.ROCP(close, period), period, atol_scale=1.0)
    for fast, slow, signal in ((12, 26, 9), (5, 35, 5)):
        out = feed(MACD(fast, slow, signal).update, close)
        ref = talib.MACD(close, fast, slow, signal)
        scale = float(np.abs(np.diff(close)).max())
        for field, r in zip(("macd", "signal", "hist"), ref, strict=True):
            assert_matches(column(out, field), r, slow + signal - 2, atol_scale=scale)


# -- argument checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: EMA(0),
        lambda: RollingStd(0),
        lambda: RollingStd(1, ddof=1),
        lambda: RollingStd(5, ddof=-1),
        lambda: RSI(0),
        lambda: MACD(26, 12, 9),
        lambda: MACD(12, 26, 0),
        lambda: Bollinger(0, 2.0),
        lambda: Bollinger(20, 0.0),
        lambda: RateOfChange(0),
        lambda: ZScore(1),
    ],
)
def test_bad_periods_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        make()
