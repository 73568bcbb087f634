"""While the server trades, ``/api/v1/portfolio`` answers from the session's book (no query
on the event loop); checked against the book of record read back from the database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apitest_support import Api


def _numbers(book: dict[str, Any]) -> dict[str, Any]:
    return {
        "cash": Decimal(book["cash"]),
        "commissions": Decimal(book["commissions"]),
        "starting_cash": Decimal(book["starting_cash"]),
        "positions": {
            p["symbol"]: (
                Decimal(p["quantity"]),
                Decimal(p["avg_price"]),
                Decimal(p["realized_pnl"]),
            )
            for p in book["positions"]
        },
        "open_orders": sorted(book["open_orders"]),
    }


def test_the_live_book_is_the_stored_book(api: Api) -> None:
    trader = api.headers("trader")
    placed = [
        api.client.post("/api/v1/orders", json=body, headers=trader).json()["id"]
        for body in (
            {"symbol": "SPX", "side": "buy", "quantity": "4"},
            {"symbol": "SPX", "side": "sell", "quantity": "1"},
            {"symbol": "SPX", "side": "buy", "quantity": "2", "type": "limit", "limit_price": "1"},
        )
    ]
    api.wait_order(placed[0], "filled")
    api.wait_order(placed[1], "filled")
    live = api.client.get("/api/v1/portfolio", headers=api.headers("viewer")).json()
    ctx = api.client.app.state.ctx  # type: ignore[attr-defined]
    stored = ctx.trader.get_portfolio(ctx.account)
    assert _numbers(live) == _numbers(stored)
    assert placed[2] in live["open_orders"] and live["positions"]
    api.client.delete(f"/api/v1/orders/{placed[2]}", headers=trader)
