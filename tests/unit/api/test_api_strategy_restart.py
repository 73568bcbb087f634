"""What operators do to the session's strategies over the API outlives a server restart:
the same database served again runs each strategy as it was left (stopped, paused,
reconfigured, added), and a change that no longer applies is skipped, not fatal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from apitest_support import FAST_HASHER, ROLES, Api, api_settings, login, make_users
from fastapi.testclient import TestClient

from neural_trader.api import ApiOptions, create_app

BASE = "/api/v1/strategies"
CONFIGURED = ["sma_cross", "momentum", "mean_reversion"]


@contextmanager
def serve(url: str, enabled: list[str]) -> Iterator[Api]:
    settings = api_settings(url, **{"strategies.enabled": enabled})
    options = ApiOptions.from_settings(settings, trading=True)
    with TestClient(create_app(settings, options, hasher=FAST_HASHER)) as client:
        yield Api(client, url, {r: login(client, r) for r in ROLES})


def running(api: Api) -> dict[str, dict[str, Any]]:
    r = api.client.get(f"{BASE}/running", headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    return {s["id"]: s for s in r.json()["strategies"]}


def post(api: Api, path: str, body: dict[str, Any] | None = None) -> None:
    r = api.client.post(f"{BASE}/{path}", json=body, headers=api.headers("trader"))
    assert r.status_code in (200, 201), r.text


def test_strategy_changes_are_made_again_after_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nt.db'}"
    make_users(url)
    with serve(url, CONFIGURED) as api:
        post(api, "momentum/stop")  # frees its third of the account
        post(api, "sma_cross/execute",
             {"id": "sma_quick", "params": {"fast": 2, "slow": 4}, "allocation": 0.25})  # fmt: skip
        r = api.client.put(f"{BASE}/sma_cross/params", json={"params": {"fast": 5}},
                           headers=api.headers("trader"))  # fmt: skip
        assert r.status_code == 200, r.text
        post(api, "mean_reversion/pause")
        post(api, "sma_quick/pause")
        post(api, "sma_quick/start")
        before = running(api)

    with serve(url, CONFIGURED) as api:
        after = running(api)
        keep = ("strategy", "status", "gate", "allocation", "params")
        assert {k: {f: v[f] for f in keep} for k, v in after.items()} == {
            k: {f: v[f] for f in keep} for k, v in before.items()
        }
        assert after["momentum"]["status"] == "stopped"
        assert (after["mean_reversion"]["status"], after["mean_reversion"]["gate"]) == (
            "paused", "halted"
        )  # fmt: skip
        assert after["sma_cross"]["params"] == {"fast": 5, "slow": 30}
        assert after["sma_quick"]["strategy"] == "sma_cross"
        assert (after["sma_quick"]["status"], after["sma_quick"]["allocation"]) == ("running", 0.25)
        state = api.client.get("/api/v1/risk/trading-state", headers=api.headers("viewer"))
        assert state.json()["strategies"]["mean_reversion"] == "halted"

    # mean_reversion has left the configuration: its pause no longer applies and is skipped.
    with serve(url, ["sma_cross", "momentum"]) as api:
        after = running(api)
        assert set(after) == {"sma_cross", "momentum", "sma_quick"}
        assert after["momentum"]["status"] == "stopped"
        assert after["sma_cross"]["params"] == {"fast": 5, "slow": 30}
