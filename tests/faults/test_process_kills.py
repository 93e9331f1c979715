"""Processes die mid-rush (SIGKILL: no clean-up, no goodbye) and the books still close.

- A serve process hangs (SIGSTOP) while it handles requests and is then killed (SIGKILL). The
  balancer sends the following events to the other processes (a refused connection is safe
  to try elsewhere); the events that were in flight at the kill are answered 502, so their
  people, seeing no reply, do it again. Whatever that process had accepted is applied anyway
  (the intake's 200 means stored). The process is started again on its port and takes its
  share of events once more.
- A worker is killed while it is sending replies (the portal answers in 0.2 s, so a batch is
  in flight). Its leased outbox rows go to the other worker when the lease runs out; the batch
  in flight may reach the chat twice (at-least-once delivery: at most one batch of 50).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fleet import SCRIPT, Fleet, eventually

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STAFF = 30
BATCH = 50  # the outbox's batch size: what one killed worker may have had in flight


async def test_sigkill_of_a_serve_process_mid_rush(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(postgres_url, tmp_path / "fleet", serve=3, workers=2, staff=STAFF) as fleet:
        victim = fleet.serve_procs[1]
        accepted_before_kill = 0

        async def kill_mid_rush() -> None:
            nonlocal accepted_before_kill

            async def busy() -> bool:
                return sum(r.status == 200 for r in fleet.ledger.records()) >= STAFF * 2

            await eventually(busy, within=120, step=0.05, what="a third of the rush")

            async def in_flight() -> bool:
                return fleet.balancer.in_flight[victim.url] > 0

            # Catch requests inside: freeze it while it handles one, let a few more reach it,
            # then kill it.
            await eventually(in_flight, within=30, step=0.001, what="a request in flight")
            victim.freeze()
            await asyncio.sleep(1.0)
            accepted_before_kill = sum(
                r.status == 200 and r.upstream == victim.url for r in fleet.ledger.records()
            )
            await fleet.kill(victim)
            await asyncio.sleep(3)
            await fleet.restart(victim)

        since = fleet.ledger.seq
        actions = await fleet.people.run(fleet.staff, SCRIPT, during=kill_mid_rush)
        report = await fleet.settle(actions, label="SIGKILL of a serve process mid-rush")
        records = fleet.ledger.records(since)
        after_restart = (
            sum(r.status == 200 and r.upstream == victim.url for r in records)
            - accepted_before_kill
        )
        report.extra["balancer"] = (
            f"{fleet.balancer.refused_connections} refused connections retried elsewhere, "
            f"{fleet.balancer.lost_in_flight} requests lost in flight"
        )
        report.extra["victim"] = (
            f"accepted {accepted_before_kill} before the kill, {after_restart} after its restart"
        )
        publish(report.line())
        assert report.problems() == [], report.line() + "\n" + fleet.logs()
        assert victim.kills == 1
        assert accepted_before_kill > 0
        assert fleet.balancer.lost_in_flight > 0, report.line()
        assert report.events_refused > 0, report.line()
        assert after_restart > 0, report.line()


async def test_sigkill_of_a_worker_mid_rush(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(
        postgres_url,
        tmp_path / "fleet",
        serve=2,
        workers=2,
        staff=STAFF,
        env={"TIMEBOT_OUTBOX_LEASE_SECONDS": "5"},
    ) as fleet:
        await fleet.set_faults(latency=0.2)
        victim = fleet.worker_procs[0]
        sent_at_kill = 0

        def replies() -> int:
            return fleet.portal.stats.messages_by_bot.get(fleet.bot_id, 0)

        async def kill_mid_rush() -> None:
            nonlocal sent_at_kill

            async def busy() -> bool:
                return replies() >= STAFF * 2

            await eventually(busy, within=120, step=0.02, what="replies flowing")
            await fleet.kill(victim)
            sent_at_kill = replies()
            await asyncio.sleep(8)
            await fleet.restart(victim)

        actions = await fleet.people.run(fleet.staff, SCRIPT, during=kill_mid_rush)
        report = await fleet.settle(actions, label="SIGKILL of a worker mid-rush")
        report.extra["at the kill"] = f"{sent_at_kill} replies in the chat"
        publish(report.line())
        assert report.problems(reply_copies=BATCH) == [], report.line() + "\n" + fleet.logs()
        assert victim.kills == 1
        assert 0 < sent_at_kill < report.replies_queued
