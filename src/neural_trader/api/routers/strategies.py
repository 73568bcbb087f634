"""``/api/v1/strategies``: every registered strategy with what it does and the schema of its
parameters (type, default, range), as ``neural-trader strategies list --json`` shows them; and
the strategies of the server's paper session, which the StrategyManager configures, starts,
pauses and stops (flipping the one risk gate's per-strategy switch), and more of which can be
put to work while it runs. Each change is kept and made again after a restart."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Security
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import authorize
from neural_trader.api.context import context_of
from neural_trader.api.encoding import jsonable
from neural_trader.api.orders_service import OrderService
from neural_trader.api.problems import Problem
from neural_trader.api.routers.common import (
    API_PREFIX,
    CONFLICT,
    NOT_FOUND,
    PROTECTED,
    UNAVAILABLE,
)
from neural_trader.api.schemas import (
    ExecuteStrategyRequest,
    StopStrategyRequest,
    StrategyParamsRequest,
)
from neural_trader.errors import StrategyError
from neural_trader.security import Principal
from neural_trader.strategies import REGISTRY, Strategy
from neural_trader.strategies.manager import (
    ManagedStrategy,
    StrategyStatus,
    parameter_schema,
    summary,
)
from neural_trader.strategies.services import StrategyServices, attach_services

router = APIRouter(prefix=f"{API_PREFIX}/strategies", tags=["strategies"], responses=PROTECTED)
Reader = Annotated[Principal, Security(authorize, scopes=["strategies:read"])]
Writer = Annotated[Principal, Security(authorize, scopes=["strategies:write"])]
Name = Annotated[str, Path(min_length=1, max_length=64)]
SESSION = {**UNAVAILABLE, **NOT_FOUND, **CONFLICT}
LIVE = (StrategyStatus.RUNNING, StrategyStatus.PAUSED)


def _view(name: str, cls: type[Strategy]) -> dict[str, Any]:
    return {
        "name": name,
        "summary": summary(cls),
        "parameters": [jsonable(asdict(p)) for p in parameter_schema(cls)],
        "json_schema": jsonable(cls.params_model.model_json_schema()),
    }


@router.get("")
async def list_(_: Reader) -> dict[str, Any]:
    return {"strategies": [_view(n, c) for n, c in sorted(REGISTRY.items())]}


def _running_view(service: OrderService, sid: str, m: ManagedStrategy) -> dict[str, Any]:
    """State, share and figures of one managed strategy; performance is what the session's
    trade tracker has closed so far (round trips since this server started)."""
    trades = [t for t in service.session.trades.trades if t.strategy == sid]
    return {
        "id": sid,
        "strategy": m.inner.name,
        "status": m.status.value,
        "gate": service.gate.strategy_state(sid).value,
        "allocation": m.allocation,
        "symbols": m.inner.symbols or list(m.seen),
        "params": jsonable(m.inner.params),
        "open_orders": len(service.kernel.open_orders(sid)),
        "performance": {
            "closed_trades": len(trades),
            "winning_trades": sum(1 for t in trades if t.pnl > 0),
            "pnl": str(sum((t.pnl for t in trades), start=Decimal(0))),
            "commission": str(sum((t.commission for t in trades), start=Decimal(0))),
        },
    }


def _managed(request: Request, sid: str) -> tuple[OrderService, ManagedStrategy]:
    service = context_of(request).trading()  # 503 when the server runs no session
    m = service.session.manager.managed.get(sid)
    if m is None:
        known = ", ".join(sorted(service.session.manager.managed)) or "none"
        raise Problem("not-found", f"the paper session runs no strategy {sid!r}; it runs: {known}")
    return service, m


def _require(m: ManagedStrategy, action: str, allowed: tuple[StrategyStatus, ...]) -> None:
    if m.status not in allowed:
        raise Problem("conflict", f"strategy {m.id!r} is {m.status.value}: it cannot {action}")


def _built(
    cls: type[Strategy],
    params: dict[str, Any],
    sid: str,
    symbols: list[str] | None,
    services: StrategyServices,
) -> Strategy:
    """A strategy validated against its schema (a bad value is a 422 naming the parameter),
    with the facade's services."""
    try:
        new = cls.from_params(params, sid, symbols)
    except StrategyError as exc:
        raise Problem("strategy", exc.message, parameter=exc.context.get("parameter")) from None
    return attach_services(new, services)


@router.get("/running", responses=UNAVAILABLE)
async def running(request: Request, _: Reader) -> dict[str, Any]:
    """The paper session's strategies with their state, share of the account and figures."""
    service = context_of(request).trading()
    managed = service.session.manager.managed
    return {"strategies": [_running_view(service, sid, m) for sid, m in managed.items()]}


