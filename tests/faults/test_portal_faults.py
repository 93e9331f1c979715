"""The portal misbehaves while people act; nothing is lost and nothing is doubled.

- Its REST API is down for two real minutes (every call answered by its proxy's 503 page).
  People keep pressing: their events still arrive (the intake never waits on the portal) and
  marks are stored; replies pile up in the outbox, retried with back-off (2, 4, 8 … s over
  8 attempts, well over two minutes) and all reach the chat once the portal is back.
- One REST call in five fails with 503 QUERY_LIMIT_EXCEEDED: the client and the outbox retry.
- Every REST call takes two seconds: replies come late but all come, events are still
  answered at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fleet import SCRIPT, Fleet, eventually

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STAFF = 20
OUTAGE_SECONDS = 120.0


@pytest.mark.timeout(600)
async def test_portal_down_for_two_minutes(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(
        postgres_url,
        tmp_path / "fleet",
        serve=2,
        workers=2,
        staff=STAFF,
        people={"reply_wait": 1.0},
    ) as fleet:
        began: list[float] = []
        sent_before = 0

        async def outage_mid_rush() -> None:
            nonlocal sent_before

            async def busy() -> bool:
                return sum(r.status == 200 for r in fleet.ledger.records()) >= STAFF * 2

            await eventually(busy, within=120, step=0.05, what="a third of the rush")
            sent_before = fleet.portal.stats.messages_by_bot.get(fleet.bot_id, 0)
            began.append(time.monotonic())
            await fleet.set_faults(outage_seconds=OUTAGE_SECONDS)

        actions = await fleet.people.run(fleet.staff, SCRIPT, during=outage_mid_rush)
        rush_done = time.monotonic()
        report = await fleet.settle(actions, label="portal down for 2 minutes", within=360)
        closed_after = time.monotonic() - began[0]
        stats = fleet.portal.snapshot()["stats"]
        report.extra["outage"] = (
            f"{stats['outage_rejections']} REST calls refused, rush done "
            f"{rush_done - began[0]:.0f} s into it, books closed {closed_after:.0f} s after "
            f"it began ({sent_before} replies in the chat before it)"
        )
        publish(report.line())
        assert report.problems() == [], report.line() + "\n" + fleet.logs()
        assert stats["outage_rejections"] > 0
        assert sent_before < report.replies_queued
        assert closed_after >= OUTAGE_SECONDS


async def test_one_rest_call_in_five_fails_with_503(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(postgres_url, tmp_path / "fleet", serve=2, workers=2, staff=STAFF) as fleet:
        await fleet.set_faults(error_rate=0.2, error_statuses=[503], seed=5)
        actions = await fleet.people.run(fleet.staff, SCRIPT)
        report = await fleet.settle(actions, label="20 % of REST calls fail with 503")
        stats = fleet.portal.snapshot()["stats"]
        report.extra["REST"] = (
            f"{stats['requests']} calls, {stats['faults_injected']} injected 503s "
            f"({stats['faults_injected'] / max(stats['requests'], 1):.0%})"
        )
        publish(report.line())
        assert report.problems() == [], report.line() + "\n" + fleet.logs()
        assert stats["faults_injected"] > 0


async def test_a_portal_answering_in_two_seconds(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(postgres_url, tmp_path / "fleet", serve=2, workers=2, staff=STAFF) as fleet:
        await fleet.set_faults(latency=2.0)
        actions = await fleet.people.run(fleet.staff, SCRIPT)
        report = await fleet.settle(actions, label="a portal answering in 2 s", within=180)
        stats = fleet.portal.snapshot()["stats"]
        report.extra["REST"] = f"{stats['requests']} calls of 2 s"
        publish(report.line())
        assert report.problems() == [], report.line() + "\n" + fleet.logs()
        # The intake answers without calling the portal: no event waited for a 2 s call.
        assert report.answer_ms[1] < 2000, report.line()
