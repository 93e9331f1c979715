"""A `timebot serve` process is SIGKILLed while check-ins pour in: every event it answered 200
for is in the database, and a worker's sweep applies what the dead process left, once each.

The kill lands right after the first answers arrive, while more requests are in flight and
their group commits are under way: had a 200 left before its commit, that event would be lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from tests.integration.gateway.wire import form, message, portal_database
from tests.support.servers import free_port
from timebot.bootstrap import build_container
from timebot.config import Settings
from timebot.domain.clock import FixedClock
from timebot.gateway.inbox import LEASE
from timebot.jobs.inbox import SWEEP_GRACE
from timebot.jobs.worker import Worker
from timebot.storage.tables import Mark, OutboxMessage, ProcessedEvent

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 120
IN_FLIGHT = 16
KILL_AFTER = 24  # answers


def start_serve(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
    env.update(
        TIMEBOT_ENVIRONMENT="test",
        TIMEBOT_DATABASE_URL=database_url,
        TIMEBOT_PUBLIC_URL=f"http://127.0.0.1:{port}",
        TIMEBOT_BITRIX_EVENT_MODE="webhook",
        TIMEBOT_LOG_LEVEL="WARNING",
    )
    with log.open("ab") as out:
        command = ["timebot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        return subprocess.Popen(
            [sys.executable, "-m", *command],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, "serve exited early"
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("serve did not start")


async def test_every_answered_event_survives_a_killed_serve_and_the_worker_applies_it(
    database_url: str, tmp_path: Path
) -> None:
    database, _ = await portal_database(database_url)
    port = free_port()
    process = start_serve(database_url, port, tmp_path / "serve.log")
    answered: set[int] = set()  # users whose check-in got 200 "accepted"
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base, process)
        now = datetime.now(UTC)
        bodies = {u: form(message(u, 70_000 + u, "пришёл", at=now)) for u in range(1, EVENTS + 1)}
        queue = list(bodies)
        headers = {"content-type": "application/x-www-form-urlencoded"}
        limits = httpx.Limits(max_connections=IN_FLIGHT)

        async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as http:

            async def send() -> None:
                while queue:
                    user = queue.pop(0)
                    try:
                        r = await http.post("/bitrix/events", content=bodies[user], headers=headers)
                    except httpx.TransportError:
                        continue  # the server is gone
                    if r.status_code == 200 and r.json()["result"] == "accepted":
                        answered.add(user)
                        if len(answered) == KILL_AFTER:
                            process.send_signal(signal.SIGKILL)

            await asyncio.gather(*(send() for _ in range(IN_FLIGHT)))
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL

        async with database.unit_of_work() as uow:
            stored = {
                int(person): status
                for person, status in (
                    await uow.session.execute(
                        select(ProcessedEvent.person_key, ProcessedEvent.status)
                    )
                ).all()
            }
        assert answered <= set(stored), "answered 200 but not stored"
        assert len(answered) >= KILL_AFTER

        # A worker comes by after the grace period and the dead process's leases.
        later = FixedClock(datetime.now(UTC) + SWEEP_GRACE + LEASE + timedelta(seconds=1))
        settings = Settings(database_url=database_url, bitrix_event_mode="webhook")
        container = build_container(settings, clock=later, configure_logs=False)
        try:
            worker = Worker(container)
            while await worker.sweep_inbox():
                pass
        finally:
            await container.aclose()
        async with database.unit_of_work() as uow:
            counts = await uow.events.counts()
            marks = await uow.session.scalar(select(func.count()).select_from(Mark))
            replies = await uow.session.scalar(select(func.count()).select_from(OutboxMessage))
        assert counts == {"applied": len(stored)}
        assert marks == replies == len(stored)  # each stored check-in applied exactly once
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await database.dispose()
