"""The worker process: periodic loops (event polling, outbox dispatch, bot setup) until stopped.

Loops are listed explicitly in `Worker.loops()`; each survives its own errors with a back-off,
so one failing portal or a database blip does not stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from timebot.bootstrap import Container, connect_configured_webhook
from timebot.gateway.install import ensure_bot
from timebot.gateway.outbox import OutboxDispatcher
from timebot.gateway.poller import EventPoller
from timebot.logs import get_logger

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
        )
        self.poller = EventPoller(c.database, c.bitrix, c.clock, c.dispatcher, c.gateway)
        self._loops = loops if loops is not None else self.loops()

    def loops(self) -> list[Loop]:
        """The worker's loops, in one place (no registration by import side effects)."""
        s = self.container.settings
        return [
            Loop("setup", 30.0, self.setup_portals),
            Loop("poll-events", s.poll_interval_seconds, self.poll_events),
            Loop("outbox", s.outbox_interval_seconds, self.dispatch_outbox),
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
        return False

    async def poll_events(self) -> bool:
        return await self.poller.poll_all() > 0

    async def dispatch_outbox(self) -> bool:
        return await self.outbox.dispatch_once() > 0

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        log.info("worker.started", identity=self.identity, loops=[lp.name for lp in self._loops])
        tasks = [asyncio.create_task(self._run_loop(lp), name=lp.name) for lp in self._loops]
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
        while not self._stop.is_set():
            try:
                busy = await loop.step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("worker.loop_failed", loop=loop.name, failures=failures)
                busy = False
            delay = 0.0 if busy else loop.interval * min(2 ** max(failures - 1, 0), 30)
            if delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
            else:
                await asyncio.sleep(0)
