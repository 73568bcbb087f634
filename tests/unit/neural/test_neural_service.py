"""The NeuralService end to end on bundled SPX: train → register → serve → monitor, with the
registry's stage rules and the failure modes (corrupt or missing weights, unknown names)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from neural_trader.config import load_settings
from neural_trader.data import load_bars
from neural_trader.errors import NeuralError
from neural_trader.neural.service import NeuralService, TrainSpec
from neural_trader.storage import Store
from neural_trader.storage.registry import ModelRecord

TINY = {"hidden_size": 8}


def spec(**kw: object) -> TrainSpec:
    args: dict[str, object] = {
        "architecture": "lstm", "symbol": "SPX", "epochs": 2, "window": 10,
        "start": "2008-01-01", "end": "2012-12-31", "hparams": TINY,
    }  # fmt: skip
    args.update(kw)
    return TrainSpec(**args)  # type: ignore[arg-type]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[NeuralService]:
    settings = load_settings(None, {"neural.models_dir": str(tmp_path / "models")})
    store = Store(f"sqlite:///{tmp_path / 'nt.db'}")
    svc = NeuralService(settings.neural, store)
    yield svc
    svc.close()
    store.close()


@pytest.fixture
def trained(service: NeuralService) -> ModelRecord:
    return service.train(spec())


def test_training_registers_a_staging_version_with_its_evidence(
    service: NeuralService, trained: ModelRecord
) -> None:
    assert (trained.name, trained.version, trained.stage) == ("lstm-SPX", 1, "staging")
    assert len(trained.training["history"]) == 2
    assert trained.hparams["window"] == 10 and trained.hparams["hidden_size"] == 8
    assert any("beats random walk" in line for line in trained.metrics["verdict"])
    cover = trained.metrics["conformal"]["test_coverage"]
    assert len(cover) == 2 and all(0 <= c <= 1 for c in cover)
    path = service.settings.models_dir / trained.artifact
    assert path.suffix == ".safetensors" and path.is_file()
    first, last, n = trained.training["splits"]["train"]
    assert first < last and n > 100
    assert trained.training["splits"]["test"][1] <= int(load_bars("SPX", end="2012-12-31").ts[-1])


def test_a_reloaded_model_forecasts_bit_identically_and_both_window_paths_agree(
    service: NeuralService, trained: ModelRecord, tmp_path: Path
) -> None:
    one = service.predict("lstm-SPX", as_of="2014-03-03")
    again = NeuralService(service.settings, Store(f"sqlite:///{tmp_path / 'nt.db'}"))
    try:
        two = again.predict("lstm-SPX", as_of="2014-03-03")
    finally:
        again.close()
    assert one.quantiles == two.quantiles and one.as_of == two.as_of
    # The single forecast slices the tail; the batch builds every window: same numbers.
    [batch] = service.predict_batch("lstm-SPX", start="2014-03-03", end="2014-03-03")
    assert batch.as_of == one.as_of
    np.testing.assert_allclose(batch.median, one.median, rtol=1e-5, atol=1e-7)
    radius = np.asarray(trained.metrics["conformal"]["radius"])
    np.testing.assert_allclose(np.asarray(one.upper) - np.asarray(one.median), radius)
    assert all(lo <= hi for lo, hi in zip(one.lower, one.upper, strict=True))


def test_monitoring_compares_live_error_with_the_registered_test_error(
    service: NeuralService, trained: ModelRecord
) -> None:
    report = service.monitor("lstm-SPX", start="2013-06-01", end="2013-12-31")
    forecasts = service.predict_batch("lstm-SPX", start="2013-06-01", end="2013-12-31")
    bars = load_bars("SPX", end="2013-12-31")
    log_close = np.log(bars.close)
    at = {int(t): i for i, t in enumerate(bars.ts)}
    for j, h in enumerate((1, 5)):
        errs = [
            log_close[at[f.as_of] + h] - log_close[at[f.as_of]] - f.median[j]
            for f in forecasts
            if at[f.as_of] + h < log_close.size
        ]
        live = math.sqrt(np.mean(np.square(errs)))
        row = report["horizons"][j]
        assert row["windows"] == len(errs)
        assert row["live_rmse"] == pytest.approx(live, rel=1e-5)
        assert row["ratio"] == pytest.approx(live / trained.metrics["test_rmse"][j], rel=1e-5)
    with pytest.raises(NeuralError, match="must start after the model's data"):
        service.monitor("lstm-SPX", start="2012-01-01")


def test_stage_rules(service: NeuralService) -> None:
    reg = service.registry
    for _ in range(3):
        service.train(spec(epochs=1))
    with pytest.raises(NeuralError, match="no production version to roll back"):
        reg.rollback("lstm-SPX")
    reg.promote("lstm-SPX", 1)
    assert reg.get_model("lstm-SPX").version == 1  # production wins over newer staging
    reg.promote("lstm-SPX", 3)
    stages = {m.version: m.stage for m in reg.list_models("lstm-SPX")}
    assert stages == {1: "archived", 2: "staging", 3: "production"}
    assert reg.rollback("lstm-SPX").version == 1
    stages = {m.version: m.stage for m in reg.list_models("lstm-SPX")}
    assert stages == {1: "production", 2: "staging", 3: "archived"}
    with pytest.raises(NeuralError, match="no earlier archived version"):
        reg.rollback("lstm-SPX")
    with pytest.raises(NeuralError, match="has no version 9; versions: 1, 2, 3"):
        reg.promote("lstm-SPX", 9)


def test_corrupt_or_missing_weights_and_unknown_names_are_clear_errors(
    service: NeuralService, trained: ModelRecord
) -> None:
    path = service.settings.models_dir / trained.artifact
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(NeuralError, match="is corrupt: its sha256"):
        service.predict("lstm-SPX")
    path.unlink()
    with pytest.raises(NeuralError, match="is missing"):
        service.predict("lstm-SPX")
    with pytest.raises(NeuralError, match="no model named 'gru-SPX'; registered: lstm-SPX"):
        service.predict("gru-SPX")
    with pytest.raises(NeuralError, match="unknown model 'gru'"):
        TrainSpec("gru")
    with pytest.raises(NeuralError, match="alpha must be strictly between"):
        spec(alpha=1.5)


def test_background_job_reports_progress_and_can_be_cancelled(service: NeuralService) -> None:
    job = service.submit(spec(epochs=1))
    done = service.wait(job.id, timeout=120)
    assert done.status == "succeeded" and done.progress == 1.0
    assert done.result == {"name": "lstm-SPX", "version": 1}
    assert done.started_at is not None and done.finished_at is not None
    slow = service.submit(spec(epochs=500, patience=500))
    service.cancel(slow.id)
    ended = service.wait(slow.id, timeout=120)
    assert ended.status == "cancelled" and "cancelled" in ended.message
    assert [m.version for m in service.registry.list_models("lstm-SPX")] == [1]


def test_gan_trains_registers_and_samples_reproducibly(service: NeuralService) -> None:
    gan = {"window": 16, "stride": 16, "hidden": 8, "critic_hidden": 8, "dilations": [1, 2]}
    record = service.train(TrainSpec("gan", "SPX", epochs=1, start="2005", end="2012", hparams=gan))
    assert record.name == "gan-SPX" and "stylized_facts" in record.metrics
    a = service.sample_paths("gan-SPX", 5, 40, seed=3)
    b = service.sample_paths("gan-SPX", 5, 40, seed=3)
    assert a.shape == (5, 40) and np.array_equal(a, b) and np.all(np.isfinite(a))
    with pytest.raises(NeuralError, match="is a GAN"):
        service.predict("gan-SPX")


def test_forecast_from_a_strategys_recent_bars_equals_the_catalog_forecast(
    service: NeuralService, trained: ModelRecord
) -> None:
    bars = load_bars("SPX", end="2014-03-03")
    from_catalog = service.predict("lstm-SPX", as_of="2014-03-03")
    need = trained.hparams["window"] + 20  # window rows after a 20-bar volatility warm-up
    recent = bars.slice_time(int(bars.ts[-need]), None)
    assert len(recent) == need
    from_bars = service.predict_bars("lstm-SPX", recent)
    assert from_bars.quantiles == from_catalog.quantiles
    assert from_bars.as_of == int(bars.ts[-1])
    # A longer history gives the same forecast: only the last window matters.
    assert service.predict_bars("lstm-SPX", bars).quantiles == from_catalog.quantiles
    short = bars.slice_time(int(bars.ts[-need + 1]), None)
    with pytest.raises(NeuralError, match=f"needs {need} bars of SPX for one forecast, got"):
        service.predict_bars("lstm-SPX", short)


def test_a_promotion_through_the_service_is_served_at_once(service: NeuralService) -> None:
    service.train(spec(epochs=1))
    service.train(spec(epochs=1, seed=1))
    assert service.predict("lstm-SPX").version == 2  # newest staging
    service.promote("lstm-SPX", 1)
    assert service.predict("lstm-SPX").version == 1
    service.promote("lstm-SPX", 2)
    assert service.predict("lstm-SPX").version == 2
    assert service.rollback("lstm-SPX").version == 1
    assert service.predict("lstm-SPX").version == 1
