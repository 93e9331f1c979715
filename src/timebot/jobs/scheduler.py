"""Scheduled jobs: one explicit list (`JOBS`), per-portal local times, and a database claim that
makes every occurrence run once however many workers run.

How a tick works (`run_due_jobs`, every `SCHEDULER_TICK_SECONDS` in each worker): for every
job and active portal, the job's APScheduler trigger — built in the portal's time zone from the
portal's settings, so DST and per-portal times come out right — names the latest fire time not
after now and not older than the job's catch-up window. That occurrence's period key (for the
digest: the local date it reports on) is claimed by inserting the row `(job, "portal:<id>",
period)` into `job_runs` with insert-or-ignore; only the inserter runs it, everyone else sees
the row and moves on. Because a tick looks back over the catch-up window, an occurrence missed
while every worker was down runs at the next tick. A failed run is retried after
`retry_after`, a run whose worker died (still "running" after `stale_after`) is taken over;
jobs are written so that a repeated run queues nothing twice (outbox dedupe keys).

`Scheduler` drives the ticks with APScheduler's AsyncIOScheduler; `python -m
timebot.jobs.scheduler --once` runs one tick (used by the multi-process test and handy by cron).
CLI: `timebot job list`, `timebot job run NAME [--date D] [--portal ID] [--force]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from timebot.domain.clock import SystemClock
from timebot.domain.timezones import zone_or_none
from timebot.jobs.digest import run_digest
from timebot.jobs.weekly import send_weekly
from timebot.logs import get_logger
from timebot.services.digest import DigestRules
from timebot.services.weekly import previous_week_key, week_monday, weekly_enabled
from timebot.storage.repositories.jobs import JobRunRepository
from timebot.storage.tables import Portal

if TYPE_CHECKING:
    from timebot.bootstrap import Container

__all__ = [
    "JOBS",
    "SCHEDULER_TICK_SECONDS",
    "Job",
    "Occurrence",
    "RunOutcome",
    "Scheduler",
    "describe_jobs",
    "job_named",
    "last_fire_time",
    "run_due_jobs",
    "run_job",
    "run_occurrence",
]

log = get_logger(__name__)

SCHEDULER_TICK_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One run of a job for one portal and period."""

    job: str
    portal_id: int
    period_key: str
    fire_at: datetime | None = None  # None: started by hand

    @property
    def scope(self) -> str:
        return f"portal:{self.portal_id}"


JobRunner = Callable[["Container", Occurrence, datetime], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Job:
    """A scheduled job: when it fires for a portal, what period a firing stands for, what runs.

    `trigger` returns None when the portal has the job turned off. `period` maps a fire time
    (in the portal's zone) to the period key; `latest_period` names the period a hand-started
    run covers by default. `run` returns a one-line detail for `job_runs.detail`.
    """

    name: str
    schedule: str  # for `timebot job list`
    trigger: Callable[[Portal], BaseTrigger | None]
    period: Callable[[datetime], str]
    latest_period: Callable[[Portal, datetime], str]
    run: JobRunner
    catch_up: timedelta = timedelta(hours=20)
    retry_after: timedelta = timedelta(minutes=15)
    stale_after: timedelta = timedelta(minutes=30)


def portal_zone(portal: Portal) -> ZoneInfo:
    return zone_or_none(portal.timezone) or ZoneInfo("UTC")


# --- The jobs ----------------------------------------------------------------------------------


def _digest_trigger(portal: Portal) -> BaseTrigger | None:
    at = DigestRules.from_settings(portal.settings).at
    if at is None:
        return None
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=portal_zone(portal))


def _previous_day(fire_at: datetime) -> str:
    return (fire_at.date() - timedelta(days=1)).isoformat()


def _digest_latest(portal: Portal, now: datetime) -> str:
    return _previous_day(now.astimezone(portal_zone(portal)))


async def _run_digest(container: Container, occurrence: Occurrence, now: datetime) -> str:
    result = await run_digest(
        container.database,
        occurrence.portal_id,
        date.fromisoformat(occurrence.period_key),
        now=now,
        config=container.gateway,
        email=container.settings.smtp_url is not None,
    )
    return result.detail()


def _weekly_trigger(portal: Portal) -> BaseTrigger | None:
    if not weekly_enabled(portal):
        return None
    return CronTrigger(day_of_week="mon", hour=9, timezone=portal_zone(portal))


def _weekly_latest(portal: Portal, now: datetime) -> str:
    return previous_week_key(now.astimezone(portal_zone(portal)))


async def _run_weekly(container: Container, occurrence: Occurrence, now: datetime) -> str:
    queued = await send_weekly(
        container.database,
        clock=container.clock,
        bot_config=container.gateway.bot,
        portal_id=occurrence.portal_id,
        week=week_monday(occurrence.period_key),
    )
    return f"{queued} message(s) queued"


