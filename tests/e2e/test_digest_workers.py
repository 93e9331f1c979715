"""Issue #7, done when: with three worker processes on PostgreSQL, each digest is sent exactly
once — one JobRun per (digest, portal, date), one chat message per manager in the sandbox
portal, one e-mail per manager at a real SMTP server, no outbox row twice.

Three real `timebot worker` processes (the production entry point, every loop on: the "jobs"
loop ticking the scheduler, the "outbox" and "mail" dispatchers, …) share one fresh PostgreSQL
database and the sandbox's demo company (installed over HTTP, mirrored by a directory sync).
The workers read the wall clock, so the portal's digest time is set to a minute or two before
now: every worker's first tick finds yesterday's digest due and races to claim it. Nothing is
delivered by the test: the workers queue, claim and send it all.

Yesterday is made a working day whatever the calendar says (a seven-day portal schedule), with
a late arrival (Мария, user 3), an absence (Дмитрий, 4) and a late arrival in Yekaterinburg
(Павел, 10): Игорь (2) and Наталья (9) get a digest each.
"""

from __future__ import annotations

import asyncio
import email
import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import partial
from pathlib import Path
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.support.rows import work_day_rows
from tests.support.servers import free_port
from tests.support.stack import Stack, timebot_with_sandbox, wait_installed, wait_until
from timebot.bitrix import BitrixClient, RateLimiter
from timebot.domain.clock import SystemClock
from timebot.gateway.directory import sync_directory
from timebot.jobs.scheduler import portal_zone
from timebot.storage import Database
from timebot.storage.tables import JobRun, OutboxMessage, Schedule, ScheduleAssignment

pytestmark = pytest.mark.postgres

WORKERS = 3
ROOT = Path(__file__).resolve().parents[2]
EKB = ZoneInfo("Asia/Yekaterinburg")
EKB_PEOPLE = {9, 10, 11}  # the demo company's Yekaterinburg branch
SENDER = "timebot@romashka.example"
DIGEST_TITLE = "Нарушения за"
# Every day 09:00–18:00 with an hour's break, holidays ignored: yesterday is a working day.
EVERY_DAY = {
    "week": [{"start": "09:00", "end": "18:00", "break": 60}] * 7,
    "week_hours": 56,
    "follow_calendar": False,
}
# Only the digest runs on its own: no reminders, no automatic closing, no weekly statistics.
QUIET = {
    "remind_checkin_after_minutes": None,
    "remind_checkout_after_minutes": None,
    "auto_close_after_minutes": None,
    "weekly_stats": False,
}


class Collector:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.raw.append(bytes(envelope.original_content))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.raw)

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.raw)
        return [email.message_from_bytes(r, policy=default_policy) for r in raw]


async def prepare(database: Database, stack: Stack, zone_now: datetime) -> tuple[int, int, date]:
    """Sync the directory, set the schedule, the digest time and yesterday's marks.

    The digest fires at the minute two minutes before `zone_now` (the portal's local time);
    it reports on the local date before that firing. Returns (portal id, bot id, that date).
    """
    async with database.unit_of_work() as uow:
        portal = await uow.portals.by_member_id(stack.portal.member_id)
        assert portal is not None
        assert portal.bot_id is not None
        portal_id, bot_id = portal.id, portal.bot_id
    async with httpx.AsyncClient(timeout=30) as http:
        client = BitrixClient(http, RateLimiter(rate=50, burst=50), max_retries=2)
        await sync_directory(database, client, portal_id, clock=SystemClock())
    async with database.unit_of_work() as uow:
        portal = await uow.portals.lock(portal_id)
        assert portal is not None
        zone = portal_zone(portal)
        fire = (zone_now.astimezone(zone) - timedelta(minutes=2)).replace(second=0, microsecond=0)
        day = fire.date() - timedelta(days=1)
        portal.settings = {**(portal.settings or {}), **QUIET, "digest_time": f"{fire:%H:%M}"}
        schedule = Schedule(
            portal_id=portal_id,
            name="Every day",
            kind="fixed",
            definition=EVERY_DAY,
            late_tolerance_min=10,
            early_tolerance_min=10,
            created_at=zone_now,
        )
        uow.session.add(schedule)
        await uow.session.flush()
        uow.session.add(
            ScheduleAssignment(
                portal_id=portal_id,
                schedule_id=schedule.id,
                scope="portal",
                target_id=None,
                valid_from=day - timedelta(days=7),
                created_at=zone_now,
            )
        )
        employees = {e.bitrix_user_id: e.id for e in await uow.employees.active(portal_id)}
        assert set(employees) == set(range(1, 12))
        for uid, employee_id in employees.items():
            if uid == 4:
                continue  # absent
            person_zone = EKB if uid in EKB_PEOPLE else zone
            start = {3: time(9, 22), 10: time(9, 40)}.get(uid, time(9))
            for mark in work_day_rows(
                portal_id, employee_id, day, person_zone, start, location_verdict="inside"
            ):
                uow.marks.add(mark)
        await uow.commit()
    return portal_id, bot_id, day


