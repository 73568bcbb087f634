"""A stateful stand-in for Alpaca's paper API behind ``responses``: it keeps orders, fills and
positions the way Alpaca documents them (unique client order ids, 404 for unknown ids, fill
activities with the venue order id) and can be told to fail at the transport: drop a request
before it is processed, or process it and then lose the reply (a timeout), or answer 5xx.

The pool's fault tests drive the real AlpacaBroker and the real alpaca-py client against it,
so what is tested is our code end to end with only the network replaced."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
import responses
from requests import PreparedRequest

API = "https://paper-api.alpaca.markets/v2"
Reply = tuple[int, dict[str, str], str]


def _now_iso() -> str:
    ns = time.time_ns()
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9 // 1000:06d}Z"
    )


@dataclass
class Fault:
    method: str
    path: str
    kind: str  # "drop" | "lose_reply" | "5xx"
    count: int = 1


@dataclass
class FakeAlpaca:
    cash: Decimal = Decimal(100_000)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by venue id
    activities: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, Decimal] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    posts: int = 0  # order submissions that reached the venue
    hits: dict[str, int] = field(default_factory=dict)
    # Called before the open-orders list is served (to make something happen "meanwhile").
    before_list: Callable[[], None] | None = None

    # -- test controls ----------------------------------------------------------------------
    def fail(self, method: str, path: str, kind: str, count: int = 1) -> None:
        self.faults.append(Fault(method, path, kind, count))

    def by_cid(self, cid: str) -> dict[str, Any] | None:
        return next((o for o in self.orders.values() if o["client_order_id"] == cid), None)

    def fill(self, cid: str, qty: str, price: str) -> None:
        """The exchange executes ``qty`` of our order (as if while we were not looking)."""
        order = self.by_cid(cid)
        assert order is not None, cid
        q = Decimal(qty)
        cum = Decimal(order["filled_qty"]) + q
        prev = Decimal(order["filled_avg_price"] or 0) * Decimal(order["filled_qty"])
        order["filled_qty"] = str(cum)
        order["filled_avg_price"] = str((prev + q * Decimal(price)) / cum)
        done = cum == Decimal(order["qty"])
        order["status"] = "filled" if done else "partially_filled"
        order["updated_at"] = _now_iso()
        sign = 1 if order["side"] == "buy" else -1
        self.positions[order["symbol"]] = self.positions.get(order["symbol"], Decimal(0)) + sign * q
        self.cash -= sign * q * Decimal(price)
        self.activities.append(
            {
                "id": f"{time.strftime('%Y%m%d%H%M%S')}000::{uuid.uuid4()}",
                "activity_type": "FILL",
                "transaction_time": _now_iso(),
                "type": "fill" if done else "partial_fill",
                "price": price,
                "qty": qty,
                "side": order["side"],
                "symbol": order["symbol"],
                "leaves_qty": str(Decimal(order["qty"]) - cum),
                "order_id": order["id"],
                "cum_qty": str(cum),
                "order_status": order["status"],
            }
        )

    def set_status(self, cid: str, status: str) -> None:
        order = self.by_cid(cid)
        assert order is not None, cid
        order["status"] = status
        order["updated_at"] = _now_iso()

    # -- the API ----------------------------------------------------------------------------
    def install(self, http: responses.RequestsMock) -> None:
        routes: list[tuple[str, str, Callable[[PreparedRequest, re.Match[str]], Reply]]] = [
            ("GET", r"/account$", self._account),
            ("GET", r"/clock$", self._clock),
            ("GET", r"/positions$", self._positions),
            ("POST", r"/orders$", self._submit),
            ("GET", r"/orders:by_client_order_id$", self._get_by_cid),
            ("GET", r"/orders$", self._list),
            ("DELETE", r"/orders/(?P<id>[0-9a-f-]+)$", self._cancel),
            ("GET", r"/account/activities/FILL$", self._fills),
        ]
        for method, pattern, handler in routes:
            regex = re.compile(re.escape(API) + pattern.replace("$", r"(\?.*)?$"))
            http.add_callback(method, regex, callback=self._wrap(method, pattern, handler))

    def _wrap(
        self, method: str, pattern: str, handler: Callable[[PreparedRequest, re.Match[str]], Reply]
    ) -> Callable[[PreparedRequest], Reply]:
        inner = re.compile(re.escape(API) + pattern.replace("$", r"(\?.*)?$"))

        def callback(request: PreparedRequest) -> Reply:
            path = urlparse(str(request.url)).path.removeprefix("/v2")
            self.hits[f"{method} {path}"] = self.hits.get(f"{method} {path}", 0) + 1
            fault = next(
                (f for f in self.faults if f.method == method and path.startswith(f.path)), None
            )
            if fault is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                if fault.kind == "drop":
                    raise requests.exceptions.ConnectionError("connection reset by peer")
                if fault.kind == "5xx":
                    return 503, {}, json.dumps({"message": "service unavailable"})
            match = inner.match(str(request.url))
            assert match is not None
            reply = handler(request, match)
            if fault is not None and fault.kind == "lose_reply":
                raise requests.exceptions.ReadTimeout("read timed out")
            return reply

        return callback

    @staticmethod
    def _json(status: int, body: Any) -> Reply:
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def _account(self, request: PreparedRequest, match: re.Match[str]) -> Reply:
        return self._json(
            200,
            {
                "currency": "USD",
                "cash": str(self.cash),
                "buying_power": str(self.cash * 2),
                "equity": str(self.cash),
                "status": "ACTIVE",
            },
        )

    def _clock(self, request: PreparedRequest, match: re.Match[str]) -> Reply:
        return self._json(200, {"timestamp": _now_iso(), "is_open": True})

    def _positions(self, request: PreparedRequest, match: re.Match[str]) -> Reply:
        rows = [
            {
                "symbol": s,
                "qty": str(abs(q)),
                "side": "long" if q > 0 else "short",
                "asset_class": "us_equity",
                "avg_entry_price": "0",
            }
            for s, q in self.positions.items()
            if q
        ]
        return self._json(200, rows)

    def _submit(self, request: PreparedRequest, match: re.Match[str]) -> Reply:
        raw = request.body
        body = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw or "{}"))
        cid = body["client_order_id"]
        if self.by_cid(cid) is not None:
            return self._json(422, {"code": 40010001, "message": "client_order_id must be unique"})
        price = Decimal(str(body.get("limit_price") or 150))
        if Decimal(str(body["qty"])) * price > self.cash * 2:
            return self._json(403, {"code": 40310000, "message": "insufficient buying power"})
        self.posts += 1
        now = _now_iso()
        order = {
            "id": str(uuid.uuid4()),
            "client_order_id": cid,
            "symbol": body["symbol"],
            "asset_class": "us_equity",
            "qty": str(Decimal(str(body["qty"])).normalize()),
            "filled_qty": "0",
            "filled_avg_price": None,
            "type": body["type"],
            "order_type": body["type"],
            "side": body["side"],
            "time_in_force": body["time_in_force"],
            "limit_price": None if "limit_price" not in body else str(body["limit_price"]),
            "stop_price": None if "stop_price" not in body else str(body["stop_price"]),
            "status": "new",
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
        }
        self.orders[order["id"]] = order
        return self._json(200, order)

    def _get_by_cid(self, request: PreparedRequest, match: re.Match[str]) -> Reply:
        cid = parse_qs(urlparse(str(request.url)).query)["client_order_id"][0]
        order = self.by_cid(cid)
        if order is None:
            return self._json(404, {"code": 40410000, "message": "order not found"})
        return self._json(200, order)

    def _list(self, request: PreparedRequest, match: re.Match[str]) -> Reply:
        if self.before_list is not None:
            self.before_list()
        open_states = {"new", "partially_filled", "accepted", "pending_new", "pending_split"}
        return self._json(200, [o for o in self.orders.values() if o["status"] in open_states])

    def _cancel(self, request: PreparedRequest, match: re.Match[str]) -> Reply:
        order = self.orders.get(match["id"])
        if order is None:
            return self._json(404, {"code": 40410000, "message": "order not found"})
        order["status"] = "canceled"
        order["updated_at"] = _now_iso()
        return 204, {}, ""

    def _fills(self, request: PreparedRequest, match: re.Match[str]) -> Reply:
        query = parse_qs(urlparse(str(request.url)).query)
        after = query["after"][0]
        rows = [a for a in self.activities if a["transaction_time"] >= after]
        if "page_token" in query:
            ids = [a["id"] for a in rows]
            rows = rows[ids.index(query["page_token"][0]) + 1 :]
        return self._json(200, rows[: int(query["page_size"][0])])