JOBS: list[Job] = [
    Job(
        name="digest",
        schedule=(
            "daily at portal.settings.digest_time (default 09:00) in the portal's zone; "
            "reports on the previous local date"
        ),
        trigger=_digest_trigger,
        period=_previous_day,
        latest_period=_digest_latest,
        run=_run_digest,
    ),
    Job(
        name="weekly",
        schedule="Mondays 09:00 in the portal's zone; reports on the previous ISO week",
        trigger=_weekly_trigger,
        period=previous_week_key,
        latest_period=_weekly_latest,
        run=_run_weekly,
    ),
]


def job_named(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    raise ValueError(f"no job {name!r}; jobs: {', '.join(j.name for j in JOBS)}")


# --- Ticks -------------------------------------------------------------------------------------


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def last_fire_time(trigger: BaseTrigger, now: datetime, window: timedelta) -> datetime | None:
    """The trigger's latest fire time in (now - window, now], in the trigger's zone."""
    fire = trigger.get_next_fire_time(None, now - window)
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last


@dataclass(frozen=True, slots=True)
class RunOutcome:
    occurrence: Occurrence
    ran: bool
    ok: bool = True
    detail: str = ""

    def __str__(self) -> str:
        o = self.occurrence
        state = ("done" if self.ok else "failed") if self.ran else "skipped (claimed elsewhere)"
        text = f"{o.job} portal={o.portal_id} period={o.period_key}: {state}"
        return f"{text} — {self.detail}" if self.detail else text


async def run_occurrence(
    container: Container,
    job: Job,
    occurrence: Occurrence,
    *,
    now: datetime,
    worker: str,
    force: bool = False,
) -> RunOutcome:
    """Claim the occurrence and, if this worker won, run it and record how it went.

    `force` runs it even when it was claimed or done before (the job's dedupe keys still keep
    anything already queued from being queued again).
    """
    database = container.database
    async with database.unit_of_work() as uow:
        runs = JobRunRepository(uow.session)
        existing = await runs.get(job.name, occurrence.scope, occurrence.period_key)
        if existing is not None and not force:
            # Skip the write when the row exists and cannot be taken over yet (most ticks).
            retry = existing.status == "failed" and (
                existing.finished_at is None or existing.finished_at <= now - job.retry_after
            )
            stale = existing.status == "running" and existing.started_at <= now - job.stale_after
            if not (retry or stale):
                return RunOutcome(occurrence, ran=False)
        run_id = await runs.claim(
            job.name,
            occurrence.scope,
            occurrence.period_key,
            worker=worker,
            now=now,
            retry_failed_after=timedelta() if force else job.retry_after,
            stale_after=timedelta() if force else job.stale_after,
        )
        if run_id is None and force:
            run_id = await runs.take_over(
                job.name, occurrence.scope, occurrence.period_key, worker=worker, now=now
            )
        await uow.commit()
    if run_id is None:
        return RunOutcome(occurrence, ran=False)
    log.info("job.started", job=job.name, scope=occurrence.scope, period=occurrence.period_key)
    try:
        detail = await job.run(container, occurrence, now)
        ok = True
    except Exception as exc:
        log.exception("job.failed", job=job.name, scope=occurrence.scope)
        detail, ok = f"{type(exc).__name__}: {exc}", False
    async with database.unit_of_work() as uow:
        await JobRunRepository(uow.session).finish(
            run_id, worker=worker, now=container.clock.now(), ok=ok, detail=detail
        )
        await uow.commit()
    return RunOutcome(occurrence, ran=True, ok=ok, detail=detail)


async def due_occurrences(container: Container, now: datetime) -> list[tuple[Job, Occurrence]]:
    """Every job's latest occurrence per active portal within its catch-up window."""
    found = []
    # Read the portals' settings inside the transaction (leaving it expires the rows).
    async with container.database.unit_of_work() as uow:
        portals = list(await uow.portals.active())
        for job in JOBS:
            for portal in portals:
                try:
                    trigger = job.trigger(portal)
                except Exception:
                    log.exception("job.bad_trigger", job=job.name, portal_id=portal.id)
                    continue
                if trigger is None:
                    continue
                fire = last_fire_time(trigger, now, job.catch_up)
                if fire is None:
                    continue
                found.append((job, Occurrence(job.name, portal.id, job.period(fire), fire)))
    return found


async def run_due_jobs(container: Container, now: datetime, *, worker: str | None = None) -> int:
    """One scheduler tick: claim and run every due occurrence; how many this worker ran."""
    worker = worker or default_worker()
    ran = 0
    for job, occurrence in await due_occurrences(container, now):
        try:
            outcome = await run_occurrence(container, job, occurrence, now=now, worker=worker)
        except Exception:  # the claim itself failed (database): the next tick tries again
            log.exception("job.claim_failed", job=job.name, scope=occurrence.scope)
            continue
        ran += outcome.ran
    return ran


async def run_job(
    container: Container,
    name: str,
    *,
    period_key: str | None = None,
    portal_id: int | None = None,
    force: bool = False,
    worker: str | None = None,
) -> list[RunOutcome]:
    """Run one job now (`timebot job run`): for one portal or every active one, for the given
    period (a local date) or the latest one; still claimed unless `force`."""
    job = job_named(name)
    if period_key is not None:
        try:
            date.fromisoformat(period_key)
        except ValueError:
            raise ValueError(f"not a date (YYYY-MM-DD): {period_key!r}") from None
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        if portal_id is not None:
            portal = await uow.portals.get(portal_id)
            if portal is None:
                raise ValueError(f"no portal #{portal_id}")
            portals = [portal]
        else:
            portals = list(await uow.portals.active())
        occurrences = [
            Occurrence(job.name, p.id, period_key or job.latest_period(p, now)) for p in portals
        ]
    outcomes = []
    for occurrence in occurrences:
        outcomes.append(
            await run_occurrence(
                container,
                job,
                occurrence,
                now=now,
                worker=worker or f"cli:{default_worker()}",
                force=force,
            )
        )
    return outcomes


async def describe_jobs(container: Container, *, limit: int = 5) -> list[str]:
    """`timebot job list`: every job, its schedule and its latest runs."""
    lines = []
    async with container.database.unit_of_work() as uow:
        runs = JobRunRepository(uow.session)
        for job in JOBS:
            lines.append(f"{job.name}: {job.schedule}")
            recent = await runs.recent(job_name=job.name, limit=limit)
            if not recent:
                lines.append("  no runs yet")
            for r in recent:
                finished = r.finished_at.isoformat(timespec="seconds") if r.finished_at else "—"
                line = (
                    f"  {r.scope or '-'} {r.period_key} {r.status} by {r.claimed_by} "
                    f"started {r.started_at.isoformat(timespec='seconds')} finished {finished}"
                )
                lines.append(f"{line}  {r.detail}" if r.detail else line)
    return lines


# --- The APScheduler driver --------------------------------------------------------------------


class Scheduler:
    """Ticks `run_due_jobs` every `tick_seconds` on the running event loop (AsyncIOScheduler),
    the first tick right after `start()`. Ticks never overlap; a failing tick is logged."""

    def __init__(
        self,
        container: Container,
        *,
        worker: str | None = None,
        tick_seconds: float = SCHEDULER_TICK_SECONDS,
    ) -> None:
        self.container = container
        self.worker = worker or default_worker()
        self.tick_seconds = tick_seconds
        self.ticks = 0
        self._scheduler: AsyncIOScheduler | None = None
        self._current: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        self._current = asyncio.current_task()
        try:
            await run_due_jobs(self.container, self.container.clock.now(), worker=self.worker)
        except Exception:
            log.exception("scheduler.tick_failed")
        finally:
            self.ticks += 1
            self._current = None

    def start(self) -> None:
        """Start ticking; call from inside the running event loop."""
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.tick_seconds, timezone=UTC),
            id="tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            # APScheduler keeps its own wall-clock timing; the jobs use the container's clock.
            next_run_time=SystemClock().now(),
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Stop ticking and wait for a tick in progress."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        current = self._current
        if current is not None and current is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await current


# --- python -m timebot.jobs.scheduler ----------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m timebot.jobs.scheduler",
        description="Run the scheduler: one tick (--once) or ticks until interrupted.",
    )
    parser.add_argument("--once", action="store_true", help="run one tick and exit")
    parser.add_argument("--now", help="the tick's instant (ISO 8601 with offset; default now)")
    parser.add_argument("--worker", help="the name written to job_runs.claimed_by")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    from timebot.bootstrap import build_container, prepare_database

    container = build_container()
    try:
        await prepare_database(container)
        worker = args.worker or default_worker()
        if args.once:
            now = datetime.fromisoformat(args.now) if args.now else container.clock.now()
            if now.tzinfo is None:
                raise SystemExit("--now needs a UTC offset, e.g. 2026-11-24T09:00:00+03:00")
            ran = await run_due_jobs(container, now, worker=worker)
            print(f"{worker} ran {ran}")
            return 0
        scheduler = Scheduler(container, worker=worker)
        scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            await scheduler.stop()
        return 0
    finally:
        await container.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_main(args))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
