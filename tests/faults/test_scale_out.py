"""Scale-out: three `timebot serve` and two `timebot worker` processes on one PostgreSQL, the
portal's events spread over the serve processes by a round-robin balancer.

Fifty people each open the bot's dialog, check in, take a break, come back, ask for their
status and check out (six events each) at once. The books must close: every accepted mark is
stored once, every accepted event has its reply, every reply reaches the chat once. Then the
daily digest is switched on for the current minute, so both workers' schedulers find it due
on their next tick: the occurrence is claimed once and every manager gets exactly one digest.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fleet import SCRIPT, Fleet, digest_keys, eventually, local_now, template_of
from timebot.jobs.scheduler import SCHEDULER_TICK_SECONDS

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STAFF = 50


async def test_three_serve_two_workers_keep_the_books(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(
        postgres_url,
        tmp_path / "fleet",
        serve=3,
        workers=2,
        staff=STAFF,
        workers_after_install=True,  # no scheduler tick before the digest is switched off
    ) as fleet:
        actions = await fleet.people.run(fleet.staff, SCRIPT)
        report = await fleet.settle(actions, label="scale-out: 3 serve + 2 workers")
        spread = Counter(r.upstream for r in fleet.ledger.records() if r.status == 200)
        report.extra["accepted events per serve"] = sorted(spread.values())
        report.extra["peak RSS MB"] = {k: v // 1024 for k, v in fleet.peak_rss().items()}
        publish(report.line())
        assert report.problems() == [], report.line() + "\n" + fleet.logs()
        assert report.accepted_events >= STAFF * len(SCRIPT), report.line()
        assert len(spread) == 3, spread

        # The daily digest, due now for both workers' schedulers.
        await fleet.update_portal_settings(
            digest_time=local_now(), digest_send_empty=True, digest_email=False
        )
        switched_on = time.monotonic()

        async def digest_done() -> bool:
            runs = await fleet.job_runs("digest")
            return any(r.status == "done" for r in runs)

        await eventually(digest_done, within=90, what="the digest run")
        # Let every worker's scheduler tick at least once with the digest due.
        await asyncio.sleep(max(0.0, switched_on + SCHEDULER_TICK_SECONDS + 1 - time.monotonic()))
        queued_by = [p.name for p in fleet.worker_procs if "digest.queued" in p.log_tail(10**6)]
        final = await fleet.settle(actions, label="scale-out + daily digest")
        runs = await fleet.job_runs("digest")
        rows = await fleet.outbox_rows()
        digests = digest_keys(rows)
        expected = set(fleet.managers())
        messages = await fleet.bot_messages()
        copies = Counter(uuid for _, _, uuid, _ in messages)
        by_key = {r.dedupe_key: r for r in rows}
        seen = {
            manager: [copies[template_of(by_key[k])] for k in keys]
            for manager, keys in digests.items()
        }
        final.extra["digest"] = (
            f"{len(runs)} run, queued by {queued_by} of {len(fleet.worker_procs)} workers, "
            f"{len(digests)} managers, {sum(len(k) for k in digests.values())} messages"
        )
        publish(final.line())
        assert final.problems() == [], final.line() + "\n" + fleet.logs()
        assert [(r.status, r.scope) for r in runs] == [("done", f"portal:{fleet.portal_id}")]
        assert len(queued_by) == 1, queued_by
        assert set(digests) == expected, (sorted(digests), sorted(expected))
        # Exactly one digest per manager, each delivered once.
        assert all(copies == [1] for copies in seen.values()), seen
