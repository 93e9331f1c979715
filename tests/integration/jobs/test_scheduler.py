"""The scheduler on real SQLite and PostgreSQL: an occurrence is claimed in the database so that
it runs once however many workers tick at once; per-portal local times; catching up after
downtime; retries of failed runs and take-over of dead ones; running a job by hand."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from timebot.bootstrap import Container, build_container
from timebot.config import Settings
from timebot.domain.clock import FixedClock
from timebot.gateway.install import NEW_PORTAL_DEFAULTS
from timebot.jobs import scheduler as scheduler_module
from timebot.jobs.scheduler import (
    JOBS,
    Occurrence,
    Scheduler,
    describe_jobs,
    run_due_jobs,
    run_job,
)
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.repositories.jobs import JobRunRepository
from timebot.storage.tables import JobRun, Portal

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 11, 1, tzinfo=UTC)
# Tuesday 24 November 2026: 09:00 in Moscow is 06:00 UTC, in Yekaterinburg 04:00 UTC.
TUESDAY_0900_MSK = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


@dataclass
class Env:
    url: str
    db: Database
    containers: list[Container]

    def container(self, at: datetime) -> Container:
        c = build_container(
            Settings(database_url=self.url), clock=FixedClock(at), configure_logs=False
        )
        self.containers.append(c)
        return c

    async def portal(self, member: str, tz: str = "Europe/Moscow", **settings: Any) -> int:
        async with self.db.unit_of_work() as uow:
            portal = Portal(
                member_id=member,
                domain=f"{member}.bitrix24.ru",
                client_endpoint=f"https://{member}.bitrix24.ru/rest/",
                connection="oauth",
                language="ru",
                timezone=tz,
                installed_at=T0,
                updated_at=T0,
                settings=settings,
                **{**NEW_PORTAL_DEFAULTS, "bot_id": 77},
            )
            uow.portals.add(portal)
            await uow.commit()
            return portal.id

    async def runs(self) -> list[tuple[str, str, str, str]]:
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.scalars(select(JobRun).order_by(JobRun.id))
            return [(r.job_name, r.scope, r.period_key, r.status) for r in rows]


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    await upgrade(database_url)
    e = Env(database_url, Database.from_url(database_url), [])
    try:
        yield e
    finally:
        for c in e.containers:
            await c.aclose()
        await e.db.dispose()


@pytest.fixture
def counting_jobs(monkeypatch: pytest.MonkeyPatch) -> list[Occurrence]:
    """Replace the digest's work by a recorder (the digest itself is tested elsewhere)."""
    ran: list[Occurrence] = []

    async def record(container: Container, occurrence: Occurrence, now: datetime) -> str:
        ran.append(occurrence)
        await asyncio.sleep(0.05)  # long enough for concurrent ticks to overlap
        return f"recorded {occurrence.period_key}"

    monkeypatch.setattr(scheduler_module, "JOBS", [replace(j, run=record) for j in JOBS])
    return ran


async def test_concurrent_claims_of_one_occurrence_have_one_winner(env: Env) -> None:
    databases = [Database.from_url(env.url) for _ in range(4)]

    async def claim(db: Database, period: str, worker: str) -> int | None:
        async with db.unit_of_work() as uow:
            won = await JobRunRepository(uow.session).claim(
                "digest", "portal:1", period, worker=worker, now=T0
            )
            await uow.commit()
            return won

    try:
        for day in range(1, 11):
            period = f"2026-11-{day:02d}"
            results = await asyncio.gather(
                *(claim(db, period, f"w{i}") for i, db in enumerate(databases))
            )
            assert sum(r is not None for r in results) == 1, results
        assert len(await env.runs()) == 10
    finally:
        for db in databases:
            await db.dispose()


async def test_digest_runs_once_at_the_portals_local_time(
    env: Env, counting_jobs: list[Occurrence]
) -> None:
    await env.portal("msk")
    c = env.container(T0)
    assert await run_due_jobs(c, TUESDAY_0900_MSK - timedelta(minutes=1)) == 0
    # At 08:59 the latest occurrence (Monday 09:00) lies outside the 20-hour catch-up window.
    assert counting_jobs == []
    assert await run_due_jobs(c, TUESDAY_0900_MSK) == 1
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(minutes=1)) == 0
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(hours=5)) == 0
    [occurrence] = counting_jobs
    assert occurrence.period_key == "2026-11-23"  # the digest reports on the previous day
    assert occurrence.fire_at == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert await env.runs() == [("digest", "portal:1", "2026-11-23", "done")]
    # The next day brings the next occurrence.
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(days=1)) == 1
    assert [o.period_key for o in counting_jobs] == ["2026-11-23", "2026-11-24"]


