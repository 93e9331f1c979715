"""The worker process: periodic loops (event polling, outbox dispatch, scheduler) until stopped.

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

from timebot.bootstrap import Container
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
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = asyncio.Event()
        self._loops = loops if loops is not None else self.loops()

    def loops(self) -> list[Loop]:
        """The worker's loops, in one place (no registration by import side effects)."""
        return []

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
