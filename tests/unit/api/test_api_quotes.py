"""A session that replays ticks (its strategy quotes) shows them on ``quotes:SYMBOL``: each
quote as the kernel saw it, bid below ask, in time order."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from apitest_support import FAST_HASHER, api_settings, login, make_users
from fastapi.testclient import TestClient

from neural_trader.api import ApiOptions, create_app
from neural_trader.api.encoding import iso_ns
from neural_trader.core.market_data import QuoteTick


def test_quotes_of_a_tick_session_stream_per_symbol(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nt.db'}"
    make_users(url)
    settings = api_settings(url, **{"strategies.enabled": ["market_making"], "run.speed": 500})
    options = ApiOptions.from_settings(settings, trading=True)
    with TestClient(create_app(settings, options, hasher=FAST_HASHER)) as client:
        session = client.app.state.ctx.orders.session  # type: ignore[attr-defined]
        replayed = [e for t in session.ticks for e in t.events() if isinstance(e, QuoteTick)]
        token = login(client, "viewer")
        with client.websocket_connect(f"/ws?token={token}") as ws:
            assert "quotes:SPX" not in ws.receive_json()["channels"]  # per symbol, on request
            ws.send_json({"op": "subscribe", "channels": ["quotes:SPX", "quotes:NOPE"]})
            assert ws.receive_json()["type"] == "subscribed"
            assert ws.receive_json()["error"] == "unknown_channel"  # not replayed here
            quotes: list[dict[str, Any]] = []
            deadline = time.monotonic() + 20
            while len(quotes) < 20:
                assert time.monotonic() < deadline, quotes
                message = ws.receive_json()
                if message["type"] == "event":
                    assert message["channel"] == "quotes:SPX"
                    quotes.append(message["data"])
    assert all(q["symbol"] == "SPX" and 0 < q["bid"] < q["ask"] for q in quotes)
    # The quotes the session replays, in its order, from the first one this client saw.
    fields = ("bid", "ask", "bid_size", "ask_size")
    sent = [(q["time"], *(q[f] for f in fields)) for q in quotes]
    stream = [(iso_ns(e.ts), *(getattr(e, f) for f in fields)) for e in replayed]
    starts = [i for i, quote in enumerate(stream) if quote == sent[0]]  # a bar's quotes repeat
    assert any(stream[i : i + len(sent)] == sent for i in starts)
