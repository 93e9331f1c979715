"""The worker process: periodic loops (event polling, inbox sweep, outbox dispatch, bot setup)
until stopped.

Loops are listed explicitly in `Worker.loops()`; each survives its own errors with a back-off,
so one failing portal or a database blip does not stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from timebot.bootstrap import Container, connect_configured_webhook
from timebot.gateway.directory import sync_due
from timebot.gateway.inbox import InboxApplier
from timebot.gateway.install import ensure_bot
from timebot.gateway.limits import plan_check_due, refresh_plan_limits
from timebot.gateway.networks import import_due
from timebot.gateway.outbox import OutboxDispatcher
from timebot.gateway.poller import EventPoller
from timebot.jobs.digest import build_mail_dispatcher
from timebot.jobs.inbox import SWEEP_GRACE, SWEEP_INTERVAL_SECONDS
from timebot.jobs.liveness import GAUGES_INTERVAL_SECONDS, Beat, refresh_gauges
from timebot.jobs.reminders import REMINDERS_INTERVAL_SECONDS, run_reminders
from timebot.jobs.retention import (
    RETENTION_INTERVAL_SECONDS,
    erase_expired_locations,
    forget_applied_events,
)
from timebot.jobs.scheduler import SCHEDULER_TICK_SECONDS, run_due_jobs
from timebot.logs import get_logger
from timebot.metrics import WORKER_STEPS

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Loop:
    """A periodic task: `step()` returns True when it did work (then it runs again at once)."""

    name: str
    interval: float
    step: Callable[[], Awaitable[bool]]


class Worker:
    def __init__(self, container: Container, *, loops: list[Loop] | None = None) -> None:
        self.container = container
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = asyncio.Event()
        c = container
        self.outbox = OutboxDispatcher(
            c.database,
            c.bitrix,
            c.clock,
            worker=self.identity,
            max_attempts=c.settings.outbox_max_attempts,
            lease=timedelta(seconds=c.settings.outbox_lease_seconds),
            config=c.gateway,
        )
        self.poller = EventPoller(
            c.database, c.bitrix, c.clock, c.dispatcher, c.gateway, worker=f"{self.identity}:poll"
        )
        self.inbox = InboxApplier(
            c.database, c.clock, c.dispatcher, c.gateway, worker=f"{self.identity}:inbox"
        )
        self.mail = build_mail_dispatcher(c, worker=self.identity)
        self._loops = loops if loops is not None else self.loops()
        # Each loop's pulse, read by the liveness probe (`timebot worker --metrics-port`).
        self.beats = {lp.name: Beat() for lp in self._loops}
        self._tasks: list[asyncio.Task[None]] = []

    def loops(self) -> list[Loop]:
        """The worker's loops, in one place (no registration by import side effects)."""
        s = self.container.settings
        return [
            Loop("setup", 30.0, self.setup_portals),
            Loop("poll-events", s.poll_interval_seconds, self.poll_events),
            Loop("inbox", SWEEP_INTERVAL_SECONDS, self.sweep_inbox),
            Loop("outbox", s.outbox_interval_seconds, self.dispatch_outbox),
            Loop("directory", 60.0, self.sync_directories),
            Loop("retention", RETENTION_INTERVAL_SECONDS, self.erase_locations),
            Loop("jobs", SCHEDULER_TICK_SECONDS, self.run_jobs),
            *([Loop("mail", s.outbox_interval_seconds, self.send_mail)] if self.mail else []),
            Loop("reminders", REMINDERS_INTERVAL_SECONDS, self.send_reminders),
            Loop("gauges", GAUGES_INTERVAL_SECONDS, self.refresh_gauges),
        ]

    async def setup_portals(self) -> bool:
        """Register bots for portals that have none (after install, or a failed first try)."""
        c = self.container
        await connect_configured_webhook(c)
        async with c.database.unit_of_work() as uow:
            ids = [p.id for p in await uow.portals.without_bot()]
        for pid in ids:
            try:
                await ensure_bot(c.database, c.bitrix, pid, clock=c.clock, config=c.gateway)
            except Exception:
                log.exception("setup.bot_failed", portal_id=pid)
        # Plans change (a trial ends, Enterprise is bought): re-read the limits daily.
        now = c.clock.now()
        async with c.database.unit_of_work() as uow:
            due = [p.id for p in await uow.portals.active() if plan_check_due(p, now)]
        for pid in due:
            await refresh_plan_limits(c.database, c.bitrix, pid, clock=c.clock)
        # Office networks (timeman.networkrange) as a second presence signal, daily.
        await import_due(c.database, c.bitrix, clock=c.clock)
        return False

    async def sync_directories(self) -> bool:
        """Employees and departments from Bitrix24: after install, a new face, and daily."""
        c = self.container
        await sync_due(c.database, c.bitrix, clock=c.clock)
        return False

    async def send_reminders(self) -> bool:
        """Check-in / check-out reminders and the provisional close of forgotten days."""
        c = self.container
        await run_reminders(c.database, clock=c.clock, config=c.gateway)
        return False

    async def erase_locations(self) -> bool:
        """Raw coordinates past the portal's retention period are erased (verdicts stay), and
        applied events past their dedupe window leave the inbox."""
        await erase_expired_locations(self.container.database, clock=self.container.clock)
        await forget_applied_events(self.container.database, clock=self.container.clock)
        return False

    async def run_jobs(self) -> bool:
        """Scheduled jobs (daily digests …), each occurrence claimed once across workers."""
        c = self.container
        await run_due_jobs(c, c.clock.now(), worker=self.identity)
        return False

    async def send_mail(self) -> bool:
        assert self.mail is not None
        return await self.mail.dispatch_once() > 0

    async def poll_events(self) -> bool:
        return await self.poller.poll_all() > 0

    async def sweep_inbox(self) -> bool:
        """Apply stored events a web process left (it died after answering, or lags behind)."""
        before = self.container.clock.now() - SWEEP_GRACE
        return await self.inbox.apply_due(received_before=before) > 0

    async def dispatch_outbox(self) -> bool:
        return await self.outbox.dispatch_once() > 0

    async def refresh_gauges(self) -> bool:
        """Pending outbox rows and database reachability, for Prometheus."""
        await refresh_gauges(self.container.database)
        return False

    def stop(self) -> None:
        self._stop.set()

    @property
    def running(self) -> bool:
        """Started, not asked to stop, and every loop still going."""
        tasks = self._tasks
        return bool(tasks) and not self._stop.is_set() and not any(t.done() for t in tasks)

    async def run(self) -> None:
        log.info("worker.started", identity=self.identity, loops=[lp.name for lp in self._loops])
        tasks = [asyncio.create_task(self._run_loop(lp), name=lp.name) for lp in self._loops]
        self._tasks = tasks
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            log.info("worker.stopped", identity=self.identity)

    async def _run_loop(self, loop: Loop) -> None:
        failures = 0
        beat = self.beats[loop.name]
        while not self._stop.is_set():
            beat.begin(time.monotonic())
            try:
                busy = await loop.step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("worker.loop_failed", loop=loop.name, failures=failures)
                busy = False
            beat.end(time.monotonic(), ok=failures == 0)
            WORKER_STEPS.labels(loop.name, "failed" if failures else "ok").inc()
            delay = 0.0 if busy else loop.interval * min(2 ** max(failures - 1, 0), 30)
            if delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
            else:
                await asyncio.sleep(0)
