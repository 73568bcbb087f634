"""Stateful stand-ins for Binance's, Coinbase's and Kraken's spot REST APIs behind
``responses``: each keeps orders, trades and balances and answers in the venue's documented
format (the same shapes as payloads/<venue>), so the real adapters and the real ccxt client can
be driven through BrokerPool end to end. Only what the pool uses is served; ``fill`` is the
exchange executing part of an order while nobody is looking."""

from __future__ import annotations

import json
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import responses
from requests import PreparedRequest

PAYLOADS = Path(__file__).parent / "payloads"
Reply = tuple[int, dict[str, str], str]
Handler = Callable[[dict[str, str], re.Match[str]], Reply]


def _json(body: Any, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def _payload(venue: str, name: str) -> Any:
    return json.loads((PAYLOADS / venue / name).read_text())


def _params(request: PreparedRequest) -> dict[str, str]:
    text = urlparse(str(request.url)).query
    raw = request.body
    body = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    if body and not body.startswith("{"):
        text = f"{text}&{body}"
    out = {k: v[0] for k, v in parse_qs(text).items()}
    if body.startswith("{"):
        out |= {k: json.dumps(v) if isinstance(v, dict | list) else str(v)
                for k, v in json.loads(body).items()}  # fmt: skip
    return out


@dataclass
class Placed:
    id: str
    cid: str
    side: str
    qty: Decimal
    price: Decimal | None
    filled: Decimal = Decimal(0)
    status: str = "open"  # open | filled | canceled
    ts_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)


@dataclass
class Trade:
    id: str
    order: Placed
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts_ms: int


