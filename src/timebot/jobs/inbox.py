"""The inbox in a running process: the web side (`Inbox`: requests verify and store events, an
applier task woken by each commit runs the bot for them) and the worker's sweep settings.

The web applier gives way to intake: before each event it waits until no intake request has
been in flight for `quiet` seconds, but never longer than `max_defer`. A lone event is applied
at once (a couple of milliseconds after its 200); under a burst the 200s go first (a portal
that waits too long for one drops the event), and the applier still gets a share of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from timebot.bitrix import BitrixEvent
from timebot.bootstrap import Container
from timebot.gateway.inbox import InboxApplier, InboxWriter
from timebot.gateway.intake import Outcome, PortalCache, receive_event
from timebot.logs import get_logger

log = get_logger(__name__)

# The web applier also wakes this often without a commit (retries that fell due).
APPLY_INTERVAL_SECONDS = 1.0
# Intake counts as busy until it has had no request in flight for this long.
QUIET_SECONDS = 0.002
# Longest an event waits for intake to be quiet before it is applied anyway: while intake is
# saturated, the applier still takes one event per 0.25 s. On SQLite an event's transaction
# holds the process's one connection, so each such event delays the requests in flight.
MAX_DEFER_SECONDS = 0.25
# The worker applies events another process stored but has not applied this long after
# receipt (it died after answering, or lags behind a burst).
SWEEP_GRACE = timedelta(seconds=5)
SWEEP_INTERVAL_SECONDS = 2.0
STOP_TIMEOUT_SECONDS = 10.0


def identity(role: str) -> str:
    """A lease holder's name: host, process, role."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}"


class Inbox:
    """Event intake and the applier of one web process."""

    def __init__(
        self,
        container: Container,
        *,
        max_defer: float = MAX_DEFER_SECONDS,
        quiet: float = QUIET_SECONDS,
        interval: float = APPLY_INTERVAL_SECONDS,
    ) -> None:
        c = container
        self.clock = c.clock
        self.max_defer = max_defer
        self.quiet = quiet
        self.interval = interval
        self.portals = PortalCache(c.database)
        self.writer = InboxWriter(c.database, on_commit=self.wake)
        self.applier = InboxApplier(
            c.database,
            c.clock,
            c.dispatcher,
            c.gateway,
            worker=identity(f"web:{id(self):x}"),
            pause=self._give_way,
        )
        self._wakeup = asyncio.Event()
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._in_flight = 0
        self._last_request = 0.0  # loop time the last intake request finished
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def receive(self, event: BitrixEvent, payload: Mapping[str, Any]) -> Outcome:
        """Verify and store a pushed event; returns once it is durable (or refused)."""
        self._in_flight += 1
        self._quiet.clear()
        try:
            return await receive_event(
                event,
                payload,
                portals=self.portals,
                store=self.writer.store,
                now=self.clock.now(),
            )
        finally:
            self._in_flight -= 1
            self._last_request = asyncio.get_running_loop().time()
            if not self._in_flight:
                self._quiet.set()

    def wake(self) -> None:
        """Apply now (called after each commit of received events)."""
        self._wakeup.set()

    async def _give_way(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_defer
        while (now := loop.time()) < deadline:
            if self._in_flight:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), deadline - now)
                continue
            quiet_for = now - self._last_request
            if quiet_for >= self.quiet:
                return
            await asyncio.sleep(min(self.quiet - quiet_for, deadline - now))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-applier")

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wakeup.clear()
            try:
                while not self._stopping and await self.applier.apply_due():
                    pass
                failures = 0
            except Exception:
                failures += 1
                log.exception("inbox.applier_failed", failures=failures)
            delay = self.interval * min(2**failures, 30)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)

    async def aclose(self) -> None:
        """Finish the batch in hand, then stop; what is left waits in the database."""
        await self.writer.aclose()
        self._stopping = True
        self.wake()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
