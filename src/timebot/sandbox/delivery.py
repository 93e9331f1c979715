"""Pushing events to applications: one form POST per event, no retries (like Bitrix24);
failures are logged and recorded, never raised. Pushes can be awaited or run in the background.
Injected event faults (see `FaultConfig`) delay bot events and POST some of them twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from timebot.sandbox.faults import Faults

__all__ = ["Delivery", "DeliveryRecord", "Push"]

log = logging.getLogger(__name__)


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process."""
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class Push:
    """One event to POST: the handler URL and the already encoded form body."""

    url: str
    body: str
    event: str
    bot_id: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """What happened to one push: HTTP status, or 0 with an error text; `replay` marks the
    second copy of a duplicated event."""

    url: str
    event: str
    bot_id: int | None
    status: int
    error: str
    body: str
    at: float
    replay: bool = False


class Delivery:
    """Sends pushes with httpx and keeps the last records for tests and the control page."""

    def __init__(self, timeout: float, faults: Faults | None = None) -> None:
        self.timeout = timeout
        self.faults = faults
        self.records: deque[DeliveryRecord] = deque(maxlen=1000)
        self.sent = 0
        self.failed = 0
        self.replayed = 0
        self._tasks: set[asyncio.Task[DeliveryRecord]] = set()

    async def send(self, push: Push) -> DeliveryRecord:
        """POST one event now (after the injected jitter, for bot events) and record the
        outcome; an injected duplicate follows in the background."""
        faults = self.faults if push.bot_id is not None else None
        plan = faults.plan_event() if faults is not None else None
        if plan is not None and plan.delay > 0:
            await asyncio.sleep(plan.delay)
        record = await self._post(push)
        if plan is not None and plan.replay_after is not None:
            self._spawn(self._replay(push, plan.replay_after))
        return record

    async def _replay(self, push: Push, after: float) -> DeliveryRecord:
        await asyncio.sleep(after)
        self.replayed += 1
        return await self._post(push, replay=True)

    async def _post(self, push: Push, *, replay: bool = False) -> DeliveryRecord:
        status, error = 0, ""
        try:
            # A fresh client per push: Bitrix24 opens a new connection per event, and the
            # sandbox then needs no lifecycle hooks when mounted inside another app. The TLS
            # context is shared: building one costs ~20 ms of CPU, which capped the sandbox
            # near 40 events/s in the morning-rush bench.
            async with httpx.AsyncClient(timeout=self.timeout, verify=_tls()) as client:
                response = await client.post(
                    push.url,
                    content=push.body.encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            status = response.status_code
            if status >= 400:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        record = DeliveryRecord(
            push.url, push.event, push.bot_id, status, error, push.body, time.time(), replay
        )
        self.records.append(record)
        if error:
            self.failed += 1
            log.warning("event %s to %s failed: %s", push.event, push.url, error)
        else:
            self.sent += 1
        return record

    async def send_all(self, pushes: list[Push]) -> list[DeliveryRecord]:
        """POST several events one after another (Bitrix24 keeps the order per handler)."""
        return [await self.send(push) for push in pushes]

    def schedule(self, pushes: list[Push]) -> None:
        """POST events in the background, in order."""
        if pushes:
            self._spawn(self._send_chain(pushes))

    def _spawn(self, work: Coroutine[Any, Any, DeliveryRecord]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every background push has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send_chain(self, pushes: list[Push]) -> DeliveryRecord:
        records = await self.send_all(pushes)
        return records[-1]
