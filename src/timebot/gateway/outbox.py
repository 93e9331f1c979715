"""The outbox dispatcher: claim due rows, send them per portal in batches of ≤ 50 within the
rate limiter, settle each row (sent / retry with back-off / dead letter).

One batch request is one unit of Bitrix24's leaky bucket, so packing replies into batches is what
lets a 2 requests/s portal receive ~100 messages/s.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from timebot.bitrix import (
    AccessDenied,
    BitrixClient,
    BitrixError,
    InvalidGrant,
    MethodNotFound,
    PaymentRequired,
    PortalDeleted,
)
from timebot.domain.clock import Clock
from timebot.gateway.auth import PortalNotConnected, portal_auth
from timebot.logs import get_logger
from timebot.metrics import OUTBOX_FAILED, OUTBOX_SENT
from timebot.storage import Database

log = get_logger(__name__)

BATCH_SIZE = 50
PERMANENT = (AccessDenied, MethodNotFound, PortalDeleted, PaymentRequired, InvalidGrant)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    portal_id: int
    kind: str
    method: str
    params: dict[str, Any]
    attempts: int


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off: 2 s, 4 s, 8 s … capped at 10 minutes."""
    return timedelta(seconds=min(2 ** max(attempts, 1), 600))


class OutboxDispatcher:
    def __init__(
        self,
        database: Database,
        client: BitrixClient,
        clock: Clock,
        *,
        worker: str,
        max_attempts: int = 8,
        claim_limit: int = 500,
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self.database = database
        self.client = client
        self.clock = clock
        self.worker = worker
        self.max_attempts = max_attempts
        self.claim_limit = claim_limit
        self.lease = lease

    async def claim(self) -> list[Claimed]:
        async with self.database.unit_of_work() as uow:
            rows = await uow.outbox.claim(
                now=self.clock.now(), worker=self.worker, lease=self.lease, limit=self.claim_limit
            )
            claimed = [
                Claimed(
                    r.id,
                    r.portal_id,
                    r.kind,
                    r.method,
                    dict(r.payload.get("params") or {}),
                    r.attempts,
                )
                for r in rows
            ]
            await uow.commit()
        return claimed

    async def dispatch_once(self) -> int:
        """Send what is due now; returns how many rows were handled (0 = idle)."""
        claimed = await self.claim()
        if not claimed:
            return 0
        by_portal: dict[int, list[Claimed]] = defaultdict(list)
        for row in claimed:
            by_portal[row.portal_id].append(row)
        # Portals have separate rate limits: send to them side by side.
        await asyncio.gather(*(self._send_portal(pid, rows) for pid, rows in by_portal.items()))
        return len(claimed)

    async def _send_portal(self, portal_id: int, rows: list[Claimed]) -> None:
        async with self.database.unit_of_work() as uow:
            portal = await uow.portals.get(portal_id)
            try:
                if portal is None or portal.status != "active":
                    raise PortalNotConnected(f"portal {portal_id} is not active")
                auth = portal_auth(portal)
            except PortalNotConnected as exc:
                await self._settle_failures(rows, exc, final=True)
                return
        for start in range(0, len(rows), BATCH_SIZE):
            chunk = rows[start : start + BATCH_SIZE]
            try:
                if len(chunk) == 1:
                    response = await self.client.call(auth, chunk[0].method, chunk[0].params)
                    await self._settle({chunk[0].id: response.result}, {}, chunk)
                else:
                    batch = await self.client.batch(
                        auth, {f"o{r.id}": (r.method, r.params) for r in chunk}
                    )
                    results = {int(k[1:]): v for k, v in batch.results.items()}
                    errors = {int(k[1:]): e for k, e in batch.errors.items()}
                    await self._settle(results, errors, chunk)
            except BitrixError as exc:
                await self._settle_failures(chunk, exc, final=isinstance(exc, PERMANENT))
            except Exception as exc:  # network or programming error: retry later, keep going
                log.exception("outbox.send_failed", portal_id=portal_id)
                await self._settle_failures(chunk, exc, final=False)

    async def _settle(
        self, results: dict[int, Any], errors: dict[int, BitrixError], rows: Sequence[Claimed]
    ) -> None:
        now = self.clock.now()
        async with self.database.unit_of_work() as uow:
            for row in rows:
                if row.id in errors:
                    err = errors[row.id]
                    final = isinstance(err, PERMANENT)
                    state = await uow.outbox.mark_failed(
                        row.id,
                        now=now,
                        worker=self.worker,
                        error=f"{err.code}: {err.description}",
                        retry_in=retry_delay(row.attempts + 1),
                        max_attempts=self.max_attempts,
                        final=final,
                    )
                    OUTBOX_FAILED.labels(row.kind, str(state == "dead")).inc()
                elif row.id in results:
                    if await uow.outbox.mark_sent(
                        row.id, now=now, worker=self.worker, result=results[row.id]
                    ):
                        OUTBOX_SENT.labels(row.kind).inc()
                else:
                    # The batch said nothing about this command (halted): try again soon.
                    await uow.outbox.release(row.id, worker=self.worker, at=now)
            await uow.commit()

    async def _settle_failures(
        self, rows: Sequence[Claimed], exc: BaseException, *, final: bool
    ) -> None:
        now = self.clock.now()
        error = f"{type(exc).__name__}: {exc}"
        async with self.database.unit_of_work() as uow:
            for row in rows:
                state = await uow.outbox.mark_failed(
                    row.id,
                    now=now,
                    worker=self.worker,
                    error=error,
                    retry_in=retry_delay(row.attempts + 1),
                    max_attempts=self.max_attempts,
                    final=final,
                )
                OUTBOX_FAILED.labels(row.kind, str(state == "dead")).inc()
            await uow.commit()
        log.warning("outbox.failed", rows=len(rows), error=error, final=final)
