"""``/api/v1/backtests``: submit a backtest as a job (202 with its id), follow its status
(also on the ``jobs`` WebSocket channel), fetch its result and its HTML report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Security
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from neural_trader.api.auth import authorize
from neural_trader.api.context import context_of
from neural_trader.api.jobs import job_view
from neural_trader.api.routers.common import API_PREFIX, CONFLICT, NOT_FOUND, PROTECTED
from neural_trader.api.schemas import BacktestRequest, JobOut
from neural_trader.security import Principal

router = APIRouter(
    prefix=f"{API_PREFIX}/backtests", tags=["backtests"], responses={**PROTECTED, **NOT_FOUND}
)
Reader = Annotated[Principal, Security(authorize, scopes=["backtests:read"])]
Runner = Annotated[Principal, Security(authorize, scopes=["backtests:run"])]
JobId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("", status_code=202, response_model=JobOut)
async def submit(body: BacktestRequest, request: Request, principal: Runner) -> JSONResponse:
    """Queue a backtest; the answer is the job, to poll or to follow on the WebSocket."""
    jobs = context_of(request).jobs
    job = await run_in_threadpool(jobs.submit, body, principal.username)
    request.scope["nt.audit"] = {"job_id": job.id, "strategy": body.strategy}
    return JSONResponse(
        job_view(job), status_code=202, headers={"Location": f"/api/v1/backtests/{job.id}"}
    )


@router.get("", response_model=list[JobOut])
async def list_(
    request: Request, _: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """The newest backtest jobs first."""
    jobs = context_of(request).jobs
    return [job_view(j) for j in await run_in_threadpool(jobs.list, limit)]


@router.get("/{job_id}", response_model=JobOut)
async def status(job_id: JobId, request: Request, _: Reader) -> dict[str, Any]:
    return job_view(await run_in_threadpool(context_of(request).jobs.get, job_id))


@router.delete("/{job_id}", status_code=202, response_model=JobOut, responses=CONFLICT)
async def cancel(job_id: JobId, request: Request, principal: Runner) -> JSONResponse:
    """Cancel a queued backtest (a running one cannot be stopped halfway: 409)."""
    jobs = context_of(request).jobs
    request.scope["nt.audit"] = {"job_id": job_id, "action": "cancel"}
    job = await run_in_threadpool(jobs.cancel, job_id, principal.username)
    return JSONResponse(job_view(job), status_code=202)


@router.get("/{job_id}/result", responses=CONFLICT)
async def result(job_id: JobId, request: Request, _: Reader) -> dict[str, Any]:
    """The finished backtest: metrics, trades and the run's figures (409 until it is done)."""
    return await run_in_threadpool(context_of(request).jobs.result, job_id)


@router.get(
    "/{job_id}/report",
    response_class=FileResponse,
    responses={**CONFLICT, 200: {"content": {"text/html": {}}, "description": "The report"}},
)
async def report(job_id: JobId, request: Request, _: Reader) -> FileResponse:
    """The finished backtest's report as one self-contained HTML page (charts included)."""
    path = await run_in_threadpool(context_of(request).jobs.report, job_id)
    return FileResponse(path, media_type="text/html")