def start_worker(stack: Stack, smtp_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = stack.worker_env(
        TIMEBOT_SMTP_URL=smtp_url,
        TIMEBOT_SMTP_FROM=SENDER,
        TIMEBOT_OUTBOX_INTERVAL_SECONDS="0.2",
        TIMEBOT_POLL_INTERVAL_SECONDS="5",
        TIMEBOT_LOG_LEVEL="INFO",
        TIMEBOT_LOG_FORMAT="json",
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "timebot.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def events(log: Path) -> list[dict[str, Any]]:
    """The JSON log records of one worker (other lines skipped)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found


def logged(log: Path, event: str) -> bool:
    return any(e.get("event") == event for e in events(log))


def tails(logs: list[Path]) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs)


async def job_runs(database: Database) -> list[tuple[str, str | None, str, str, str | None]]:
    async with database.unit_of_work() as uow:
        return [
            (r.job_name, r.scope, r.period_key, r.status, r.claimed_by)
            for r in await uow.session.scalars(select(JobRun))
        ]


async def outbox_rows(database: Database) -> list[tuple[str, str, str]]:
    """(dedupe key, kind, status) of every outbox row."""
    async with database.unit_of_work() as uow:
        return [
            (r.dedupe_key or "", r.kind, r.status)
            for r in await uow.session.scalars(select(OutboxMessage))
        ]


async def test_three_workers_send_each_digest_once(postgres_url: str, tmp_path: Path) -> None:
    started = monotonic()
    smtp_port = free_port()
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    smtp_url = f"smtp://127.0.0.1:{smtp_port}?starttls=0"
    workers: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"worker-{i}.log" for i in range(WORKERS)]
    database = Database.from_url(postgres_url)
    try:
        with timebot_with_sandbox(postgres_url, auto_join_group_chats=False) as stack:
            await wait_installed(stack)
            sandbox = stack.portal
            portal_id, bot_id, day = await prepare(database, stack, SystemClock().now())
            key = day.isoformat()
            digest_keys = {
                f"digest:{key}:2:0",
                f"digest:{key}:9:0",
                f"digest-mail:{key}:2",
                f"digest-mail:{key}:9",
            }

            workers = [start_worker(stack, smtp_url, log) for log in logs]
            pids = {w.pid for w in workers}

            async def delivered() -> bool:
                rows = {k: s for k, _, s in await outbox_rows(database) if k in digest_keys}
                runs = await job_runs(database)
                return (
                    rows == dict.fromkeys(digest_keys, "sent")
                    and [r[3] for r in runs] == ["done"]
                    and collector.count() >= 2
                )

            deadline = monotonic() + 45
            while not await delivered():
                dead = [w.pid for w in workers if w.poll() is not None]
                assert not dead, f"workers {dead} exited\n{tails(logs)}"
                assert monotonic() < deadline, tails(logs)
                await asyncio.sleep(0.1)
            # Every worker came up and ran its loops (the jobs loop ticks at once on start).
            for log in logs:
                await wait_until(partial(logged, log, "worker.started"), within=15)
            assert all(w.poll() is None for w in workers), tails(logs)
            # Let every worker go through more dispatch rounds: nothing more may be sent.
            await asyncio.sleep(1.0)
            assert all(w.poll() is None for w in workers), tails(logs)
            for w in workers:
                w.send_signal(signal.SIGTERM)
            codes = [w.wait(timeout=20) for w in workers]
            assert codes == [0] * WORKERS, tails(logs)
            await sandbox.flush()

            # One claimed run, by one of the three workers.
            [(name, scope, period, status, winner)] = await job_runs(database)
            assert (name, scope, period, status) == ("digest", f"portal:{portal_id}", key, "done")
            assert winner is not None
            winner_pid = int(winner.split(":")[1])
            assert winner_pid in pids, (winner, pids)
            job_started = {
                pid: sum(e.get("event") == "job.started" for e in events(log))
                for pid, log in zip((w.pid for w in workers), logs, strict=True)
            }
            assert sorted(job_started.values()) == [0] * (WORKERS - 1) + [1], job_started
            assert job_started[winner_pid] == 1
            for log in logs:
                names = [e.get("event") for e in events(log)]
                assert "worker.started" in names
                assert "worker.stopped" in names
                assert "worker.loop_failed" not in names, tails([log])

            # The outbox: every row once, every row sent; the digest's are exactly the expected.
            rows = await outbox_rows(database)
            keys = Counter(k for k, _, _ in rows if k)
            assert [k for k, n in keys.items() if n > 1] == []
            assert {k for k, _, _ in rows if k.startswith("digest")} == digest_keys
            assert {s for _, _, s in rows} == {"sent"}, rows

            # The chat: one digest per manager, in their dialog with the bot, nobody else.
            def digests_to(user_id: int) -> list[Any]:
                return [
                    m
                    for m in sandbox.messages(str(user_id), bot_id=bot_id)
                    if m.author_id == bot_id and DIGEST_TITLE in m.text
                ]

            [to_igor] = digests_to(2)
            [to_natalia] = digests_to(9)
            for other in (1, 3, 4, 5, 6, 7, 8, 10, 11):
                assert digests_to(other) == []
            assert "С нарушениями: 2 из 2 сотрудников." in to_igor.text
            assert to_igor.attach is not None
            grid = [
                (row["NAME"], row["VALUE"])
                for block in to_igor.attach
                for row in block.get("GRID", [])
            ]
            assert [n for n, _ in grid] == ["Дмитрий Кузнецов", "Мария Иванова"]
            assert "не отметился в рабочий день" in grid[0][1]
            assert "пришёл в 09:22, допуск до 09:10" in grid[1][1]
            assert to_natalia.attach is not None
            assert "пришёл в 09:40, допуск до 09:10" in str(to_natalia.attach)

            # E-mail: one per manager with an address.
            mails = collector.messages()
            assert sorted(m["To"] for m in mails) == [
                "igor.petrov@romashka.example",
                "natalya.novikova@romashka.example",
            ]
            for message in mails:
                [attachment] = list(message.iter_attachments())
                assert attachment.get_filename() == f"нарушения-{key}.xlsx"
            print(
                f"\ndigest with {WORKERS} workers: run by pid {winner_pid} of {sorted(pids)}, "
                f"{len(rows)} outbox rows, 2 chat digests, {len(mails)} e-mails, "
                f"{monotonic() - started:.1f} s"
            )
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=10)
        await database.dispose()
        controller.stop()
