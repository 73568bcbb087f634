"""Models over the API: training as a job (202, progress on the ``jobs`` channel, the version
registered in staging, the same version the registry holds), bounded and validated before
anything is queued, a failed run visible in its job; the versions of a name; promotion and
rollback for ``models:admin`` only, with forecasts served from the production version.

Training runs a couple of epochs on two years of SPX, so the module stays quick."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apitest_support import FAST_HASHER, ROLES, Api, api_settings, login, make_users
from fastapi.testclient import TestClient

from neural_trader.api import ApiOptions, create_app
from neural_trader.storage.registry import RegistryStore

SMALL = {"architecture": "lstm", "symbol": "SPX", "epochs": 2, "window": 10,
         "horizons": [1], "start": "2010-01-01", "end": "2011-12-31"}  # fmt: skip
NAME = "lstm-SPX"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Api]:
    url = f"sqlite:///{tmp_path_factory.mktemp('mdl') / 'nt.db'}"
    make_users(url)
    settings = api_settings(url, **{"neural.models_dir": str(models_dir)})
    options = ApiOptions.from_settings(settings, trading=False, ws_heartbeat_seconds=0.5)
    app = create_app(settings, options, hasher=FAST_HASHER)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, url, {r: login(client, r) for r in ROLES})


def registry(api: Api) -> RegistryStore:
    """The server's own registry, to check what a job registered."""
    return RegistryStore(api.client.app.state.ctx.trader.store)  # type: ignore[attr-defined]


def train(api: Api, **changes: Any) -> dict[str, Any]:
    r = api.client.post(
        "/api/v1/models/train", json={**SMALL, **changes}, headers=api.headers("trader")
    )
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/api/v1/models/jobs/{r.json()['id']}"
    return dict(r.json())


