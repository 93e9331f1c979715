"""A `timebot worker` process is SIGKILLed in the middle of dispatching the outbox; a second
worker takes over the dead one's leased rows once the lease runs out, and every queued reply
reaches the chat. Delivery is at-least-once: the batch in flight at the kill may arrive twice,
and the test reports how many such visible duplicates there were.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.support.stack import Stack, timebot_with_sandbox, wait_installed, wait_until
from timebot.bitrix import send_message_params
from timebot.domain.clock import SystemClock
from timebot.storage import Database

MESSAGES = 300
DIALOG = "2"
LATENCY = 0.5  # seconds the sandbox adds to every REST request: one batch of 50 takes ~0.5 s
LEASE = 4.0  # seconds a claimed row stays with its worker
ROOT = Path(__file__).resolve().parents[2]


def start_worker(stack: Stack, log: Path) -> subprocess.Popen[bytes]:
    env = stack.worker_env(
        TIMEBOT_OUTBOX_LEASE_SECONDS=str(LEASE),
        TIMEBOT_OUTBOX_INTERVAL_SECONDS="0.1",
        TIMEBOT_POLL_INTERVAL_SECONDS="5",
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "timebot.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def enqueue(database: Database, member_id: str) -> int:
    """Queue MESSAGES distinct replies; returns the bot id."""
    now = SystemClock().now()
    async with database.unit_of_work() as uow:
        portal = await uow.portals.by_member_id(member_id)
        assert portal is not None
        assert portal.bot_id is not None
        bot_id = portal.bot_id
        for i in range(MESSAGES):
            key = f"crash-{i}"
            method, params = send_message_params(
                "v2", bot_id, DIALOG, f"reply #{i}", message_id_key=key
            )
            assert await uow.outbox.enqueue(
                portal_id=portal.id,
                kind="message",
                method=method,
                payload={"params": params},
                now=now,
                dedupe_key=key,
            )
        await uow.commit()
    return bot_id


async def outbox_counts(database: Database) -> dict[str, int]:
    async with database.unit_of_work() as uow:
        return await uow.outbox.counts()


async def test_a_killed_worker_loses_no_reply(database_url: str, tmp_path: Path) -> None:
    with timebot_with_sandbox(database_url, auto_join_group_chats=False) as stack:
        await wait_installed(stack)
        sandbox = stack.portal
        database = Database.from_url(database_url)
        first: subprocess.Popen[bytes] | None = None
        second: subprocess.Popen[bytes] | None = None
        log = tmp_path / "workers.log"
        try:
            assert await outbox_counts(database) == {}
            bot_id = await enqueue(database, sandbox.member_id)
            sandbox.set_faults(latency=LATENCY)

            def sent_by_bot() -> int:
                return sandbox.stats.messages_by_bot.get(bot_id, 0)

            first = start_worker(stack, log)
            # Kill once the third batch has reached the chat: by then earlier ones are settled.
            await wait_until(
                lambda: sent_by_bot() >= 150 or first.poll() is not None, within=30, step=0.01
            )
            assert first.poll() is None, log.read_text()
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            at_kill = sent_by_bot()
            assert 0 < at_kill < MESSAGES
            counts = await outbox_counts(database)
            pending = counts.get("pending", 0)
            assert pending > 0, "the worker finished before it was killed"

            second = start_worker(stack, log)

            async def all_sent() -> bool:
                return await outbox_counts(database) == {"sent": MESSAGES}

            deadline = time.monotonic() + 60
            while not await all_sent() and second.poll() is None:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                await asyncio.sleep(0.1)
            assert await all_sent(), log.read_text()[-3000:]
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=15) == 0
            await sandbox.flush()

            texts = Counter(m.text for m in sandbox.messages(DIALOG, bot_id=bot_id))
            expected = {f"reply #{i}" for i in range(MESSAGES)}
            assert set(texts) == expected
            duplicates = sum(n - 1 for n in texts.values())
            # Only the batch in flight at the kill can be repeated (one batch ≤ 50 replies).
            assert duplicates <= 50
            print(
                f"\nworker crash ({database_url.split(':')[0]}): {at_kill} visible at the kill, "
                f"{counts.get('sent', 0)} rows settled as sent, {pending} pending; "
                f"{duplicates} visible duplicates after recovery"
            )
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
            await database.dispose()
