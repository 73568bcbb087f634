"""``/api/v1/orders``: submit to the paper account through the risk gate, get, list, cancel.

A submitted order answers 201 with its state after the gate and the venue's acknowledgement
(``accepted``; ``filled`` arrives later on the ``orders`` and ``fills`` channels); an order the
gate denies or the venue rejects is stored like any other and answered with a 422 problem
that carries the order and the rule.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import actor, authorize
from neural_trader.api.context import context_of
from neural_trader.api.encoding import exact
from neural_trader.api.events import order_view, row_view
from neural_trader.api.problems import Problem
from neural_trader.api.routers.common import (
    API_PREFIX,
    CONFLICT,
    MAX_SEQ,
    NOT_FOUND,
    PROTECTED,
    UNAVAILABLE,
)
from neural_trader.api.schemas import OrderList, OrderOut, OrderRequest
from neural_trader.api.tracing import child_span
from neural_trader.core.orders import OrderStatus
from neural_trader.security import Principal
from neural_trader.storage.queries import get_order, list_orders, order_fills

router = APIRouter(
    prefix=f"{API_PREFIX}/orders", tags=["orders"], responses={**PROTECTED, **NOT_FOUND}
)
Reader = Annotated[Principal, Security(authorize, scopes=["orders:read"])]
Writer = Annotated[Principal, Security(authorize, scopes=["orders:write"])]
OrderId = Annotated[str, Path(min_length=1, max_length=128)]


@router.post("", status_code=201, response_model=OrderOut, responses={**CONFLICT, **UNAVAILABLE})
async def submit(body: OrderRequest, request: Request, principal: Writer) -> JSONResponse:
    """Submit an order to the paper account (through the risk gate and the paper venue)."""
    ctx = context_of(request)
    service = ctx.trading()
    with child_span(request, "order.submit", **{"nt.symbol": body.symbol}) as span:
        order = service.submit(body, actor(request, principal))
        span.set_attributes({"nt.order_id": order.client_order_id, "nt.status": order.status.value})
    await service.stored()
    view = order_view(order, ctx.account)
    request.scope["nt.audit"] = {"order_id": order.client_order_id, "order_status": view["status"]}
    if order.status is OrderStatus.DENIED:
        raise Problem("order-denied", order.reason, order=view)
    if order.status is OrderStatus.REJECTED:
        raise Problem("order-denied", f"the venue rejected the order: {order.reason}", order=view)
    return JSONResponse(view, status_code=201, headers={"Location": f"/api/v1/orders/{view['id']}"})


@router.get("", response_model=OrderList)
async def list_(
    request: Request,
    _: Reader,
    status: Annotated[list[OrderStatus] | None, Query()] = None,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    strategy: Annotated[str | None, Query(max_length=128)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Orders of the account, oldest first, ``limit`` at a time from the cursor ``after``."""
    ctx = context_of(request)
    wanted = [st.value for st in status or []]
    rows = await run_in_threadpool(
        list_orders, ctx.trader.store, ctx.account, status=wanted, symbol=symbol,
        strategy=strategy, after=after, limit=limit,
    )  # fmt: skip
    cursor = rows[-1]["id"] if len(rows) == limit else None
    return {"orders": [row_view(r) for r in rows], "next_cursor": cursor}


@router.get("/{order_id}")
async def get(order_id: OrderId, request: Request, _: Reader) -> dict[str, Any]:
    """One order as stored, with its fills."""
    ctx = context_of(request)
    row = await run_in_threadpool(get_order, ctx.trader.store, ctx.account, order_id)
    if row is None:
        raise Problem("not-found", f"no order {order_id!r} in account {ctx.account}")
    fills = await run_in_threadpool(order_fills, ctx.trader.store, ctx.account, order_id)
    view = row_view(row)
    view["fills"] = [
        {
            "id": f["fill_id"], "quantity": exact(f["quantity"]), "price": exact(f["price"]),
            "commission": exact(f["commission"]), "venue": f["venue"],
        }
        for f in fills
    ]  # fmt: skip
    return view


@router.delete("/{order_id}", response_model=OrderOut, responses={**CONFLICT, **UNAVAILABLE})
async def cancel(order_id: OrderId, request: Request, principal: Writer) -> dict[str, Any]:
    """Cancel a working order (the venue confirms at once on the paper account)."""
    ctx = context_of(request)
    service = ctx.trading()
    order = service.cancel(order_id, actor(request, principal))
    await service.stored()
    return order_view(order, ctx.account)
