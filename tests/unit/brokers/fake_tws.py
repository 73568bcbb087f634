"""A fake TWS: an asyncio TCP server that speaks the TWS API socket protocol to the real
ib-async client, holding a small account (cash, positions, orders, executions) as state.

Wire protocol (https://interactivebrokers.github.io/tws-api/ and ib-async 2.0.1's
``client.py``/``decoder.py``, which this follows field by field):

* the client opens with ``b"API\\0"`` and a 4-byte big-endian length-prefixed ``v157..178``;
  we answer server version **157**, the lowest ib-async accepts (``Client.MinClientVersion``),
  so that the version-gated fields of later servers (advancedOrderRejectJson on errors,
  duration/postToAts/minTradeQty on orders, pendingPriceRevision on executions) are absent,
  plus the connection time;
* every later message both ways is length-prefixed, its fields NUL-terminated strings, the
  first being the message id; the client's startApi (71) is answered with nextValidId (9)
  and managedAccounts (15);
* requests answered: reqPositions 61 (position 61, positionEnd 62), reqOpenOrders 5 and
  reqAllOpenOrders 16 (openOrder 5 + orderStatus 3 per order, openOrderEnd 53),
  reqCompletedOrders 99 (completedOrder 101, completedOrdersEnd 102), reqExecutions 7
  (execDetails 11 + commissionReport 59 each, execDetailsEnd 55), reqAccountSummary 62
  (accountSummary 63, accountSummaryEnd 64), reqCurrentTime 49, placeOrder 3, cancelOrder 4;
  errors are message 4 ``[4, 2, id, code, text]``.

``reactions`` says, per orderRef, what happens to a placed order (default: it works as
Submitted); ``fill`` executes a working order and pushes the execution to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SERVER_VERSION = 157
CONN_TIME = "20261202 14:00:00 UTC"
CONIDS = {"AAPL": 265598, "MSFT": 272093, "IBM": 8314}


@dataclass
class FakeOrder:
    order_id: int
    client_id: int
    perm_id: int
    symbol: str
    action: str
    quantity: Decimal
    order_type: str
    limit: str
    stop: str
    tif: str
    account: str
    ref: str
    status: str = "Submitted"
    filled: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def open(self) -> bool:
        return self.status not in ("Filled", "Cancelled", "ApiCancelled", "Inactive")


@dataclass
class FakeExecution:
    exec_id: str
    order: FakeOrder
    shares: Decimal
    price: Decimal
    time: str
    commission: str | None = "1.00"
    side: str | None = None  # BOT/SLD from the order's action unless set


@dataclass
class Reaction:
    """What TWS does with a placed order: ``error`` (code, text) instead of working it,
    ``status`` to report instead of Submitted, ``drop`` the socket before taking the order
    (once: the order sent again after the reconnect works), ``silent`` (no answer),
    ``garble`` (an openOrder ib-async cannot decode)."""

    error: tuple[int, str] | None = None
    status: str = "Submitted"
    drop: bool = False
    silent: bool = False
    garble: bool = False


def frame(fields: list[Any]) -> bytes:
    text = "".join(f"{_text(f)}\0" for f in fields).encode()
    return struct.pack(">I", len(text)) + text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def contract_fields(symbol: str, with_exchange: bool = True) -> list[Any]:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, [exchange],
    currency, localSymbol, tradingClass (the order ib-async decodes them in)."""
    head = [CONIDS.get(symbol, 1), symbol, "STK", "", "0", "", ""]
    return head + (["SMART"] if with_exchange else []) + ["USD", symbol, "NMS"]


def open_order_fields(o: FakeOrder) -> list[Any]:
    """openOrder (5) as a version-157 server sends it (no message version field)."""
    return [
        5,
        o.order_id,
        *contract_fields(o.symbol),
        o.action,
        o.quantity,
        o.order_type,
        o.limit,
        o.stop,
        o.tif,
        "",  # ocaGroup
        o.account,
        "O",  # openClose
        0,  # origin: customer
        o.ref,
        o.client_id,
        o.perm_id,
        0,  # outsideRth
        0,  # hidden
        "",  # discretionaryAmt
        "",  # goodAfterTime
        "",  # sharesAllocation (deprecated)
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        "",  # faProfile (servers < 177)
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        0,  # blockOrder
        0,  # sweepToFill
        0,  # allOrNone
        "",  # minQty
        3,  # ocaType
        0,  # eTradeOnly
        0,  # firmQuoteOnly
        "",  # nbboPriceCap
        0,  # parentId
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType (none: its 8 fields are absent)
        "",  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # basisPoints
        "",  # basisPointsType
        "",  # comboLegsDescrip
        0,  # number of combo legs
        0,  # number of order combo legs
        0,  # number of smart combo routing params
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement (unset: the scale fields are absent)
        "",  # hedgeType (none: no hedgeParam)
        0,  # optOutSmartRouting
        "",  # clearingAccount
        "",  # clearingIntent
        0,  # notHeld
        0,  # delta neutral contract present
        "",  # algoStrategy (none: no params)
        0,  # solicited
        0,  # whatIf
        o.status,  # orderState.status
        *[""] * 9,  # orderState margins before/change/after
        "",  # commission
        "",  # minCommission
        "",  # maxCommission
        "",  # commissionCurrency
        "",  # warningText
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # number of conditions
        "",  # adjustedOrderType
        "",  # triggerPrice
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # adjustedStopPrice
        "",  # adjustedStopLimitPrice
        "",  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier displayName
        "",  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        0,  # discretionaryUpToLimitPrice
        0,  # usePriceMgmtAlgo
    ]


