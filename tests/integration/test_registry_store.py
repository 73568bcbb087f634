"""The registry's rows and stage rules on both backends (SQLite and the real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neural_trader.errors import NeuralError
from neural_trader.storage import Store
from neural_trader.storage.registry import RegistryStore


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryStore]:
    url = (
        f"sqlite:///{tmp_path / 'nt.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    store = Store(url)
    yield RegistryStore(store)
    store.close()


def add(reg: RegistryStore, name: str = "lstm-SPX", version: int | None = None) -> int:
    return reg.add_model(
        name=name, architecture="lstm", symbol="SPX", hparams={"window": 30},
        training={"history": [1.5, 1.2]}, metrics={"test_rmse": [0.01]},
        data_fingerprint="ab" * 32, artifact=f"{name}/v.safetensors", artifact_sha256="cd" * 32,
        version=version,
    ).version  # fmt: skip


def test_versions_stages_and_json_round_trip(registry: RegistryStore) -> None:
    assert [add(registry) for _ in range(3)] == [1, 2, 3]
    assert add(registry, "gan-SPX") == 1
    m = registry.get_model("lstm-SPX", 2)
    assert m.hparams == {"window": 30} and m.training["history"] == [1.5, 1.2]
    assert m.stage == "staging" and registry.get_model("lstm-SPX").version == 3
    registry.promote("lstm-SPX", 2)
    registry.promote("lstm-SPX", 3)
    assert registry.rollback("lstm-SPX").version == 2
    assert {x.version: x.stage for x in registry.list_models("lstm-SPX")} == {
        1: "staging", 2: "production", 3: "archived",
    }  # fmt: skip
    with pytest.raises(NeuralError, match="version 2 already exists"):
        add(registry, version=2)
    registry.archive("gan-SPX", 1)
    with pytest.raises(NeuralError, match="only archived versions"):
        registry.get_model("gan-SPX")


def test_jobs_record_progress_and_outcome(registry: RegistryStore) -> None:
    job = registry.create_job("train", {"architecture": "lstm"})
    assert job.status == "queued" and not job.finished
    registry.update_job(job.id, status="running", progress=0.5, message="epoch 1/2")
    done = registry.update_job(job.id, status="succeeded", progress=1.0, result={"version": 4})
    assert done.finished and done.result == {"version": 4} and done.started_at is not None
    assert registry.get_job(job.id).progress == 1.0
    assert [j.id for j in registry.list_jobs()] == [job.id]
    with pytest.raises(NeuralError, match="no job 'nope'"):
        registry.get_job("nope")
