"""``/api/v1/models``: the model registry (versions, stages, test metrics) and forecasts of a
registered model (its production version, else the newest in staging)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Security
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import authorize
from neural_trader.api.context import context_of
from neural_trader.api.encoding import iso_ns, jsonable
from neural_trader.api.routers.common import API_PREFIX, NOT_FOUND, PROTECTED
from neural_trader.api.schemas import PredictRequest
from neural_trader.security import Principal
from neural_trader.storage.registry import ModelRecord, RegistryStore

router = APIRouter(
    prefix=f"{API_PREFIX}/models", tags=["models"], responses={**PROTECTED, **NOT_FOUND}
)
Reader = Annotated[Principal, Security(authorize, scopes=["models:read"])]
Predictor = Annotated[Principal, Security(authorize, scopes=["models:predict"])]


def _view(m: ModelRecord) -> dict[str, Any]:
    return {
        "name": m.name,
        "version": m.version,
        "architecture": m.architecture,
        "symbol": m.symbol,
        "stage": m.stage,
        "hparams": jsonable(m.hparams),
        "metrics": jsonable(m.metrics),
        "data_fingerprint": m.data_fingerprint,
        "created_at": iso_ns(m.created_at),
    }


@router.get("")
async def list_(
    request: Request, _: Reader, name: Annotated[str | None, Query(max_length=128)] = None
) -> dict[str, Any]:
    """Every registered version (without loading any weights or torch)."""
    registry = RegistryStore(context_of(request).trader.store)
    models = await run_in_threadpool(registry.list_models, name)
    return {"models": [_view(m) for m in models]}


@router.post("/{model}/predict")
async def predict(
    model: Annotated[str, Path(max_length=128)],
    body: PredictRequest,
    request: Request,
    _: Predictor,
) -> dict[str, Any]:
    """The forecast of ``model`` (a registered name like ``lstm-SPX``, or an architecture with
    ``symbol``) for the bar after ``as_of`` (default: the end of the bundled data)."""
    trader = context_of(request).trader
    as_of = None if body.as_of is None else body.as_of.isoformat()
    out = await run_in_threadpool(trader.predict, model, body.symbol, as_of)
    return jsonable(out)  # type: ignore[no-any-return]