def completed_order_fields(o: FakeOrder) -> list[Any]:
    """completedOrder (101): no order id or client id, the permId identifies it."""
    return [
        101,
        *contract_fields(o.symbol),
        o.action,
        o.quantity,
        o.order_type,
        o.limit,
        o.stop,
        o.tif,
        "",  # ocaGroup
        o.account,
        "O",
        0,
        o.ref,
        o.perm_id,
        0,  # outsideRth
        0,  # hidden
        "",  # discretionaryAmt
        "",  # goodAfterTime
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        "",  # faProfile (servers < 177)
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        0,  # sweepToFill
        0,  # allOrNone
        "",  # minQty
        3,  # ocaType
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType
        "",  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # comboLegsDescrip
        0,  # combo legs
        0,  # order combo legs
        0,  # smart combo routing params
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement
        "",  # hedgeType
        "",  # clearingAccount
        "",  # clearingIntent
        0,  # notHeld
        0,  # delta neutral contract present
        "",  # algoStrategy
        0,  # solicited
        o.status,
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # conditions
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        "",  # autoCancelDate
        o.filled,  # filledQuantity
        0,  # refFuturesConId
        0,  # autoCancelParent
        "",  # shareholder
        0,  # imbalanceOnly
        0,  # routeMarketableToBbo
        0,  # parentPermId
        "20261202 14:05:00 UTC",  # completedTime
        o.status,  # completedStatus
    ]


def order_status_fields(o: FakeOrder, status: str | None = None) -> list[Any]:
    """orderStatus (3), no message version: id, status, filled, remaining, avgFillPrice,
    permId, parentId, lastFillPrice, clientId, whyHeld, mktCapPrice."""
    return [
        3,
        o.order_id,
        status or o.status,
        o.filled,
        o.remaining,
        o.avg_price,
        o.perm_id,
        0,
        o.avg_price,
        o.client_id,
        "",
        0,
    ]


def exec_fields(req_id: int, e: FakeExecution, account: str) -> list[Any]:
    o = e.order
    cum = e.shares  # one execution per order in this fake's scenarios
    return [
        11,
        req_id,
        o.order_id,
        *contract_fields(o.symbol, with_exchange=True),
        e.exec_id,
        e.time,
        account,
        "ISLAND",
        e.side or ("BOT" if o.action == "BUY" else "SLD"),
        e.shares,
        e.price,
        o.perm_id,
        o.client_id,
        0,  # liquidation
        cum,
        e.price,  # avgPrice
        o.ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        2,  # lastLiquidity: removed liquidity
    ]


def commission_fields(e: FakeExecution) -> list[Any]:
    return [59, 1, e.exec_id, e.commission, "USD", "1.7976931348623157E308", "", ""]


