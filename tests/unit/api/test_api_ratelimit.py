"""Rate limits on the real app with its clock frozen: each user, each API key and (on the
token endpoint) each client address gets ``burst`` requests, the next is a 429 problem with
``Retry-After``, time refills the bucket at ``rate``, and every refusal is counted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from apitest_support import FAST_HASHER, PASSWORDS, api_settings, make_users
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from neural_trader.api import create_app
from neural_trader.api.ratelimit import RateLimiter, retry_after
from neural_trader.config import load_settings
from neural_trader.errors import ConfigError
from neural_trader.security import Accounts
from neural_trader.storage import Store

RATE, BURST = 0.5, 3


@dataclass
class FrozenClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Limited:
    client: TestClient
    url: str
    clock: FrozenClock


@pytest.fixture
def lim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    url = f"sqlite:///{tmp_path_factory.mktemp('rate') / 'nt.db'}"
    make_users(url)
    settings = api_settings(
        url, **{"api.trading": False, "api.rate_limit_per_s": RATE, "api.rate_limit_burst": BURST}
    )
    app = create_app(settings, hasher=FAST_HASHER)
    clock = FrozenClock()
    app.state.rate_limiter.clock = clock
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Limited(client, url, clock)


def token_for(lim: Limited, role: str) -> dict[str, str]:
    form = {"grant_type": "password", "username": f"{role}-user", "password": PASSWORDS[role]}
    r = lim.client.post("/api/v1/auth/token", data=form)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def statuses(lim: Limited, n: int, headers: dict[str, str]) -> list[int]:
    return [lim.client.get("/api/v1/orders", headers=headers).status_code for _ in range(n)]


def refused(lim: Limited) -> dict[str, float]:
    text = lim.client.get("/metrics").text
    family = next(f for f in text_string_to_metric_families(text) if f.name == "nt_rate_limited")
    return {s.labels["kind"]: s.value for s in family.samples if s.name.endswith("_total")}


def test_a_user_gets_burst_requests_then_429_until_the_bucket_refills(lim: Limited) -> None:
    trader, viewer = token_for(lim, "trader"), token_for(lim, "viewer")
    assert statuses(lim, BURST, trader) == [200] * BURST
    r = lim.client.get("/api/v1/orders", headers=trader)
    assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/problems/rate-limited" and body["status"] == 429
    assert "trader-user" in body["detail"] and body["request_id"] == r.headers["x-request-id"]
    assert r.headers["retry-after"] == "2"  # one token at 0.5 per second
    assert statuses(lim, 1, viewer) == [200]  # another user's bucket is untouched
    lim.clock.now += 1.0  # half a token back: still refused, a second to go
    r = lim.client.get("/api/v1/orders", headers=trader)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    lim.clock.now += 1.0
    assert statuses(lim, 2, trader) == [200, 429]
    lim.clock.now += 3600  # a long pause refills to the burst, never past it
    assert statuses(lim, BURST + 1, trader) == [200] * BURST + [429]
    assert refused(lim) == {"user": 4.0}


def test_a_key_has_its_own_bucket_and_a_second_token_shares_the_user_s(lim: Limited) -> None:
    first, second = token_for(lim, "trader"), token_for(lim, "trader")
    store = Store(lim.url)
    key = Accounts(store).create_key("trader-user", "bot").token
    store.close()
    assert statuses(lim, 2, first) + statuses(lim, 1, second) == [200] * BURST
    assert statuses(lim, 1, first) + statuses(lim, 1, second) == [429, 429]
    assert statuses(lim, BURST + 1, {"X-API-Key": key}) == [200] * BURST + [429]
    assert refused(lim) == {"user": 2.0, "api_key": 1.0}


def test_the_token_endpoint_is_limited_per_client_address(lim: Limited) -> None:
    wrong = {"grant_type": "password", "username": "admin-user", "password": "guess guess"}
    got = [lim.client.post("/api/v1/auth/token", data=wrong) for _ in range(BURST + 1)]
    assert [r.status_code for r in got] == [400] * BURST + [429]
    assert got[-1].json()["type"] == "/problems/rate-limited"
    assert got[-1].headers["retry-after"] == "2"
    assert lim.client.get("/health/live").status_code == 200  # probes are never limited
    lim.clock.now += 2.0
    assert token_for(lim, "admin")  # a refilled token lets the right password in
    assert refused(lim) == {"address": 1.0}


def test_the_limiter_alone() -> None:
    clock = FrozenClock()
    off = RateLimiter(0, 0, clock)
    assert not off.enabled and all(off.take("k") == 0.0 for _ in range(1000))
    default_burst = RateLimiter(2.5, 0, clock)
    assert default_burst.burst == 3
    tiny = RateLimiter(4, 1, clock, max_buckets=2)
    assert tiny.take("a") == 0.0 and tiny.take("a") == pytest.approx(0.25)
    assert tiny.take("b") == 0.0 and tiny.take("c") == 0.0  # "a", least recent, is forgotten
    assert tiny.take("a") == 0.0
    assert retry_after(0.01) == "1" and retry_after(2.0) == "2" and retry_after(2.1) == "3"
    with pytest.raises(ValueError, match="must not be negative"):
        RateLimiter(-1, 0, clock)


@pytest.mark.parametrize(
    ("key", "value"), [("api.rate_limit_per_s", -1), ("api.rate_limit_burst", -2),
                       ("api.rate_limit_per_s", "inf")],
)  # fmt: skip
def test_bad_rate_limit_settings_are_config_errors(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(None, {key: value}, env={})
