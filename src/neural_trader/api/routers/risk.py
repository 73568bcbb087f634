"""``/api/v1/risk``: the paper account's risk report, a report of any weighted basket, the
gate's limits, and the trading state with its kill switch."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Security
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import actor, authorize
from neural_trader.api.context import context_of
from neural_trader.api.encoding import jsonable
from neural_trader.api.routers.common import API_PREFIX, PROTECTED, UNAVAILABLE
from neural_trader.api.schemas import AnalyzeRequest, KillSwitchRequest, TradingStateRequest
from neural_trader.risk.gate import TradingState, limits_from
from neural_trader.security import Principal

router = APIRouter(prefix=f"{API_PREFIX}/risk", tags=["risk"], responses=PROTECTED)
Reader = Annotated[Principal, Security(authorize, scopes=["risk:read"])]
Admin = Annotated[Principal, Security(authorize, scopes=["risk:admin"])]


@router.get("/report")
async def report(
    request: Request,
    _: Reader,
    confidence: Annotated[float, Query(gt=0.5, lt=1)] = 0.95,
    horizon: Annotated[int, Query(ge=1, le=250)] = 1,
) -> dict[str, Any]:
    """VaR/CVaR by every method, volatility, drawdown, exposures and stress replays of the
    paper account's open positions, on history up to the data time the account has reached."""
    ctx = context_of(request)
    rep, held = await run_in_threadpool(
        ctx.trader.analyze_portfolio_risk, ctx.account, confidence, horizon
    )
    return {"report": jsonable(rep.as_dict()), "holdings": jsonable(held)}


@router.post("/analyze")
async def analyze(body: AnalyzeRequest, request: Request, _: Reader) -> dict[str, Any]:
    """The same report for any weighted basket of bundled symbols."""
    trader = context_of(request).trader
    rep = await run_in_threadpool(
        lambda: trader.analyze_risk(
            body.symbols, body.weights, body.confidence, body.horizon,
            start=None if body.start is None else body.start.isoformat(),
            end=None if body.end is None else body.end.isoformat(), stress=body.stress,
        )
    )  # fmt: skip
    return jsonable(rep.as_dict())  # type: ignore[no-any-return]


@router.get("/limits")
async def limits(request: Request, _: Reader) -> dict[str, Any]:
    """The pre-trade gate's limits in force (None = no limit)."""
    ctx = context_of(request)
    live = (
        ctx.orders.gate.limits if ctx.orders is not None else limits_from(ctx.trader.settings.risk)
    )
    return jsonable(asdict(live))  # type: ignore[no-any-return]


@router.get("/trading-state", responses=UNAVAILABLE)
async def trading_state(request: Request, _: Reader) -> dict[str, Any]:
    return context_of(request).trading().state_view()


@router.put("/trading-state", responses=UNAVAILABLE)
async def set_trading_state(
    body: TradingStateRequest, request: Request, principal: Admin
) -> dict[str, Any]:
    """Active, reducing (orders may only shrink positions) or halted (everything denied)."""
    service = context_of(request).trading()
    request.scope["nt.audit"] = {"state": body.state, "reason": body.reason}
    return service.set_state(TradingState(body.state), actor(request, principal), body.reason)


@router.put("/kill-switch", responses=UNAVAILABLE)
async def kill_switch(
    body: KillSwitchRequest, request: Request, principal: Admin
) -> dict[str, Any]:
    """Engage (halt everything) or release (back to active) the kill switch."""
    service = context_of(request).trading()
    state = TradingState.HALTED if body.engaged else TradingState.ACTIVE
    request.scope["nt.audit"] = {"kill_switch": body.engaged, "reason": body.reason}
    return service.set_state(state, actor(request, principal), body.reason)
