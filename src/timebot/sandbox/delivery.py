"""Pushing events to applications: one form POST per event, no retries (like Bitrix24);
failures are logged and recorded, never raised. Pushes can be awaited or run in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass

import httpx

__all__ = ["Delivery", "DeliveryRecord", "Push"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Push:
    """One event to POST: the handler URL and the already encoded form body."""

    url: str
    body: str
    event: str
    bot_id: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """What happened to one push: HTTP status, or 0 with an error text."""

    url: str
    event: str
    bot_id: int | None
    status: int
    error: str
    body: str
    at: float


class Delivery:
    """Sends pushes with httpx and keeps the last records for tests and the control page."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.records: deque[DeliveryRecord] = deque(maxlen=1000)
        self.sent = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[DeliveryRecord]] = set()

    async def send(self, push: Push) -> DeliveryRecord:
        """POST one event now and record the outcome."""
        status, error = 0, ""
        try:
            # A fresh client per push: Bitrix24 opens a new connection per event, and the
            # sandbox then needs no lifecycle hooks when mounted inside another app.
            async with httpx.AsyncClient(timeout=self.timeout) as client:
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
            push.url, push.event, push.bot_id, status, error, push.body, time.time()
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
        if not pushes:
            return
        task = asyncio.get_running_loop().create_task(self._send_chain(pushes))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every background push has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send_chain(self, pushes: list[Push]) -> DeliveryRecord:
        records = await self.send_all(pushes)
        return records[-1]
