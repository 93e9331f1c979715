"""The outbox dispatcher: claim due rows, send them per portal in batches of ≤ 50 within the
rate limiter, settle each row (sent / retry with back-off / dead letter).

One batch request is one unit of Bitrix24's leaky bucket, so packing replies into batches is what
lets a 2 requests/s portal receive ~100 messages/s. A request takes the portal's turn first and
is filled after: rows queued while the worker waited for the turn go in it too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from timebot.bitrix import (
    AccessDenied,
    BitrixClient,
    BitrixError,
    ExpiredToken,
    InvalidGrant,
    MethodNotFound,
    OperationTimeLimit,
    PaymentRequired,
    PortalDeleted,
    QueryLimitExceeded,
    ServerError,
    TransportError,
    escape,
)
from timebot.bot.i18n import Lang
from timebot.bot.replies import Reply
from timebot.domain.clock import Clock
from timebot.gateway.auth import PortalNotConnected, portal_auth
from timebot.gateway.config import GatewayConfig
from timebot.gateway.install import INSTALLED_BY
from timebot.gateway.limits import apply_portal_limits
from timebot.gateway.replies import enqueue_replies
from timebot.logs import get_logger
from timebot.metrics import OUTBOX_FAILED, OUTBOX_SENT
from timebot.storage import Database, UnitOfWork

log = get_logger(__name__)

BATCH_SIZE = 50
PERMANENT = (AccessDenied, MethodNotFound, PortalDeleted, PaymentRequired, InvalidGrant)
# Outbox kinds other dispatchers deliver (e-mail goes over SMTP, see gateway/mail.py).
NOT_REST = ("email",)
# Worth retrying: the portal's limits, its own trouble, the network, an expiring token.
TRANSIENT = (QueryLimitExceeded, OperationTimeLimit, ServerError, TransportError, ExpiredToken)

# A Work Time call the portal refused (a day left open in Bitrix24, a closed day…) does not
# get better by retrying; it is reported to the portal's admins and our own mark stands.
TIMEMAN_FAILED = {
    "ru": (
        "⚠️ Не удалось отразить отметку сотрудника [user={user}][/user] в «Учёте рабочего "
        "времени» Битрикс24 ({method}): {error}. Отметка в timebot сохранена."
    ),
    "en": (
        "⚠️ Could not mirror a mark of [user={user}][/user] into Bitrix24 Work Time "
        "({method}): {error}. The mark is kept in timebot."
    ),
}


def is_final(kind: str, error: BaseException) -> bool:
    """Whether a failed delivery should go to the dead letters now instead of retrying."""
    if isinstance(error, PERMANENT):
        return True
    return kind == "timeman" and isinstance(error, BitrixError) and not isinstance(error, TRANSIENT)


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
        config: GatewayConfig | None = None,
    ) -> None:
        self.config = config or GatewayConfig()
        self.database = database
        self.client = client
        self.clock = clock
        self.worker = worker
        self.max_attempts = max_attempts
        self.claim_limit = claim_limit
        self.lease = lease

    async def claim(
        self, *, portal_id: int | None = None, limit: int | None = None
    ) -> list[Claimed]:
        async with self.database.unit_of_work() as uow:
            rows = await uow.outbox.claim(
                now=self.clock.now(),
                worker=self.worker,
                lease=self.lease,
                limit=self.claim_limit if limit is None else limit,
                exclude_kinds=NOT_REST,
                portal_id=portal_id,
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
        # Keep the lease while we work: a slow or retried call may outlast it, and another
        # worker would then send the same rows again and again. If this worker dies, the
        # renewals stop and the lease runs out as before. Rows claimed later join `leased`.
        leased = {r.id for r in claimed}
        done = asyncio.Event()
        holder = asyncio.create_task(self._hold_lease(leased, done))
        try:
            # Portals have separate rate limits: send to them side by side.
            added = await asyncio.gather(
                *(self._send_portal(pid, rows, leased) for pid, rows in by_portal.items())
            )
        finally:
            done.set()
            await holder
        return len(claimed) + sum(added)

    async def _hold_lease(self, ids: set[int], done: asyncio.Event) -> None:
        """Renew the lease on `ids` every third of its length until `done` is set."""
        interval = max(self.lease.total_seconds() / 3, 0.05)
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=interval)
                return
            try:
                await self._renew(list(ids))
            except Exception:  # the database may be away for a moment: try again next time
                log.warning("outbox.lease_renew_failed", rows=len(ids), exc_info=True)

    async def _renew(self, ids: Sequence[int]) -> set[int]:
        async with self.database.unit_of_work() as uow:
            held = await uow.outbox.renew(
                ids, worker=self.worker, until=self.clock.now() + self.lease
            )
            await uow.commit()
        return held

    async def _send_portal(self, portal_id: int, rows: list[Claimed], leased: set[int]) -> int:
        """Send one portal's rows; returns how many more rows it claimed on the way."""
        async with self.database.unit_of_work() as uow:
            portal = await uow.portals.get(portal_id)
            try:
                if portal is None or portal.status != "active":
                    raise PortalNotConnected(f"portal {portal_id} is not active")
                auth = portal_auth(portal)
            except PortalNotConnected as exc:
                await self._settle_failures(rows, exc, final=True)
                return 0
            apply_portal_limits(self.client, portal)
        added = 0
        pending = list(rows)
        while pending:
            chunk, pending = pending[:BATCH_SIZE], pending[BATCH_SIZE:]
            # The portal's turn first, then the request: what was queued for this portal
            # while we waited rides along instead of waiting for the next turn.
            await self.client.limiter.acquire(auth.member_id)
            if not pending and len(chunk) < BATCH_SIZE:
                more = await self.claim(portal_id=portal_id, limit=BATCH_SIZE - len(chunk))
                leased.update(r.id for r in more)
                chunk += more
                added += len(more)
            # Rows another worker took over meanwhile are theirs to send now.
            held = await self._renew([r.id for r in chunk])
            chunk = [r for r in chunk if r.id in held]
            if not chunk:
                continue
            try:
                if len(chunk) == 1:
                    response = await self.client.call(
                        auth, chunk[0].method, chunk[0].params, turn_taken=True
                    )
                    await self._settle({chunk[0].id: response.result}, {}, chunk)
                else:
                    batch = await self.client.batch(
                        auth,
                        {f"o{r.id}": (r.method, r.params) for r in chunk},
                        turn_taken=True,
                    )
                    results = {int(k[1:]): v for k, v in batch.results.items()}
                    errors = {int(k[1:]): e for k, e in batch.errors.items()}
                    await self._settle(results, errors, chunk)
            except BitrixError as exc:
                await self._settle_failures(
                    chunk, exc, final=all(is_final(r.kind, exc) for r in chunk)
                )
            except Exception as exc:  # network or programming error: retry later, keep going
                log.exception("outbox.send_failed", portal_id=portal_id)
                await self._settle_failures(chunk, exc, final=False)
        return added

    async def _settle(
        self, results: dict[int, Any], errors: dict[int, BitrixError], rows: Sequence[Claimed]
    ) -> None:
        now = self.clock.now()
        async with self.database.unit_of_work() as uow:
            for row in rows:
                if row.id in errors:
                    err = errors[row.id]
                    final = is_final(row.kind, err)
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
                    if state == "dead":
                        await self._report_dead(uow, row, f"{err.code}: {err.description}", now)
                elif row.id in results:
                    if await uow.outbox.mark_sent(
                        row.id, now=now, worker=self.worker, result=results[row.id]
                    ):
                        OUTBOX_SENT.labels(row.kind).inc()
                else:
                    # The batch said nothing about this command (halted): try again soon.
                    await uow.outbox.release(row.id, worker=self.worker, at=now)
            await uow.commit()

    async def _report_dead(self, uow: UnitOfWork, row: Claimed, error: str, now: datetime) -> None:
        """A dead letter goes to the audit log; a failed Work Time call also to the admins."""
        uow.audit.record(
            portal_id=row.portal_id,
            at=now,
            actor="system",
            action=f"outbox.dead.{row.kind}",
            entity="outbox",
            entity_id=row.id,
            details={"method": row.method, "error": error[:500]},
        )
        if row.kind != "timeman":
            return
        portal = await uow.portals.get(row.portal_id)
        if portal is None or portal.bot_id is None:
            return
        lang: Lang = "en" if portal.language == "en" else "ru"
        user = row.params.get("USER_ID", 0)
        text = TIMEMAN_FAILED[lang].format(user=user, method=row.method, error=escape(error[:300]))
        admins = {e.bitrix_user_id for e in await uow.employees.active(portal.id) if e.is_admin}
        installer = (portal.settings or {}).get(INSTALLED_BY)
        if isinstance(installer, int) and installer > 0:
            admins.add(installer)
        replies = [Reply(str(user_id), text) for user_id in sorted(admins)]
        await enqueue_replies(
            uow, portal, replies, now=now, config=self.config, cause=f"dead:{row.id}"
        )

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
                if state == "dead":
                    await self._report_dead(uow, row, error, now)
            await uow.commit()
        log.warning("outbox.failed", rows=len(rows), error=error, final=final)
