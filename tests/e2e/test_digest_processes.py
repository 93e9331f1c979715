"""With three scheduler processes on PostgreSQL ticking at the same instant, each digest is sent
exactly once: one JobRun per (digest, portal, date), one chat message per manager in the
sandbox portal, one e-mail per manager at a real SMTP server.

The portal is the sandbox's demo company (installed over HTTP, its org chart and people mirrored
by a directory sync); yesterday's marks are written as the chat would have. Each process is a
real interpreter running `python -m timebot.jobs.scheduler --once` (the tick a worker runs), held
at a file barrier so that all three claim at once. The test then delivers the outbox: e-mail to
aiosmtpd, chat messages to the sandbox over HTTP.
"""

from __future__ import annotations

import asyncio
import email
import sys
import threading
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.support.rows import work_day_rows
from tests.support.servers import free_port
from tests.support.stack import Stack, timebot_with_sandbox, wait_installed, wait_until
from timebot.bootstrap import build_container
from timebot.config import Settings
from timebot.domain.clock import SystemClock
from timebot.gateway.directory import sync_directory
from timebot.gateway.outbox import OutboxDispatcher
from timebot.jobs.digest import build_mail_dispatcher
from timebot.reports.production_calendar import calendar_for
from timebot.storage import Database
from timebot.storage.tables import JobRun, OutboxMessage

pytestmark = pytest.mark.postgres

PROCESSES = 3
ROOT = Path(__file__).resolve().parents[2]
MSK = ZoneInfo("Europe/Moscow")
EKB = ZoneInfo("Asia/Yekaterinburg")
EKB_PEOPLE = {9, 10, 11}  # the demo company's Yekaterinburg branch
SENDER = "timebot@romashka.example"

BARRIER = """
import pathlib, sys, time
ready, go, name, now = sys.argv[1:5]
from timebot.jobs.scheduler import main
pathlib.Path(ready).touch()
deadline = time.monotonic() + 60
while not pathlib.Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.002)
sys.exit(main(["--once", "--now", now, "--worker", name]))
"""


def report_day() -> tuple[date, datetime]:
    """The latest Monday that was a working day and whose digest time (Tuesday 09:00 Moscow)
    has passed by the wall clock; the outbox rows are then due for real dispatchers."""
    today = SystemClock().now().astimezone(MSK).date()
    monday = today - timedelta(days=today.weekday() or 7)
    while True:
        tuesday_0900 = datetime.combine(monday + timedelta(days=1), time(9), tzinfo=MSK)
        working = calendar_for("RU", monday.year).is_working(monday)
        if working and tuesday_0900 <= SystemClock().now():
            return monday, tuesday_0900
        monday -= timedelta(days=7)


class Collector:
    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.raw.append(bytes(envelope.original_content))
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.raw)
        return [email.message_from_bytes(r, policy=default_policy) for r in raw]  # type: ignore[misc]


def settings_for(stack: Stack, smtp_url: str) -> Settings:
    return Settings(
        database_url=stack.database_url,
        public_url=stack.base_url,
        bitrix_client_id=stack.config.client_id,
        bitrix_client_secret=stack.config.client_secret,
        bitrix_oauth_url=stack.portal.oauth_url,
        bitrix_event_mode="webhook",
        smtp_url=smtp_url,
        smtp_from=SENDER,
    )


async def write_marks(database: Database, portal_id: int, monday: date) -> None:
    """Everyone worked 09:00–18:00 with a lunch break in their zone, except: Мария (3) came at
    09:22, Дмитрий (4) did not come, Павел (10, Yekaterinburg) came at 09:40."""
    async with database.unit_of_work() as uow:
        employees = {e.bitrix_user_id: e.id for e in await uow.employees.active(portal_id)}
        assert set(employees) == set(range(1, 12))
        for uid, employee_id in employees.items():
            if uid == 4:
                continue
            zone = EKB if uid in EKB_PEOPLE else MSK
            start = {3: time(9, 22), 10: time(9, 40)}.get(uid, time(9))
            for mark in work_day_rows(
                portal_id, employee_id, monday, zone, start, location_verdict="inside"
            ):
                uow.marks.add(mark)
        await uow.commit()


async def tick_in_processes(stack: Stack, folder: Path, now: datetime, env: dict[str, str]) -> str:
    """Run PROCESSES scheduler ticks at once; their combined output."""
    await asyncio.to_thread(folder.mkdir)
    go = folder / "go"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            BARRIER,
            str(folder / f"ready-{i}"),
            str(go),
            f"worker-{i}",
            now.isoformat(),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for i in range(PROCESSES)
    ]
    try:
        await wait_until(
            lambda: (
                all((folder / f"ready-{i}").exists() for i in range(PROCESSES))
                or any(p.returncode is not None for p in procs)
            ),
            within=60,
        )
        go.touch()
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in procs)), timeout=60
        )
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()[-3000:]
    return "".join(out.decode() for out, _ in outputs)


