"""``/api/v1/models``: the model registry (versions, stages, test metrics), training as a job
(202 with its id, progress on the ``jobs`` WebSocket channel), promotion and rollback of a
version, and forecasts of a registered model (its production version, else the newest in
staging)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import authorize
from neural_trader.api.context import context_of
from neural_trader.api.encoding import iso_ns, jsonable
from neural_trader.api.jobs import TRAIN, job_view
from neural_trader.api.problems import Problem
from neural_trader.api.routers.common import API_PREFIX, CONFLICT, NOT_FOUND, PROTECTED
from neural_trader.api.schemas import JobOut, PredictRequest, PromoteRequest, TrainRequest
from neural_trader.errors import NeuralError
from neural_trader.security import Principal
from neural_trader.storage.registry import ModelRecord, RegistryStore

router = APIRouter(
    prefix=f"{API_PREFIX}/models", tags=["models"], responses={**PROTECTED, **NOT_FOUND}
)
Reader = Annotated[Principal, Security(authorize, scopes=["models:read"])]
Predictor = Annotated[Principal, Security(authorize, scopes=["models:predict"])]
Trainer = Annotated[Principal, Security(authorize, scopes=["models:train"])]
Admin = Annotated[Principal, Security(authorize, scopes=["models:admin"])]
Name = Annotated[str, Path(min_length=1, max_length=128)]


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


@router.post("/train", status_code=202, response_model=JobOut)
async def train(body: TrainRequest, request: Request, principal: Trainer) -> JSONResponse:
    """Queue a training run; the answer is the job (poll it, or follow it on the ``jobs``
    channel). The trained version is registered in staging: promote it to serve it."""
    jobs = context_of(request).jobs
    job = await run_in_threadpool(jobs.submit_training, body, principal.username)
    request.scope["nt.audit"] = {"job_id": job.id, "architecture": body.architecture,
                                 "symbol": body.symbol, "epochs": body.epochs}  # fmt: skip
    return JSONResponse(
        job_view(job), status_code=202, headers={"Location": f"/api/v1/models/jobs/{job.id}"}
    )


@router.get("/jobs/{job_id}", response_model=JobOut)
async def training_job(
    job_id: Annotated[str, Path(min_length=1, max_length=64)], request: Request, _: Reader
) -> dict[str, Any]:
    """A training job: status, progress, and once it succeeded the version it registered."""
    jobs = context_of(request).jobs
    return job_view(await run_in_threadpool(jobs.get, job_id, TRAIN))


@router.delete("/jobs/{job_id}", status_code=202, response_model=JobOut, responses=CONFLICT)
async def cancel_training(
    job_id: Annotated[str, Path(min_length=1, max_length=64)],
    request: Request,
    principal: Trainer,
) -> JSONResponse:
    """Cancel a training job: a queued one at once, a running one at its next batch (its
    status turns ``cancelled`` then, on the ``jobs`` channel too); nothing is registered."""
    jobs = context_of(request).jobs
    request.scope["nt.audit"] = {"job_id": job_id, "action": "cancel"}
    job = await run_in_threadpool(jobs.cancel, job_id, principal.username, TRAIN)
    return JSONResponse(job_view(job), status_code=202)


async def _versions(request: Request, name: str) -> list[ModelRecord]:
    registry = RegistryStore(context_of(request).trader.store)
    models = await run_in_threadpool(registry.list_models, name)
    if not models:
        raise Problem("not-found", f"no model named {name!r}")
    return models


@router.get("/{name}")
async def versions(name: Name, request: Request, _: Reader) -> dict[str, Any]:
    """Every version of ``name``, oldest first, and which one is in production."""
    models = await _versions(request, name)
    production = [m.version for m in models if m.stage == "production"]
    return {
        "name": name,
        "production": production[-1] if production else None,
        "versions": [_view(m) for m in models],
    }


@router.post("/{name}/promote", responses=CONFLICT)
async def promote(name: Name, body: PromoteRequest, request: Request, _: Admin) -> dict[str, Any]:
    """``version`` becomes production (the one before it is archived): forecasts and the
    strategies that use the name switch to it."""
    models = await _versions(request, name)
    if body.version not in {m.version for m in models}:
        raise Problem("not-found", f"model {name} has no version {body.version}")
    request.scope["nt.audit"] = {"model": name, "version": body.version}
    trader = context_of(request).trader  # its NeuralService loads torch: off the loop
    return _view(await run_in_threadpool(lambda: trader.neural.promote(name, body.version)))


@router.post("/{name}/rollback", responses=CONFLICT)
async def rollback(name: Name, request: Request, _: Admin) -> dict[str, Any]:
    """Archive the production version and restore the newest archived one before it."""
    await _versions(request, name)
    request.scope["nt.audit"] = {"model": name}
    trader = context_of(request).trader
    try:
        record = await run_in_threadpool(lambda: trader.neural.rollback(name))
    except NeuralError as exc:  # nothing in production, or nothing earlier to go back to
        raise Problem("conflict", exc.message) from None
    request.scope["nt.audit"] = {"model": name, "version": record.version}
    return _view(record)


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