@dataclass
class FakeTws:
    account: str = "DU1234567"
    accounts: list[str] | None = None
    summary: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "TotalCashValue": ("100250.75", "USD"),
            "BuyingPower": ("401003.00", "USD"),
            "NetLiquidation": ("125480.10", "USD"),
        }
    )
    # symbol -> (quantity, average cost) as TWS sends them
    holdings: dict[str, tuple[str, str]] = field(default_factory=dict)
    reactions: dict[str, Reaction] = field(default_factory=dict)
    orders: list[FakeOrder] = field(default_factory=list)
    executions: list[FakeExecution] = field(default_factory=list)
    received: list[list[str]] = field(default_factory=list)
    next_perm: int = 1_500_000_000
    next_exec: int = 1
    extra_on_connect: list[list[Any]] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _sessions: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._sessions:  # let each connection's handler see its socket closed
            await asyncio.wait(self._sessions, timeout=5)

    def drop(self) -> None:
        """Close every client socket, as a TWS restart does."""
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    def kinds(self) -> list[int]:
        return [int(m[0]) for m in self.received]

    def send_all(self, *messages: list[Any]) -> None:
        for writer in self._writers:
            for m in messages:
                writer.write(frame(m))

    def send_raw(self, data: bytes) -> None:
        for writer in self._writers:
            writer.write(data)

    def order(self, ref: str) -> FakeOrder:
        return next(o for o in self.orders if o.ref == ref)

    def fill(self, ref: str, price: str, commission: str | None = "1.00") -> FakeExecution:
        """Execute the whole of order ``ref`` at ``price`` and report it live, as TWS does:
        execDetails (request id -1), commissionReport, orderStatus Filled."""
        o = self.order(ref)
        e = FakeExecution(
            f"0000e0d5.6571{self.next_exec:04d}.01.01",
            o,
            o.remaining,
            Decimal(price),
            "20261202 14:31:05 UTC",
            commission,
        )
        self.next_exec += 1
        o.filled, o.avg_price, o.status = o.quantity, Decimal(price), "Filled"
        self.executions.append(e)
        self.send_all(exec_fields(-1, e, self.account))
        if commission is not None:
            self.send_all(commission_fields(e))
        self.send_all(order_status_fields(o))
        return e

    # -- the protocol -------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)
        try:
            if await reader.readexactly(4) != b"API\0":
                return
            versions = (await self._read(reader)).decode()
            low, high = (int(v) for v in versions.lstrip("v").split(" ")[0].split(".."))
            assert low <= SERVER_VERSION <= high, versions
            writer.write(frame([SERVER_VERSION, CONN_TIME]))
            self._writers.append(writer)
            while True:
                fields = (await self._read(reader)).decode().split("\0")[:-1]
                self.received.append(fields)
                if self._answer(fields, writer):
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            with contextlib.suppress(ValueError):
                self._writers.remove(writer)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        (size,) = struct.unpack(">I", await reader.readexactly(4))
        return await reader.readexactly(size)

    def _answer(self, f: list[str], w: asyncio.StreamWriter) -> bool:
        """Answer one client message; True to drop the connection."""
        kind = int(f[0])
        out: list[list[Any]] = []
        if kind == 71:  # startApi
            out += [[9, 1, 1 + max((o.order_id for o in self.orders), default=0)]]
            out += [[15, 1, ",".join(self.accounts or [self.account])]]
            out += self.extra_on_connect
        elif kind == 61:  # reqPositions
            for symbol, (qty, cost) in self.holdings.items():
                out.append([61, 3, self.account, *contract_fields(symbol), qty, cost])
            out.append([62, 1])
        elif kind in (5, 16):  # reqOpenOrders, reqAllOpenOrders
            for o in self.orders:
                if o.open:
                    out += [open_order_fields(o), order_status_fields(o)]
            out.append([53, 1])
        elif kind == 99:  # reqCompletedOrders
            out += [completed_order_fields(o) for o in self.orders if not o.open]
            out.append([102])
        elif kind == 7:  # reqExecutions
            req_id = int(f[2])
            for e in self.executions:
                out.append(exec_fields(req_id, e, self.account))
                if e.commission is not None:
                    out.append(commission_fields(e))
            out.append([55, 1, req_id])
        elif kind == 62:  # reqAccountSummary
            req_id = int(f[2])
            for tag, (value, currency) in self.summary.items():
                out.append([63, 1, req_id, self.account, tag, value, currency])
            out.append([64, 1, req_id])
        elif kind == 49:  # reqCurrentTime
            out.append([49, 1, 1796220000])
        elif kind == 3:  # placeOrder
            return self._place(f, w)
        elif kind == 4:  # cancelOrder
            out += self._cancel(int(f[2]))
        for m in out:
            w.write(frame(m))
        return False

    def _place(self, f: list[str], w: asyncio.StreamWriter) -> bool:
        # placeOrder: 3, orderId, 12 contract fields, secIdType, secId, action, quantity,
        # orderType, lmtPrice, auxPrice, tif, ocaGroup, account, openClose, origin, orderRef
        o = FakeOrder(
            order_id=int(f[1]),
            client_id=1,
            perm_id=self.next_perm,
            symbol=f[3],
            action=f[16],
            quantity=Decimal(f[17]),
            order_type=f[18],
            limit=f[19],
            stop=f[20],
            tif=f[21],
            account=f[23],
            ref=f[26],
        )
        reaction = self.reactions.get(o.ref, Reaction())
        if reaction.drop:
            del self.reactions[o.ref]
            return True
        if reaction.silent:
            return False
        if reaction.error is not None:
            code, text = reaction.error
            w.write(frame([4, 2, o.order_id, code, text]))
            return False
        self.next_perm += 1
        o.status = reaction.status
        self.orders.append(o)
        if reaction.garble:
            w.write(frame([5, o.order_id, "not-a-conid", "AAPL"]))
            return False
        w.write(frame(open_order_fields(o)))
        w.write(frame(order_status_fields(o)))
        return False

    def _cancel(self, order_id: int) -> list[list[Any]]:
        o = next((o for o in self.orders if o.order_id == order_id), None)
        if o is None or not o.open:
            text = f"OrderId {order_id} that needs to be cancelled is not found."
            return [[4, 2, order_id, 10147, text]]
        o.status = "Cancelled"
        return [[4, 2, order_id, 202, "Order Canceled - reason:"], order_status_fields(o)]