def finished(api: Api, job_id: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = api.client.get(f"/api/v1/models/jobs/{job_id}", headers=api.headers("viewer"))
        assert job.status_code == 200, job.text
        if job.json()["status"] in ("succeeded", "failed", "cancelled"):
            return dict(job.json())
        time.sleep(0.05)
    raise AssertionError(f"training job {job_id} did not finish")


def events_until(ws: Any, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not done(events):
        assert time.monotonic() < deadline, events
        msg = ws.receive_json()  # heartbeats every half second keep this from blocking long
        if msg["type"] == "event":
            events.append(msg["data"])
    return events


def test_training_is_a_job_with_progress_on_the_jobs_channel(api: Api) -> None:
    with api.client.websocket_connect(f"/ws?token={api.tokens['viewer']}") as ws:
        assert ws.receive_json()["type"] == "welcome"
        ws.send_json({"op": "subscribe", "channels": ["jobs"]})
        assert ws.receive_json()["type"] == "subscribed"
        job = train(api)
        assert job["kind"] == "train" and job["status"] == "queued"
        assert job["params"]["submitted_by"] == "trader-user"
        got = events_until(ws, lambda ev: any(e["id"] == job["id"] and e["status"] in
                                              ("succeeded", "failed") for e in ev))  # fmt: skip
    mine = [e for e in got if e["id"] == job["id"]]
    assert [e["status"] for e in mine][:2] == ["queued", "running"]
    assert mine[-1]["status"] == "succeeded", mine[-1]
    epochs = [e for e in mine if e["message"].startswith("epoch ")]
    assert epochs and epochs[0]["message"].startswith("epoch 1/2: train_loss ")
    assert [e["progress"] for e in epochs] == sorted(e["progress"] for e in epochs)
    done = finished(api, job["id"])
    assert done["progress"] == 1.0 and "version 1" in done["message"]
    stored = registry(api).get_model(NAME, 1)
    assert stored.stage == "staging" and stored.hparams["window"] == 10


def test_versions_promote_and_rollback(api: Api, models_dir: Path) -> None:
    if not registry(api).list_models(NAME):
        assert finished(api, train(api)["id"])["status"] == "succeeded"
    second = finished(api, train(api, seed=1)["id"])
    assert second["status"] == "succeeded", second
    version = second["message"].split("version ")[1].split()[0]
    listed = api.client.get(f"/api/v1/models/{NAME}", headers=api.headers("viewer")).json()
    assert listed["production"] is None
    assert [v["version"] for v in listed["versions"]] == [1, int(version)]
    assert {v["stage"] for v in listed["versions"]} == {"staging"}
    assert (models_dir / NAME).is_dir()

    admin = api.headers("admin")
    refused = api.client.post(f"/api/v1/models/{NAME}/promote", json={"version": 1},
                              headers=api.headers("trader"))  # fmt: skip
    assert refused.status_code == 403 and refused.json()["required"] == ["models:admin"]
    one = api.client.post(f"/api/v1/models/{NAME}/promote", json={"version": 1}, headers=admin)
    assert one.status_code == 200 and one.json()["stage"] == "production"
    two = api.client.post(f"/api/v1/models/{NAME}/promote", json={"version": 2}, headers=admin)
    assert two.json()["stage"] == "production"
    listed = api.client.get(f"/api/v1/models/{NAME}", headers=admin).json()
    stages = {v["version"]: v["stage"] for v in listed["versions"]}
    assert stages == {1: "archived", 2: "production"}

    forecast = api.client.post(f"/api/v1/models/{NAME}/predict", json={},
                               headers=api.headers("trader"))  # fmt: skip
    assert forecast.status_code == 200, forecast.text
    assert forecast.json()["version"] == 2

    back = api.client.post(f"/api/v1/models/{NAME}/rollback", headers=admin)
    assert back.status_code == 200 and back.json()["version"] == 1
    assert api.client.get(f"/api/v1/models/{NAME}", headers=admin).json()["production"] == 1
    again = api.client.post(f"/api/v1/models/{NAME}/rollback", headers=admin)
    assert again.status_code == 409 and "no earlier archived version" in again.json()["detail"]

    missing = api.client.post(f"/api/v1/models/{NAME}/promote", json={"version": 99},
                              headers=admin)  # fmt: skip
    assert missing.status_code == 404 and "no version 99" in missing.json()["detail"]
    audit = api.client.get("/api/v1/audit?limit=1000", headers=admin).json()["entries"]
    promoted = [e["detail"] for e in audit if e["action"] == "POST /api/v1/models/{name}/promote"
                and e["result"] == "ok"]  # fmt: skip
    assert promoted[-1]["model"] == NAME and promoted[-1]["version"] == 2


@pytest.mark.parametrize(
    ("changes", "kind", "named"),
    [
        ({"epochs": 201}, "validation", "epochs"),
        ({"epochs": 0}, "validation", "epochs"),
        ({"architecture": "gru"}, "validation", "architecture"),
        ({"hparams": {"hidden_size": 8}}, "validation", "hparams"),
        ({"horizons": [1, 1]}, "validation", "distinct"),
        ({"symbol": "NOSUCH"}, "data", "NOSUCH"),
        ({"start": "2012-01-01", "end": "2011-01-01"}, "data", "start"),
    ],
)
def test_bad_training_requests_are_refused_before_anything_is_queued(
    api: Api, changes: dict[str, Any], kind: str, named: str
) -> None:
    before = len(registry(api).list_models())
    r = api.client.post(
        "/api/v1/models/train", json={**SMALL, **changes}, headers=api.headers("trader")
    )
    assert r.status_code == 422, r.text
    assert r.json()["type"] == f"/problems/{kind}" and named in r.text
    assert len(registry(api).list_models()) == before


def test_a_run_that_cannot_train_fails_visibly_in_its_job(api: Api) -> None:
    job = train(api, start="2011-01-03", end="2011-01-20", window=30)
    done = finished(api, job["id"])
    assert done["status"] == "failed"
    assert "internal error" not in done["error"] and done["error"]


def test_unknown_names_and_jobs_are_404(api: Api) -> None:
    h = api.headers("admin")
    assert api.client.get("/api/v1/models/transformer-XOM", headers=h).status_code == 404
    assert api.client.post("/api/v1/models/transformer-XOM/rollback", headers=h).status_code == 404
    assert api.client.get("/api/v1/models/jobs/nope", headers=h).status_code == 404
    backtest = api.client.post("/api/v1/backtests", json={"strategy": "sma_cross",
                               "start": "2019-01-01"}, headers=api.headers("trader"))  # fmt: skip
    assert backtest.status_code == 202  # a backtest job is not a training job
    assert api.client.get(f"/api/v1/models/jobs/{backtest.json()['id']}",
                          headers=h).status_code == 404  # fmt: skip


def test_jobs_are_cancelled_queued_at_once_and_a_training_at_its_next_batch(api: Api) -> None:
    before = len(registry(api).list_models(NAME))
    long = train(api, epochs=200, start="2005-01-01", end="2015-12-31")
    queued = train(api)  # one worker: it waits behind the long run
    backtest = api.client.post("/api/v1/backtests", json={"strategy": "sma_cross",
                               "start": "2019-01-01"}, headers=api.headers("trader"))  # fmt: skip
    assert backtest.status_code == 202
    h = api.headers("trader")
    for path in (
        f"/api/v1/models/jobs/{queued['id']}",
        f"/api/v1/backtests/{backtest.json()['id']}",
    ):
        assert api.client.delete(path, headers=api.headers("viewer")).status_code == 403
        r = api.client.delete(path, headers=h)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "cancelled" and r.json()["started_at"] is None
        assert r.json()["message"] == "cancelled by trader-user"
    deadline = time.monotonic() + 60
    while (
        api.client.get(f"/api/v1/models/jobs/{long['id']}", headers=h).json()["status"] != "running"
    ):
        assert time.monotonic() < deadline, "the long run never started"
        time.sleep(0.05)
    r = api.client.delete(f"/api/v1/models/jobs/{long['id']}", headers=h)
    assert r.status_code == 202, r.text
    done = finished(api, long["id"])
    assert done["status"] == "cancelled" and done["progress"] < 1
    again = api.client.delete(f"/api/v1/models/jobs/{long['id']}", headers=h)
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    assert finished(api, queued["id"])["status"] == "cancelled"  # it never ran
    assert len(registry(api).list_models(NAME)) == before  # nothing was registered
