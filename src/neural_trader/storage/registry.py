"""Model versions and background jobs in the project database (the registry's persistence).

Stage rules live here so that every caller (CLI, API, service) gets the same ones: a model is
born in ``staging``; promoting a version makes it the one ``production`` version of its name
and archives the one before; rolling back archives the production version and restores the
newest archived version older than it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from neural_trader.errors import NeuralError, StorageError
from neural_trader.storage.store import Store
from neural_trader.storage.tables import JobRow, ModelRow

STAGES = ("staging", "production", "archived")
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class ModelRecord:
    name: str
    version: int
    architecture: str
    symbol: str
    hparams: dict[str, Any]
    training: dict[str, Any]
    metrics: dict[str, Any]
    data_fingerprint: str
    artifact: str
    artifact_sha256: str
    stage: str
    job_id: str | None
    created_at: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    params: dict[str, Any]
    status: str
    progress: float
    message: str
    result: dict[str, Any] | None
    error: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _model(row: ModelRow) -> ModelRecord:
    return ModelRecord(
        name=row.name,
        version=row.version,
        architecture=row.architecture,
        symbol=row.symbol,
        hparams=json.loads(row.hparams),
        training=json.loads(row.training),
        metrics=json.loads(row.metrics),
        data_fingerprint=row.data_fingerprint,
        artifact=row.artifact,
        artifact_sha256=row.artifact_sha256,
        stage=row.stage,
        job_id=row.job_id,
        created_at=row.created_at,
    )


def _job(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        params=json.loads(row.params),
        status=row.status,
        progress=float(row.progress),
        message=row.message,
        result=None if row.result is None else json.loads(row.result),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


class RegistryStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- models -------------------------------------------------------------------------------
    def add_model(
        self,
        *,
        name: str,
        architecture: str,
        symbol: str,
        hparams: dict[str, Any],
        training: dict[str, Any],
        metrics: dict[str, Any],
        data_fingerprint: str,
        artifact: str,
        artifact_sha256: str,
        job_id: str | None = None,
        version: int | None = None,
    ) -> ModelRecord:
        """Register a new version (the next free one unless given) in ``staging``."""
        try:
            with self._store._tx("register model") as s:
                if version is None:
                    last = s.scalar(select(func.max(ModelRow.version)).where(ModelRow.name == name))
                    version = (last or 0) + 1
                row = ModelRow(
                    name=name,
                    version=version,
                    architecture=architecture,
                    symbol=symbol,
                    hparams=json.dumps(hparams),
                    training=json.dumps(training),
                    metrics=json.dumps(metrics),
                    data_fingerprint=data_fingerprint,
                    artifact=artifact,
                    artifact_sha256=artifact_sha256,
                    stage="staging",
                    job_id=job_id,
                    created_at=time.time_ns(),
                )
                s.add(row)
                s.flush()
                return _model(row)
        except StorageError as exc:
            if isinstance(exc.__context__, IntegrityError) or "uq_models" in str(exc):
                raise NeuralError(f"model {name} version {version} already exists") from None
            raise

    def next_version(self, name: str) -> int:
        def last(s: Any) -> int:
            return int(
                s.scalar(select(func.max(ModelRow.version)).where(ModelRow.name == name)) or 0
            )

        return self._store._read("next model version", last) + 1

    def list_models(self, name: str | None = None) -> list[ModelRecord]:
        def rows(s: Any) -> list[ModelRecord]:
            q = select(ModelRow).order_by(ModelRow.name, ModelRow.version)
            if name is not None:
                q = q.where(ModelRow.name == name)
            return [_model(r) for r in s.scalars(q)]

        return self._store._read("list models", rows)

    def get_model(self, name: str, version: int | None = None) -> ModelRecord:
        """A version, or without one the production version, else the newest in staging."""
        models = self.list_models(name)
        if not models:
            known = sorted({m.name for m in self.list_models()})
            raise NeuralError(
                f"no model named {name!r}"
                + (f"; registered: {', '.join(known)}" if known else "; none is registered yet")
            )
        if version is not None:
            for m in models:
                if m.version == version:
                    return m
            raise NeuralError(
                f"model {name} has no version {version}; versions: "
                + ", ".join(str(m.version) for m in models)
            )
        production = [m for m in models if m.stage == "production"]
        if production:
            return production[-1]
        staging = [m for m in models if m.stage == "staging"]
        if staging:
            return staging[-1]
        raise NeuralError(f"model {name} has only archived versions; promote one to use it")

    def promote(self, name: str, version: int) -> ModelRecord:
        """``version`` becomes production; the production version before it is archived."""
        target = self.get_model(name, version)
        if target.stage == "production":
            return target
        with self._store._tx("promote model") as s:
            for row in s.scalars(
                select(ModelRow).where(ModelRow.name == name, ModelRow.stage == "production")
            ):
                row.stage = "archived"
            row = s.scalars(
                select(ModelRow).where(ModelRow.name == name, ModelRow.version == version)
            ).one()
            row.stage = "production"
            return _model(row)

    def rollback(self, name: str) -> ModelRecord:
        """Archive the production version and restore the newest archived one before it."""
        models = self.list_models(name)
        current = [m for m in models if m.stage == "production"]
        if not current:
            raise NeuralError(f"model {name} has no production version to roll back")
        older = [m for m in models if m.stage == "archived" and m.version < current[-1].version]
        if not older:
            raise NeuralError(
                f"model {name} version {current[-1].version} has no earlier archived version "
                "to roll back to"
            )
        with self._store._tx("roll back model") as s:
            for row in s.scalars(select(ModelRow).where(ModelRow.name == name)):
                if row.version == current[-1].version:
                    row.stage = "archived"
                elif row.version == older[-1].version:
                    row.stage = "production"
        return self.get_model(name, older[-1].version)

    def archive(self, name: str, version: int) -> ModelRecord:
        self.get_model(name, version)
        with self._store._tx("archive model") as s:
            row = s.scalars(
                select(ModelRow).where(ModelRow.name == name, ModelRow.version == version)
            ).one()
            row.stage = "archived"
            return _model(row)

    # -- jobs ---------------------------------------------------------------------------------
    def create_job(self, kind: str, params: dict[str, Any]) -> JobRecord:
        with self._store._tx("create job") as s:
            row = JobRow(
                id=uuid.uuid4().hex,
                kind=kind,
                params=json.dumps(params),
                status="queued",
                progress=0.0,
                message="",
                created_at=time.time_ns(),
            )
            s.add(row)
            s.flush()
            return _job(row)

    def update_job(
        self,
        job_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        message: str | None = None,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> JobRecord:
        if status is not None and status not in JOB_STATES:
            raise ValueError(f"unknown job status {status!r}")
        with self._store._tx("update job") as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NeuralError(f"no job {job_id!r}")
            now = time.time_ns()
            if status is not None:
                if status == "running" and row.started_at is None:
                    row.started_at = now
                if status in ("succeeded", "failed", "cancelled"):
                    row.finished_at = now
                row.status = status
            if progress is not None:
                row.progress = min(max(progress, 0.0), 1.0)
            if message is not None:
                row.message = message
            if result is not None:
                row.result = json.dumps(result)
            if error is not None:
                row.error = error
            return _job(row)

    def get_job(self, job_id: str) -> JobRecord:
        def load(s: Any) -> JobRecord:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NeuralError(f"no job {job_id!r}")
            return _job(row)

        return self._store._read("get job", load)

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        def rows(s: Any) -> list[JobRecord]:
            q = select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)
            return [_job(r) for r in s.scalars(q)]

        return self._store._read("list jobs", rows)
