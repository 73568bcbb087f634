"""``/api/v1/strategies``: every registered strategy with what it does and the schema of its
parameters (type, default, range), as ``neural-trader strategies list --json`` shows them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Security

from neural_trader.api.auth import authorize
from neural_trader.api.encoding import jsonable
from neural_trader.api.problems import Problem
from neural_trader.api.routers.common import API_PREFIX, NOT_FOUND, PROTECTED
from neural_trader.security import Principal
from neural_trader.strategies import REGISTRY, Strategy
from neural_trader.strategies.manager import parameter_schema, summary

router = APIRouter(prefix=f"{API_PREFIX}/strategies", tags=["strategies"], responses=PROTECTED)
Reader = Annotated[Principal, Security(authorize, scopes=["strategies:read"])]


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


@router.get("/{name}", responses=NOT_FOUND)
async def get(name: Annotated[str, Path(max_length=64)], _: Reader) -> dict[str, Any]:
    cls = REGISTRY.get(name)
    if cls is None:
        raise Problem(
            "not-found", f"no strategy {name!r}; registered: {', '.join(sorted(REGISTRY))}"
        )
    return _view(name, cls)