async def test_each_portal_at_its_own_local_time(env: Env, counting_jobs: list[Occurrence]) -> None:
    msk = await env.portal("msk")
    ekb = await env.portal("ekb", "Asia/Yekaterinburg")
    early = await env.portal("early", digest_time="07:30")
    off = await env.portal("off", digest_time="off")
    c = env.container(T0)
    ekb_0900 = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert await run_due_jobs(c, ekb_0900 - timedelta(seconds=1)) == 0
    assert await run_due_jobs(c, ekb_0900) == 1
    assert [o.portal_id for o in counting_jobs] == [ekb]
    assert await run_due_jobs(c, datetime(2026, 11, 24, 4, 30, tzinfo=UTC)) == 1  # 07:30 MSK
    assert await run_due_jobs(c, TUESDAY_0900_MSK) == 1
    assert [o.portal_id for o in counting_jobs] == [ekb, early, msk]
    assert off not in {o.portal_id for o in counting_jobs}


async def test_a_missed_occurrence_runs_after_downtime(
    env: Env, counting_jobs: list[Occurrence]
) -> None:
    await env.portal("msk")
    c = env.container(T0)
    # Every worker was down from 08:00 to 14:30: the first tick afterwards catches up.
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(hours=5, minutes=30)) == 1
    assert counting_jobs[0].period_key == "2026-11-23"
    # Down for two days: only the latest occurrence is still worth sending.
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(days=2, hours=1)) == 1
    assert [o.period_key for o in counting_jobs] == ["2026-11-23", "2026-11-25"]


async def test_many_workers_ticking_at_once_run_each_occurrence_once(
    env: Env, counting_jobs: list[Occurrence]
) -> None:
    portals = [await env.portal(f"p{i}") for i in range(3)]
    containers = [env.container(T0) for _ in range(4)]
    ran = await asyncio.gather(
        *(run_due_jobs(c, TUESDAY_0900_MSK, worker=f"worker-{i}") for i, c in enumerate(containers))
    )
    assert sum(ran) == 3
    assert sorted(o.portal_id for o in counting_jobs) == portals
    runs = await env.runs()
    assert sorted(runs) == [("digest", f"portal:{p}", "2026-11-23", "done") for p in portals]


def failing_job(calls: list[str], fail_times: int) -> Callable[..., Awaitable[str]]:
    async def run(container: Container, occurrence: Occurrence, now: datetime) -> str:
        calls.append(now.isoformat())
        if len(calls) <= fail_times:
            raise RuntimeError("SMTP on fire")
        return "fine"

    return run


async def test_a_failed_run_is_retried_later(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    job = replace(JOBS[0], run=failing_job(calls, 1), retry_after=timedelta(minutes=15))
    monkeypatch.setattr(scheduler_module, "JOBS", [job])
    await env.portal("msk")
    c = env.container(TUESDAY_0900_MSK)  # its clock stamps finished_at
    assert await run_due_jobs(c, TUESDAY_0900_MSK) == 1
    async with env.db.unit_of_work() as uow:
        run = await JobRunRepository(uow.session).get("digest", "portal:1", "2026-11-23")
        assert run is not None
        assert (run.status, run.detail) == ("failed", "RuntimeError: SMTP on fire")
        assert run.finished_at == TUESDAY_0900_MSK
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(minutes=14)) == 0
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(minutes=15)) == 1
    assert len(calls) == 2
    assert await env.runs() == [("digest", "portal:1", "2026-11-23", "done")]


async def test_a_run_whose_worker_died_is_taken_over(
    env: Env, counting_jobs: list[Occurrence]
) -> None:
    await env.portal("msk")
    async with env.db.unit_of_work() as uow:  # a worker claimed it, then was killed
        assert await JobRunRepository(uow.session).claim(
            "digest", "portal:1", "2026-11-23", worker="dead", now=TUESDAY_0900_MSK
        )
        await uow.commit()
    c = env.container(T0)
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(minutes=29)) == 0
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(minutes=30), worker="alive") == 1
    async with env.db.unit_of_work() as uow:
        run = await JobRunRepository(uow.session).get("digest", "portal:1", "2026-11-23")
        assert run is not None
        assert (run.status, run.claimed_by) == ("done", "alive")


