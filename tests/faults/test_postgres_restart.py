"""PostgreSQL goes down mid-rush (an immediate shutdown: connections cut, no checkpoint) and
comes back a few seconds later. It is a private cluster started for this test — the machine's
shared server is never touched.

While the database is down, the intake cannot store events and refuses them (non-200), so
people see no reply and press again; workers' loops fail and back off. Once the server is
back, connection pools reconnect (pre-ping) and the books close: every accepted mark stored
once, every queued reply delivered. A batch of replies that reached the chat just as the
database went away cannot be marked sent; it goes out again when its lease ends
(at-least-once delivery), so some replies of that batch may be seen twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fleet import SCRIPT, Fleet, PrivatePostgres, eventually

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STAFF = 30
DOWN_SECONDS = 5.0
BATCH = 50  # the outbox's batch size


async def test_postgresql_restarted_mid_rush(
    private_postgres: PrivatePostgres, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    pg = private_postgres
    async with Fleet(
        pg.url,
        tmp_path / "fleet",
        serve=2,
        workers=2,
        staff=STAFF,
        people={"retry_pause": 1.0, "max_tries": 90},
        # A worker whose batch reached the chat but whose "sent" could not be written keeps
        # those rows leased; a short lease lets them go out again soon (at-least-once).
        env={"TIMEBOT_OUTBOX_LEASE_SECONDS": "15"},
    ) as fleet:
        window: list[float] = []

        async def restart_mid_rush() -> None:
            async def busy() -> bool:
                return sum(r.status == 200 for r in fleet.ledger.records()) >= STAFF * 2

            await eventually(busy, within=120, step=0.05, what="a third of the rush")
            window.append(time.monotonic())
            await asyncio.to_thread(pg.stop, "immediate")
            await asyncio.sleep(DOWN_SECONDS)
            await asyncio.to_thread(pg.start)
            window.append(time.monotonic())

        actions = await fleet.people.run(fleet.staff, SCRIPT, during=restart_mid_rush)
        report = await fleet.settle(actions, label="PostgreSQL restarted mid-rush", within=180)
        during = [r for r in fleet.ledger.records() if window[0] <= r.at <= window[1] + 1]
        report.extra["answers while down"] = dict(sorted(Counter(r.status for r in during).items()))
        publish(report.line())
        # At most one batch per worker was in flight when the database went away.
        allowed = BATCH * len(fleet.worker_procs)
        assert report.problems(reply_copies=allowed) == [], report.line() + "\n" + fleet.logs()
        assert report.events_refused > 0, "the restart went unnoticed"
        assert all(p.alive() for p in [*fleet.serve_procs, *fleet.worker_procs]), fleet.logs()