@router.put("/{name}/params", responses=SESSION)
async def configure(
    name: Name, body: StrategyParamsRequest, request: Request, _: Writer
) -> dict[str, Any]:
    """Change some parameters of a session strategy, checked against its schema (a bad value
    is a 422 naming the parameter, and nothing changes). The strategy is rebuilt with the new
    values: its indicators warm up again on the bars that follow, and its working orders are
    cancelled (they were the old one's decisions); its positions, share and state stay."""
    service, m = _managed(request, name)
    _require(m, "be configured", (StrategyStatus.REGISTERED, *LIVE))
    request.scope["nt.audit"] = {"strategy": name, "action": "configure",
                                 "params": jsonable(body.params)}  # fmt: skip
    services = context_of(request).trader.services
    # Built off the loop (a forecasting strategy's services load torch); swapped in on it.
    old = m.inner
    new = await run_in_threadpool(
        _built, type(old), {**old.params, **body.params}, old.id, old.symbols, services
    )
    service.session.manager.configure(name, new)
    service.journal.record("configure", name, params=jsonable(new.params))
    await service.stored()
    return _running_view(service, name, m)


@router.post("/{name}/execute", status_code=201, responses=SESSION)
async def execute(
    name: Name, body: ExecuteStrategyRequest, request: Request, _: Writer
) -> dict[str, Any]:
    """Put one more strategy to work in the running paper session, with its parameters
    (checked against its schema), its symbols and its share of the account (the shares of
    the session's strategies that are not stopped, and this one, may add up to at most 1).
    It acts from the next bar on, through the same risk gate, and comes back after a
    restart."""
    ctx = context_of(request)
    service = ctx.trading()  # 503 when the server runs no session
    cls = _registered(name)
    sid = body.id or name
    if sid in service.session.manager.managed:
        raise Problem("conflict", f"the session already has a strategy {sid!r}: give another id")
    request.scope["nt.audit"] = {
        "strategy": name, "action": "execute", "id": sid,
        "allocation": body.allocation, "params": jsonable(body.params),
    }  # fmt: skip
    # Built off the loop (a forecasting strategy's services load torch); added on it.
    new = await run_in_threadpool(_built, cls, body.params, sid, body.symbols, ctx.trader.services)
    try:
        managed = service.session.add_strategy(new, body.allocation)
    except StrategyError as exc:
        raise Problem("strategy", exc.message, parameter=exc.context.get("parameter")) from None
    service.journal.record("execute", sid, strategy=name, params=jsonable(new.params),
                           symbols=body.symbols, allocation=body.allocation)  # fmt: skip
    return _running_view(service, sid, managed)


@router.post("/{name}/start", responses=SESSION)
async def start(name: Name, request: Request, _: Writer) -> dict[str, Any]:
    """Start a registered strategy or resume a paused one (the gate lets its orders through)."""
    service, m = _managed(request, name)
    _require(m, "start", (StrategyStatus.REGISTERED, *LIVE))
    request.scope["nt.audit"] = {"strategy": name, "action": "start"}
    service.session.manager.start(name)
    service.journal.record("start", name)
    return _running_view(service, name, m)


@router.post("/{name}/pause", responses=SESSION)
async def pause(name: Name, request: Request, _: Writer) -> dict[str, Any]:
    """Pause: it keeps seeing the data, the gate denies its new orders, its working orders are
    cancelled."""
    service, m = _managed(request, name)
    _require(m, "pause", LIVE)
    request.scope["nt.audit"] = {"strategy": name, "action": "pause"}
    service.session.manager.pause(name)
    service.journal.record("pause", name)
    await service.stored()
    return _running_view(service, name, m)


@router.post("/{name}/stop", responses=SESSION)
async def stop(
    name: Name,
    request: Request,
    _: Writer,
    body: Annotated[StopStrategyRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Stop for good in this session: no more data, working orders cancelled, and with
    ``flatten`` the positions in its symbols closed with market orders through the gate."""
    service, m = _managed(request, name)
    _require(m, "stop", LIVE)
    flatten = body is not None and body.flatten
    request.scope["nt.audit"] = {"strategy": name, "action": "stop", "flatten": flatten}
    service.session.manager.stop(name, flatten=flatten)
    service.journal.record("stop", name, flatten=flatten)
    await service.stored()
    return _running_view(service, name, m)


@router.get("/{name}", responses=NOT_FOUND)
async def get(name: Annotated[str, Path(max_length=64)], _: Reader) -> dict[str, Any]:
    return _view(name, _registered(name))


def _registered(name: str) -> type[Strategy]:
    cls = REGISTRY.get(name)
    if cls is None:
        raise Problem(
            "not-found", f"no strategy {name!r}; registered: {', '.join(sorted(REGISTRY))}"
        )
    return cls
