"""The worker's pulse: each loop's steps for the liveness probe, and gauges for Prometheus.

A worker is alive while its loops run and none of them is stuck in one step. A loop that keeps
failing (the database or Bitrix24 is down) is still alive: it retries with a back-off, and a
restart would not help; its consecutive failures are reported, and counted in
`timebot_worker_steps_total{outcome="failed"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from timebot.metrics import DB_UP, INBOX_WAITING, OUTBOX_PENDING
from timebot.storage import Database
from timebot.storage.tables import OutboxMessage, ProcessedEvent

# A step running longer than this is stuck (a hung connection, a deadlock): the probe fails so
# that the orchestrator restarts the worker. Legitimate steps (a digest for a large portal, a
# directory sync paced by the rate limit) take seconds to a few minutes.
STALL_SECONDS = 900.0
GAUGES_INTERVAL_SECONDS = 10.0


@dataclass(slots=True)
class Beat:
    """One loop's pulse, in time.monotonic() seconds."""

    steps: int = 0
    failures: int = 0  # consecutive failed steps
    finished_at: float | None = None  # when the last step ended
    running_since: float | None = None  # when the current step began (None between steps)

    def begin(self, now: float) -> None:
        self.running_since = now

    def end(self, now: float, *, ok: bool) -> None:
        self.steps += 1
        self.failures = 0 if ok else self.failures + 1
        self.finished_at = now
        self.running_since = None


def verdict(
    beats: Mapping[str, Beat],
    *,
    running: bool,
    now: float,
    stall_after: float = STALL_SECONDS,
) -> tuple[bool, dict[str, Any]]:
    """(alive, the probe's body) for a worker whose loops have these beats."""
    loops: dict[str, dict[str, Any]] = {}
    stalled: list[str] = []
    for name, beat in beats.items():
        busy = None if beat.running_since is None else now - beat.running_since
        if busy is not None and busy > stall_after:
            stalled.append(name)
        loops[name] = {
            "steps": beat.steps,
            "failures_in_a_row": beat.failures,
            "last_step_seconds_ago": (
                None if beat.finished_at is None else round(now - beat.finished_at, 3)
            ),
            "step_running_seconds": None if busy is None else round(busy, 3),
        }
    status = "stopped" if not running else "stalled" if stalled else "ok"
    body = {
        "status": status,
        "stalled": stalled,
        "failing": sorted(n for n, b in beats.items() if b.failures),
        "loops": loops,
    }
    return status == "ok", body


INBOX_STATES = ("pending", "dead")


async def refresh_gauges(database: Database) -> None:
    """Count pending outbox rows and inbox events not applied yet (index ranges, cheap) and
    note that the database answered."""
    try:
        async with database.unit_of_work() as uow:
            pending = await uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "pending")
            )
            waiting = dict.fromkeys(INBOX_STATES, 0)
            rows = await uow.session.execute(
                select(ProcessedEvent.status, func.count())
                .where(ProcessedEvent.status.in_(INBOX_STATES))
                .group_by(ProcessedEvent.status)
            )
            waiting.update({str(status): int(n) for status, n in rows.all()})
    except Exception:
        DB_UP.set(0)
        raise
    DB_UP.set(1)
    OUTBOX_PENDING.set(pending or 0)
    for status, n in waiting.items():
        INBOX_WAITING.labels(status).set(n)