@dataclass
class FakeSpot(ABC):
    """The venue's book for one pair, ``base``/``quote``, and the account's balances."""

    base: str
    quote: str
    balances: dict[str, Decimal]
    orders: dict[str, Placed] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    posts: int = 0

    def by_cid(self, cid: str) -> Placed | None:
        return next((o for o in self.orders.values() if o.cid == cid), None)

    def fill(self, cid: str, qty: str, price: str, fee: str = "0") -> None:
        order = self.by_cid(cid)
        assert order is not None, cid
        q, p, f = Decimal(qty), Decimal(price), Decimal(fee)
        order.filled += q
        order.status = "filled" if order.filled == order.qty else "open"
        sign = 1 if order.side == "buy" else -1
        self.balances[self.base] = self.balances.get(self.base, Decimal(0)) + sign * q
        self.balances[self.quote] -= sign * q * p + f
        trade_id = str(len(self.trades) + 1000)
        self.trades.append(Trade(trade_id, order, q, p, f, time.time_ns() // 1_000_000))

    def place(self, cid: str, side: str, qty: str, price: str | None) -> Placed | None:
        """A new order, or None when the client id is known (the venue's duplicate rule)."""
        if self.by_cid(cid) is not None:
            return None
        self.posts += 1
        order = Placed(
            str(uuid.uuid4()), cid, side, Decimal(qty), None if price is None else Decimal(price)
        )
        self.orders[order.id] = order
        return order

    @abstractmethod
    def routes(self) -> dict[tuple[str, str], Handler]:
        """The venue's endpoints: (method, URL pattern) → handler."""

    def install(self, http: responses.RequestsMock, routes: dict[tuple[str, str], Handler]) -> None:
        for (method, pattern), handler in routes.items():
            regex = re.compile(pattern + r"(\?.*)?$")

            def callback(request: PreparedRequest, h: Handler = handler, r: Any = regex) -> Reply:
                match = r.match(str(request.url))
                assert match is not None
                return h(_params(request), match)

            http.add_callback(method, regex, callback=callback)


# -- Binance ----------------------------------------------------------------------------------
class FakeBinance(FakeSpot):
    API = "https://api.binance.com/api/v3"

    def __init__(self, balances: dict[str, Decimal]) -> None:
        super().__init__("BTC", "USDT", balances)

    def _order(self, o: Placed) -> dict[str, Any]:
        status = {"open": "PARTIALLY_FILLED" if o.filled else "NEW", "filled": "FILLED",
                  "canceled": "CANCELED"}[o.status]  # fmt: skip
        return {"symbol": "BTCUSDT", "orderId": int(o.id[:8], 16), "orderListId": -1,
                "clientOrderId": o.cid, "price": str(o.price or 0), "origQty": str(o.qty),
                "executedQty": str(o.filled), "cummulativeQuoteQty": "0", "status": status,
                "timeInForce": "GTC", "type": "LIMIT" if o.price else "MARKET",
                "side": o.side.upper(), "time": o.ts_ms, "updateTime": o.ts_ms,
                "workingTime": o.ts_ms}  # fmt: skip

    def _find(self, q: dict[str, str]) -> Placed | None:
        return self.by_cid(q.get("origClientOrderId", ""))

    def routes(self) -> dict[tuple[str, str], Handler]:
        a = re.escape(self.API)

        def account(q: dict[str, str], m: re.Match[str]) -> Reply:
            rows = [{"asset": k, "free": str(v), "locked": "0"} for k, v in self.balances.items()]
            return _json(_payload("binance", "account.json") | {"balances": rows})

        def create(q: dict[str, str], m: re.Match[str]) -> Reply:
            o = self.place(q["newClientOrderId"], q["side"].lower(), q["quantity"], q.get("price"))
            if o is None:
                return _json({"code": -2010, "msg": "Duplicate order sent."}, 400)
            return _json(self._order(o) | {"transactTime": o.ts_ms, "fills": []})

        def get(q: dict[str, str], m: re.Match[str]) -> Reply:
            o = self._find(q)
            if o is None:
                return _json({"code": -2013, "msg": "Order does not exist."}, 400)
            return _json(self._order(o))

        def cancel(q: dict[str, str], m: re.Match[str]) -> Reply:
            o = self._find(q)
            if o is None or o.status != "open":
                return _json({"code": -2011, "msg": "Unknown order sent."}, 400)
            o.status = "canceled"
            return _json(self._order(o))

        def open_orders(q: dict[str, str], m: re.Match[str]) -> Reply:
            return _json([self._order(o) for o in self.orders.values() if o.status == "open"])

        def my_trades(q: dict[str, str], m: re.Match[str]) -> Reply:
            since = int(q.get("startTime", 0))
            rows = [{"symbol": "BTCUSDT", "id": int(t.id), "orderId": int(t.order.id[:8], 16),
                     "orderListId": -1, "price": str(t.price), "qty": str(t.qty),
                     "quoteQty": str(t.qty * t.price), "commission": str(t.fee),
                     "commissionAsset": "USDT", "time": t.ts_ms, "isBuyer": t.order.side == "buy",
                     "isMaker": True, "isBestMatch": True}
                    for t in self.trades if t.ts_ms >= since]  # fmt: skip
            return _json(rows)

        return {
            ("GET", f"{a}/exchangeInfo"): lambda q, m: _json(
                _payload("binance", "exchange_info.json")
            ),
            ("GET", f"{a}/time"): lambda q, m: _json({"serverTime": time.time_ns() // 1_000_000}),
            ("GET", f"{a}/account"): account,
            ("POST", f"{a}/order"): create,
            ("GET", f"{a}/order"): get,
            ("DELETE", f"{a}/order"): cancel,
            ("GET", f"{a}/openOrders"): open_orders,
            ("GET", f"{a}/myTrades"): my_trades,
        }


# -- Coinbase ---------------------------------------------------------------------------------
def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class FakeCoinbase(FakeSpot):
    API = "https://api.coinbase.com/api/v3/brokerage"

    def __init__(self, balances: dict[str, Decimal]) -> None:
        super().__init__("BTC", "USD", balances)

    def _order(self, o: Placed) -> dict[str, Any]:
        status = {"open": "OPEN", "filled": "FILLED", "canceled": "CANCELLED"}[o.status]
        config = ({"limit_limit_gtc": {"base_size": str(o.qty), "limit_price": str(o.price)}}
                  if o.price else {"market_market_ioc": {"base_size": str(o.qty)}})  # fmt: skip
        template: dict[str, Any] = _payload("coinbase", "order.json")["order"]
        return template | {
            "order_id": o.id, "client_order_id": o.cid, "side": o.side.upper(), "status": status,
            "order_configuration": config, "filled_size": str(o.filled),
            "created_time": _iso(o.ts_ms), "order_type": "LIMIT" if o.price else "MARKET",
        }  # fmt: skip

    def routes(self) -> dict[tuple[str, str], Handler]:
        a = re.escape(self.API)

        def products(q: dict[str, str], m: re.Match[str]) -> Reply:
            if q.get("product_type") == "FUTURE":
                return _json({"products": [], "num_products": 0})
            return _json(_payload("coinbase", "products.json"))

        def accounts(q: dict[str, str], m: re.Match[str]) -> Reply:
            kind = {"USD": "ACCOUNT_TYPE_FIAT"}
            rows = [{"uuid": str(uuid.uuid5(uuid.NAMESPACE_OID, k)), "currency": k,
                     "available_balance": {"value": str(v), "currency": k},
                     "hold": {"value": "0", "currency": k},
                     "type": kind.get(k, "ACCOUNT_TYPE_CRYPTO"), "active": True, "ready": True}
                    for k, v in self.balances.items()]  # fmt: skip
            return _json({"accounts": rows, "has_next": False, "cursor": "", "size": len(rows)})

        def create(q: dict[str, str], m: re.Match[str]) -> Reply:
            config = json.loads(q["order_configuration"])
            spec = next(iter(config.values()))
            o = self.place(
                q["client_order_id"], q["side"].lower(), spec["base_size"], spec.get("limit_price")
            )
            o = o or self.by_cid(q["client_order_id"])  # a known client id returns its order
            assert o is not None
            return _json({"success": True, "success_response": {
                "order_id": o.id, "product_id": "BTC-USD", "side": o.side.upper(),
                "client_order_id": o.cid}, "order_configuration": config})  # fmt: skip

        def get(q: dict[str, str], m: re.Match[str]) -> Reply:
            o = self.orders.get(m["id"])
            if o is None:
                return _json(
                    {"error": "NOT_FOUND", "message": "order with this orderID was not found"}, 404
                )
            return _json({"order": self._order(o)})

        def batch(q: dict[str, str], m: re.Match[str]) -> Reply:
            wanted = q.get("order_status")
            rows = [self._order(o) for o in self.orders.values()
                    if wanted is None or (wanted == "OPEN" and o.status == "open")]  # fmt: skip
            return _json({"orders": rows, "has_next": False, "cursor": ""})

        def fills(q: dict[str, str], m: re.Match[str]) -> Reply:
            since = q.get("start_sequence_timestamp", "")
            rows = [_payload("coinbase", "fills.json")["fills"][0] | {
                "trade_id": t.id, "order_id": t.order.id, "trade_time": _iso(t.ts_ms),
                "sequence_timestamp": _iso(t.ts_ms), "price": str(t.price), "size": str(t.qty),
                "commission": str(t.fee), "side": t.order.side.upper()}
                for t in self.trades if _iso(t.ts_ms) >= since]  # fmt: skip
            return _json({"fills": rows, "cursor": ""})

        def cancel(q: dict[str, str], m: re.Match[str]) -> Reply:
            results = []
            for oid in json.loads(q["order_ids"]):
                o = self.orders.get(oid)
                ok = o is not None and o.status == "open"
                if ok and o is not None:
                    o.status = "canceled"
                reason = "UNKNOWN_CANCEL_FAILURE_REASON" if ok else "UNKNOWN_CANCEL_ORDER"
                results.append({"success": ok, "failure_reason": reason, "order_id": oid})
            return _json({"results": results})

        return {
            ("GET", f"{a}/market/products"): products,
            ("GET", f"{a}/transaction_summary"): lambda q, m: _json(
                _payload("coinbase", "transaction_summary.json")
            ),
            ("GET", f"{a}/time"): lambda q, m: _json(_payload("coinbase", "time.json")),
            ("GET", f"{a}/accounts"): accounts,
            ("POST", f"{a}/orders"): create,
            ("GET", f"{a}/orders/historical/batch"): batch,
            ("GET", f"{a}/orders/historical/fills"): fills,
            ("GET", f"{a}/orders/historical/(?P<id>[0-9a-f-]+)"): get,
            ("POST", f"{a}/orders/batch_cancel"): cancel,
        }


# -- Kraken -----------------------------------------------------------------------------------
class FakeKraken(FakeSpot):
    API = "https://api.kraken.com/0"
    CODES: ClassVar[dict[str, str]] = {"BTC": "XXBT", "USD": "ZUSD", "ETH": "XETH"}

    def __init__(self, balances: dict[str, Decimal]) -> None:
        super().__init__("BTC", "USD", balances)

    def _order(self, o: Placed) -> dict[str, Any]:
        status = {"open": "open", "filled": "closed", "canceled": "canceled"}[o.status]
        kind = "limit" if o.price else "market"
        at = f"@ limit {o.price}" if o.price else "@ market"
        return {"refid": None, "userref": 0, "cl_ord_id": o.cid, "status": status,
                "opentm": o.ts_ms / 1000, "starttm": 0, "expiretm": 0,
                "descr": {"pair": "XBTUSD", "type": o.side, "ordertype": kind,
                          "price": str(o.price or 0), "price2": "0", "leverage": "none",
                          "order": f"{o.side} {o.qty} XBTUSD {at}", "close": ""},
                "vol": str(o.qty), "vol_exec": str(o.filled), "cost": "0", "fee": "0",
                "price": str(o.price or 0), "stopprice": "0", "limitprice": "0", "misc": "",
                "oflags": "fciq"}  # fmt: skip

    def routes(self) -> dict[tuple[str, str], Handler]:
        a = re.escape(self.API)

        def balance(q: dict[str, str], m: re.Match[str]) -> Reply:
            rows = {
                self.CODES[k]: {"balance": str(v), "hold_trade": "0"}
                for k, v in self.balances.items()
            }
            return _json({"error": [], "result": rows})

        def add(q: dict[str, str], m: re.Match[str]) -> Reply:
            o = self.place(q["cl_ord_id"], q["type"], q["volume"], q.get("price"))
            assert o is not None, "the pool sent a known client id again"
            return _json({"error": [], "result": {"descr": {"order": "..."}, "txid": [o.id]}})

        def listing(state: str) -> Handler:
            def handler(q: dict[str, str], m: re.Match[str]) -> Reply:
                cid = q.get("cl_ord_id")
                wanted = [
                    o for o in self.orders.values() if (o.status == "open") == (state == "open")
                ]
                rows = {o.id: self._order(o) for o in wanted if cid in (None, o.cid)}
                return _json({"error": [], "result": {state: rows, "count": len(rows)}})

            return handler

        def trades(q: dict[str, str], m: re.Match[str]) -> Reply:
            since = float(q.get("start", 0))
            rows = {f"T{t.id}-AAAAA-AAAAAA": {
                "ordertxid": t.order.id, "postxid": "TKH2SE-M7IF5-CFI7LT", "pair": "XXBTZUSD",
                "time": t.ts_ms / 1000, "type": t.order.side, "ordertype": "limit",
                "price": str(t.price), "cost": str(t.qty * t.price), "fee": str(t.fee),
                "vol": str(t.qty), "margin": "0", "misc": "", "maker": True}
                for t in self.trades if t.ts_ms / 1000 >= since}  # fmt: skip
            return _json({"error": [], "result": {"trades": rows, "count": len(rows)}})

        def cancel(q: dict[str, str], m: re.Match[str]) -> Reply:
            o = self.by_cid(q.get("cl_ord_id", ""))
            if o is None or o.status != "open":
                return _json({"error": ["EOrder:Unknown order"]})
            o.status = "canceled"
            return _json({"error": [], "result": {"count": 1}})

        return {
            ("GET", f"{a}/public/Assets"): lambda q, m: _json(_payload("kraken", "assets.json")),
            ("GET", f"{a}/public/AssetPairs"): lambda q, m: _json(
                _payload("kraken", "asset_pairs.json")
            ),
            ("GET", f"{a}/public/SystemStatus"): lambda q, m: _json(
                _payload("kraken", "system_status.json")
            ),
            ("POST", f"{a}/private/BalanceEx"): balance,
            ("POST", f"{a}/private/AddOrder"): add,
            ("POST", f"{a}/private/OpenOrders"): listing("open"),
            ("POST", f"{a}/private/ClosedOrders"): listing("closed"),
            ("POST", f"{a}/private/TradesHistory"): trades,
            ("POST", f"{a}/private/CancelOrder"): cancel,
        }