def ran_counts(output: str) -> list[int]:
    """How many occurrences each process ran, from their "worker-N ran K" lines, sorted."""
    return sorted(int(line.rsplit(" ", 1)[1]) for line in output.splitlines() if " ran " in line)


async def outbox_status(database: Database) -> dict[str, str]:
    async with database.unit_of_work() as uow:
        rows = await uow.session.scalars(select(OutboxMessage))
        return {r.dedupe_key or "": r.status for r in rows}


async def test_three_processes_send_each_digest_once(postgres_url: str, tmp_path: Path) -> None:
    monday, now = report_day()
    smtp_port = free_port()
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    smtp_url = f"smtp://127.0.0.1:{smtp_port}?starttls=0"
    with timebot_with_sandbox(postgres_url, auto_join_group_chats=False) as stack:
        await wait_installed(stack)
        sandbox = stack.portal
        container = build_container(settings_for(stack, smtp_url), configure_logs=False)
        database = container.database
        try:
            async with database.unit_of_work() as uow:
                portal = await uow.portals.by_member_id(sandbox.member_id)
                assert portal is not None
                assert portal.bot_id is not None
                portal_id, bot_id = portal.id, portal.bot_id
            await sync_directory(database, container.bitrix, portal_id, clock=container.clock)
            await write_marks(database, portal_id, monday)

            env = stack.worker_env(TIMEBOT_SMTP_URL=smtp_url, TIMEBOT_SMTP_FROM=SENDER)
            output = await tick_in_processes(stack, tmp_path / "tick", now, env)
            ran = ran_counts(output)
            assert ran == [0, 0, 1], output

            async with database.unit_of_work() as uow:
                runs = [
                    (r.job_name, r.scope, r.period_key, r.status, r.claimed_by)
                    for r in await uow.session.scalars(select(JobRun))
                ]
            [(name, scope, period, status, winner)] = runs
            assert (name, scope, period, status) == (
                "digest",
                f"portal:{portal_id}",
                monday.isoformat(),
                "done",
            )
            assert winner in {f"worker-{i}" for i in range(PROCESSES)}
            day = monday.isoformat()
            assert await outbox_status(database) == {
                f"digest:{day}:2:0": "pending",
                f"digest:{day}:9:0": "pending",
                f"digest-mail:{day}:2": "pending",
                f"digest-mail:{day}:9": "pending",
            }

            # A second round of ticks (the next minute) finds everything claimed.
            output = await tick_in_processes(
                stack, tmp_path / "again", now + timedelta(minutes=1), env
            )
            assert ran_counts(output) == [0] * PROCESSES, output

            # Deliver: e-mail first (until the chat dispatcher skips e-mail rows), then chat.
            mailer = build_mail_dispatcher(container, worker="test-mail")
            assert mailer is not None
            assert await mailer.dispatch_once() == 2
            chat = OutboxDispatcher(database, container.bitrix, container.clock, worker="test")
            assert await chat.dispatch_once() == 2
            assert set((await outbox_status(database)).values()) == {"sent"}
            await sandbox.flush()

            def digests_to(user_id: int) -> list[Any]:
                return [
                    m
                    for m in sandbox.messages(str(user_id), bot_id=bot_id)
                    if m.author_id == bot_id and "Нарушения за" in m.text
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
            assert [name for name, _ in grid] == ["Дмитрий Кузнецов", "Мария Иванова"]
            assert "не отметился в рабочий день" in grid[0][1]
            assert "пришёл в 09:22, допуск до 09:10" in grid[1][1]
            buttons = [b for b in to_igor.keyboard or [] if b.get("COMMAND") == "explain"]
            assert [b["TEXT"] for b in buttons] == [
                "Запросить объяснение: Дмитрий Кузнецов",
                "Запросить объяснение: Мария Иванова",
            ]
            assert all(b["COMMAND_PARAMS"].endswith(f":{day}:absent") for b in buttons[:1])
            assert to_natalia.attach is not None
            assert "пришёл в 09:40, допуск до 09:10" in str(to_natalia.attach)

            mails = collector.messages()
            assert sorted(m["To"] for m in mails) == [
                "igor.petrov@romashka.example",
                "natalya.novikova@romashka.example",
            ]
            for message in mails:
                [attachment] = list(message.iter_attachments())
                assert attachment.get_filename() == f"нарушения-{day}.xlsx"
            print(
                f"\ndigest with {PROCESSES} processes: ran {ran}, "
                f"{len(runs)} job run, 2 chat messages, {len(mails)} e-mails"
            )
        finally:
            await container.aclose()
            controller.stop()
