"""``/api/v1/portfolio`` and ``/api/v1/positions``: the paper account's book of record as
stored, with live marks (last price, market value, unrealized PnL) while the server trades."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Security
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import authorize
from neural_trader.api.context import ApiContext, context_of
from neural_trader.api.problems import Problem
from neural_trader.api.routers.common import API_PREFIX, NOT_FOUND, PROTECTED
from neural_trader.errors import ServiceError
from neural_trader.security import Principal

router = APIRouter(prefix=API_PREFIX, tags=["portfolio"], responses={**PROTECTED, **NOT_FOUND})
Reader = Annotated[Principal, Security(authorize, scopes=["portfolio:read"])]


def _stored(ctx: ApiContext) -> dict[str, Any]:
    try:
        return ctx.trader.get_portfolio(ctx.account)
    except ServiceError as exc:
        raise Problem("not-found", exc.message) from None


def _live(ctx: ApiContext) -> dict[str, Any]:
    assert ctx.orders is not None
    book = ctx.orders.book()
    marks = ctx.orders.marks()
    for position in book["positions"]:
        position.update(marks.get(position["symbol"], {}))
    book["equity"] = round(ctx.orders.equity(), 2)
    book["session"] = ctx.orders.status_view()
    return book


@router.get("/portfolio")
async def portfolio(request: Request, _: Reader) -> dict[str, Any]:
    """Cash, positions, open orders and (while trading) equity and the replay's data time."""
    ctx = context_of(request)
    if ctx.orders is None:
        return await run_in_threadpool(_stored, ctx)
    return _live(ctx)  # on the loop: the session's book, which the database follows


@router.get("/positions")
async def positions(request: Request, _: Reader) -> dict[str, Any]:
    """The open positions only."""
    book = await portfolio(request, _)
    return {"account": book["account"], "positions": book["positions"]}