async def test_running_a_job_by_hand(env: Env, counting_jobs: list[Occurrence]) -> None:
    pid = await env.portal("msk")
    c = env.container(TUESDAY_0900_MSK + timedelta(hours=2))
    [first] = await run_job(c, "digest", portal_id=pid)
    assert first.ran
    assert first.occurrence.period_key == "2026-11-23"  # yesterday in the portal's zone
    assert str(first) == f"digest portal={pid} period=2026-11-23: done — recorded 2026-11-23"
    [again] = await run_job(c, "digest")
    assert not again.ran  # claimed already
    assert "skipped" in str(again)
    [forced] = await run_job(c, "digest", period_key="2026-11-23", force=True)
    assert forced.ran
    [older] = await run_job(c, "digest", period_key="2026-11-20", portal_id=pid)
    assert older.ran
    assert [o.period_key for o in counting_jobs] == ["2026-11-23", "2026-11-23", "2026-11-20"]
    # The scheduler does not run an occurrence done by hand.
    assert await run_due_jobs(c, TUESDAY_0900_MSK + timedelta(hours=3)) == 0
    with pytest.raises(ValueError, match="no job 'nope'"):
        await run_job(c, "nope")
    with pytest.raises(ValueError, match="no portal #999"):
        await run_job(c, "digest", portal_id=999)
    with pytest.raises(ValueError, match=r"not a date \(YYYY-MM-DD\): '23.11.2026'"):
        await run_job(c, "digest", period_key="23.11.2026")
    listing = await describe_jobs(c)
    assert listing[0].startswith("digest: daily at portal.settings.digest_time")
    assert any(" portal:1 2026-11-20 done by cli:" in line for line in listing)


async def test_the_apscheduler_driver_ticks(env: Env, counting_jobs: list[Occurrence]) -> None:
    await env.portal("msk")
    c = env.container(TUESDAY_0900_MSK)
    scheduler = Scheduler(c, worker="aps", tick_seconds=0.2)
    scheduler.start()
    try:
        for _ in range(100):
            if scheduler.ticks >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    assert scheduler.ticks >= 3
    assert len(counting_jobs) == 1  # later ticks found the occurrence claimed
    assert await env.runs() == [("digest", "portal:1", "2026-11-23", "done")]


def timebot(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
    env.update(TIMEBOT_DATABASE_URL=url, TIMEBOT_ENVIRONMENT="test", TIMEBOT_LOG_LEVEL="WARNING")
    return subprocess.run(
        [sys.executable, "-m", "timebot.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_job_commands(sqlite_url: str) -> None:
    """The CLI over a real process (one database is enough: the code path is shared)."""
    await upgrade(sqlite_url)
    env = Env(sqlite_url, Database.from_url(sqlite_url), [])
    try:
        pid = await env.portal("msk")
        args = ("job", "run", "digest", "--portal", str(pid), "--date", "2026-11-23")
        first = await asyncio.to_thread(timebot, env.url, *args)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == (
            f"digest portal={pid} period=2026-11-23: done — 2026-11-23: 0 people, 0 digests, "
            "0 violations; queued 0 messages, 0 e-mails"
        )
        second = await asyncio.to_thread(timebot, env.url, *args)
        assert second.stdout.strip().endswith("skipped (claimed elsewhere)")
        wrong = await asyncio.to_thread(timebot, env.url, *args[:2], "nope")
        assert wrong.returncode == 2
        assert "no job 'nope'" in wrong.stderr
        listed = await asyncio.to_thread(timebot, env.url, "job", "list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].startswith("digest: daily at portal.settings.digest_time")
        assert lines[1].startswith(f"  portal:{pid} 2026-11-23 done by cli:")
        assert any(line.startswith("weekly: Mondays 09:00") for line in lines[2:])
        assert await env.runs() == [("digest", f"portal:{pid}", "2026-11-23", "done")]
    finally:
        await env.db.dispose()
