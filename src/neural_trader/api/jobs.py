"""Backtests and model training as jobs: validated at once (a bad strategy, parameter, symbol
or training setting is a 422 before anything is queued), run on a worker thread by the facade,
stored in the ``jobs`` table (kind ``backtest`` or ``train``) with their result, and announced
on the ``jobs`` WebSocket channel as they go queued -> running -> succeeded/failed/cancelled
(a training job also after every epoch, with its progress and losses)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from neural_trader.api.encoding import iso_ns, jsonable
from neural_trader.api.hub import Hub
from neural_trader.api.metrics import ApiMetrics
from neural_trader.api.problems import Problem
from neural_trader.api.schemas import BacktestRequest, TrainRequest
from neural_trader.data import list_datasets
from neural_trader.errors import DataError, NeuralTraderError
from neural_trader.storage.queries import list_jobs
from neural_trader.storage.registry import JobRecord, RegistryStore
from neural_trader.trader import NeuralTrader

if TYPE_CHECKING:
    from neural_trader.neural.service import TrainSpec

log = structlog.get_logger("neural_trader.api")
KIND = "backtest"
TRAIN = "train"


def job_view(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "params": job.params,
        "error": job.error,
        "created_at": iso_ns(job.created_at),
        "started_at": iso_ns(job.started_at),
        "finished_at": iso_ns(job.finished_at),
    }


class BacktestJobs:
    def __init__(self, trader: NeuralTrader, hub: Hub, metrics: ApiMetrics, workers: int) -> None:
        self.trader = trader
        self.hub = hub
        self.metrics = metrics
        self.registry = RegistryStore(trader.store)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="nt-backtest")
        self._futures: dict[str, Future[None]] = {}
        self._cancels: dict[str, threading.Event] = {}  # training jobs stop between batches

    def submit(self, request: BacktestRequest, by: str) -> JobRecord:
        self._validate(request)
        params = jsonable(request.model_dump())
        job = self.registry.create_job(KIND, {**params, "submitted_by": by})
        self._announce(job)
        self._futures[job.id] = self._pool.submit(self._run, job.id, request)
        return job

    def _validate(self, request: BacktestRequest) -> None:
        self.trader.strategy(request.strategy, dict(request.params))  # StrategyError -> 422
        known = {d.symbol for d in list_datasets()}
        unknown = sorted(set(request.symbols) - known)
        if unknown:
            raise DataError(f"no bundled data for {', '.join(unknown)}", known=len(known))
        if request.start and request.end and request.start >= request.end:
            raise DataError(f"start {request.start} is not before end {request.end}")

    def _run(self, job_id: str, request: BacktestRequest) -> None:
        self._announce(self.registry.update_job(job_id, status="running", message="running"))
        started = time.perf_counter()
        try:
            run = self.trader.backtest(
                request.strategy,
                list(request.symbols),
                start=None if request.start is None else request.start.isoformat(),
                end=None if request.end is None else request.end.isoformat(),
                cash=request.cash,
                commission_bps=request.commission_bps,
                slippage_bps=request.slippage_bps,
                **request.params,
            )
            result = jsonable(run.to_dict())
            report = self._report_path(job_id)
            report.parent.mkdir(parents=True, exist_ok=True)
            run.report(report)  # the tearsheet, served at .../report
            done = self.registry.update_job(
                job_id, status="succeeded", progress=1.0, result=result,
                message=f"finished in {time.perf_counter() - started:.2f} s",
            )  # fmt: skip
        except Exception as exc:
            done = self._failed(job_id, "backtest", exc)
        finally:
            self._futures.pop(job_id, None)
        self._announce(done)

    # -- training -----------------------------------------------------------------------------
    def submit_training(self, request: TrainRequest, by: str) -> JobRecord:
        """Queue a training run of the facade's NeuralService; the trained version is
        registered in staging and named in the job's result."""
        spec = self._train_spec(request)
        job = self.registry.create_job(TRAIN, {**spec.as_dict(), "submitted_by": by})
        self._announce(job)
        cancel = self._cancels[job.id] = threading.Event()
        self._futures[job.id] = self._pool.submit(self._train, job.id, spec, cancel)
        return job

    def _train_spec(self, request: TrainRequest) -> TrainSpec:
        from neural_trader.neural.service import TrainSpec  # torch loads with the first job

        known = {d.symbol for d in list_datasets() if d.interval == "1d"}
        if request.symbol.upper() not in known:
            raise DataError(f"no bundled daily data for {request.symbol}", known=len(known))
        if request.start and request.end and request.start >= request.end:
            raise DataError(f"start {request.start} is not before end {request.end}")
        fields = request.model_dump(exclude={"start", "end", "horizons"})
        return TrainSpec(
            **fields,
            horizons=tuple(request.horizons),
            start=None if request.start is None else request.start.isoformat(),
            end=None if request.end is None else request.end.isoformat(),
        )  # NeuralError -> 422

    def _train(self, job_id: str, spec: TrainSpec, cancel: threading.Event) -> None:
        from neural_trader.neural.service import TrainingCancelledError

        self._announce(self.registry.update_job(job_id, status="running", message="training"))

        def progress(epoch: int, total: int, figures: dict[str, float]) -> None:
            shown = ", ".join(f"{k} {v:.6g}" for k, v in figures.items())
            self._announce(
                self.registry.update_job(
                    job_id, progress=epoch / total, message=f"epoch {epoch}/{total}: {shown}"
                )
            )

        try:
            record = self.trader.neural.train(spec, progress, cancel.is_set, job_id)
            done = self.registry.update_job(
                job_id, status="succeeded", progress=1.0,
                message=f"registered {record.name} version {record.version} in staging",
                result={"name": record.name, "version": record.version, "stage": record.stage},
            )  # fmt: skip
        except TrainingCancelledError as exc:
            done = self.registry.update_job(job_id, status="cancelled", message=str(exc))
        except Exception as exc:
            done = self._failed(job_id, "training", exc)
        finally:
            self._futures.pop(job_id, None)
            self._cancels.pop(job_id, None)
        self._announce(done)

    def _failed(self, job_id: str, kind: str, exc: Exception) -> JobRecord:
        """Our errors fail the job with their message; anything else is a bug: the job fails
        visibly (logged with its traceback) and the server keeps running."""
        if isinstance(exc, NeuralTraderError):
            return self.registry.update_job(job_id, status="failed", error=str(exc), message="")
        log.error(f"{kind} job crashed", job=job_id, exc_info=exc)
        return self.registry.update_job(
            job_id, status="failed", error=f"internal error ({type(exc).__name__})"
        )

    def _announce(self, job: JobRecord) -> None:
        self.metrics.jobs.labels(job.status).inc()
        self.hub.publish("jobs", job_view(job))

    @property
    def pending(self) -> int:
        """Jobs queued or running (the queue depth metric)."""
        return len(self._futures)

    def get(self, job_id: str, kind: str = KIND) -> JobRecord:
        try:
            job = self.registry.get_job(job_id)
        except NeuralTraderError:
            raise Problem("not-found", f"no {kind} job {job_id!r}") from None
        if job.kind != kind:
            raise Problem("not-found", f"no {kind} job {job_id!r}")
        return job

    def cancel(self, job_id: str, by: str, kind: str = KIND) -> JobRecord:
        """Cancel a job: one still queued at once; a running training at its next batch (the
        job says ``cancelling`` until then, and ``cancelled`` on the ``jobs`` channel after);
        a running backtest cannot be stopped halfway and runs to its end (409)."""
        job = self.get(job_id, kind)
        if job.status not in ("queued", "running"):
            raise Problem("conflict", f"{kind} job {job_id} is {job.status}: nothing to cancel")
        future = self._futures.get(job_id)
        if future is not None and future.cancel():  # not started: it never will
            self._futures.pop(job_id, None)
            self._cancels.pop(job_id, None)
            done = self.registry.update_job(
                job_id, status="cancelled", message=f"cancelled by {by}"
            )
            self._announce(done)
            return done
        stop = self._cancels.get(job_id)
        if stop is None:
            raise Problem("conflict", f"{kind} job {job_id} is running and runs to its end")
        stop.set()
        return self.registry.update_job(job_id, message=f"cancelling (asked by {by})")

    def result(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job.status != "succeeded" or job.result is None:
            raise Problem(
                "conflict", f"backtest job {job_id} is {job.status}: no result", status=409
            )
        return job.result

    def _report_path(self, job_id: str) -> Path:
        return self.trader.settings.data.results_dir / "api-backtests" / job_id / "report.html"

    def report(self, job_id: str) -> Path:
        """The finished backtest's HTML report (equity against buy and hold, drawdowns,
        rolling figures, monthly returns, trades): 409 until the job has succeeded."""
        job = self.get(job_id)
        if job.status != "succeeded":
            raise Problem(
                "conflict", f"backtest job {job_id} is {job.status}: no report", status=409
            )
        path = self._report_path(job_id)
        if not path.is_file():  # another replica ran it, or the results folder was cleared
            raise Problem("not-found", f"the report of backtest job {job_id} is not on this server")
        return path

    def list(self, limit: int, kind: str = KIND) -> list[JobRecord]:
        return list_jobs(self.trader.store, kind, limit)

    def close(self) -> None:
        """Stop taking work; queued jobs are marked cancelled, a running backtest finishes,
        a running training stops at its next batch (and is marked cancelled)."""
        for cancel in list(self._cancels.values()):
            cancel.set()
        for job_id, future in list(self._futures.items()):
            if future.cancel():
                self.registry.update_job(job_id, status="cancelled", message="server stopped")
        self._pool.shutdown(wait=True, cancel_futures=True)
