"""Scheduled job occurrences: the database claim that makes each occurrence run once.

A claim is an INSERT of the row `(job_name, scope, period_key)` with ON CONFLICT DO NOTHING: of
any number of workers trying at once, exactly one inserts (the unique constraint decides, on
SQLite and PostgreSQL alike) and only that one runs the occurrence. A failed occurrence, or one
whose runner died ("running" for too long), can be taken over by a conditional UPDATE that
again only one worker wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import JobRun

__all__ = ["JobRunRepository"]

RUNNING = "running"
DONE = "done"
FAILED = "failed"


class JobRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    async def get(self, job_name: str, scope: str, period_key: str) -> JobRun | None:
        stmt = select(JobRun).where(
            JobRun.job_name == job_name, JobRun.scope == scope, JobRun.period_key == period_key
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def claim(
        self,
        job_name: str,
        scope: str,
        period_key: str,
        *,
        worker: str,
        now: datetime,
        retry_failed_after: timedelta | None = None,
        stale_after: timedelta | None = None,
    ) -> int | None:
        """Claim one occurrence for `worker`; the run's id when this call won, else None.

        A new occurrence is inserted (insert-or-ignore). An existing one is taken over only
        when it failed at least `retry_failed_after` ago, or has been "running" for
        `stale_after` (its runner died); None disables either takeover. Commit right after, so
        that the others see the claim.
        """
        insert = pg_insert if self._dialect() == "postgresql" else sqlite_insert
        stmt = (
            insert(JobRun)
            .values(
                job_name=job_name,
                scope=scope,
                period_key=period_key,
                status=RUNNING,
                claimed_by=worker[:128],
                started_at=now,
                finished_at=None,
                detail="",
            )
            .on_conflict_do_nothing(index_elements=["job_name", "scope", "period_key"])
            .returning(JobRun.id)
        )
        inserted = (await self.session.execute(stmt)).scalar_one_or_none()
        if inserted is not None:
            return int(inserted)
        takeovers = []
        if retry_failed_after is not None:
            takeovers.append(
                and_(JobRun.status == FAILED, JobRun.finished_at <= now - retry_failed_after)
            )
        if stale_after is not None:
            takeovers.append(and_(JobRun.status == RUNNING, JobRun.started_at <= now - stale_after))
        if not takeovers:
            return None
        taken = await self.session.execute(
            update(JobRun)
            .where(
                JobRun.job_name == job_name,
                JobRun.scope == scope,
                JobRun.period_key == period_key,
                or_(*takeovers),
            )
            .values(status=RUNNING, claimed_by=worker[:128], started_at=now, finished_at=None)
            .returning(JobRun.id)
        )
        row = taken.scalar_one_or_none()
        return None if row is None else int(row)

    async def take_over(
        self, job_name: str, scope: str, period_key: str, *, worker: str, now: datetime
    ) -> int | None:
        """Claim an existing occurrence whatever its state (a forced re-run by hand)."""
        taken = await self.session.execute(
            update(JobRun)
            .where(
                JobRun.job_name == job_name,
                JobRun.scope == scope,
                JobRun.period_key == period_key,
            )
            .values(status=RUNNING, claimed_by=worker[:128], started_at=now, finished_at=None)
            .returning(JobRun.id)
        )
        row = taken.scalar_one_or_none()
        return None if row is None else int(row)

    async def finish(
        self, run_id: int, *, worker: str, now: datetime, ok: bool, detail: str = ""
    ) -> bool:
        """Settle a run this worker holds as done or failed; False if another worker took it."""
        result = await self.session.execute(
            update(JobRun)
            .where(JobRun.id == run_id, JobRun.claimed_by == worker[:128])
            .values(status=DONE if ok else FAILED, finished_at=now, detail=detail[:4000])
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def recent(
        self, *, job_name: str | None = None, scope: str | None = None, limit: int = 20
    ) -> Sequence[JobRun]:
        """The newest runs first (by start), optionally of one job and scope."""
        stmt = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
        if job_name is not None:
            stmt = stmt.where(JobRun.job_name == job_name)
        if scope is not None:
            stmt = stmt.where(JobRun.scope == scope)
        return (await self.session.execute(stmt)).scalars().all()

    async def count(self, job_name: str, *, scope: str | None = None) -> int:
        stmt = select(JobRun.id).where(JobRun.job_name == job_name)
        if scope is not None:
            stmt = stmt.where(JobRun.scope == scope)
        return len((await self.session.execute(stmt)).all())
