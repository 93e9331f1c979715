"""The event inbox's two workers: `InboxWriter` stores received events with group commit (the
inserts of concurrent requests share one transaction, each request awaits its commit), and
`InboxApplier` claims stored events and runs the bot for each in its own transaction.

An applied event's effects (marks, outbox rows) and its "applied" status commit together, so
an event is applied once however often it is claimed. A claim is a lease: an applier that dies
leaves rows another may take over once it runs out. A failing event goes back to the queue
with a back-off; when its attempts run out it is parked as "dead" (logged, audited, payload
kept), and the person's later events go on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from timebot.bitrix import BitrixEvent, MalformedEvent, parse_event, parse_fetched_event
from timebot.bot.router import Dispatcher
from timebot.domain.clock import Clock
from timebot.gateway.config import INBOX_LEASE_SECONDS, INBOX_MAX_ATTEMPTS, GatewayConfig
from timebot.gateway.intake import Outcome, apply_event
from timebot.logs import get_logger
from timebot.storage import Database
from timebot.storage.repositories.events import ClaimedEvent, InboxEntry, store_events

log = get_logger(__name__)

# Rows one transaction of the writer stores at most (a burst is split, never delayed).
WRITE_BATCH = 256
# Events one claim leases (at most one per person).
CLAIM_BATCH = 16
# How long a claim is the claimer's, and claims of one event before it is parked as dead: the
# defaults; a process takes them from its GatewayConfig (settings `inbox_lease_seconds`,
# `inbox_max_attempts`). The waits between claims double from the base.
LEASE = timedelta(seconds=INBOX_LEASE_SECONDS)
MAX_ATTEMPTS = INBOX_MAX_ATTEMPTS
RETRY_BASE = timedelta(seconds=2)
RETRY_CAP = timedelta(minutes=5)


class InboxWriter:
    """Group commit for received events: `store` queues an entry and returns once the
    transaction holding it has committed (True: stored now; False: a duplicate).

    There is no timer: the first entry is written at once, and whatever arrives while that
    commit runs goes into the next transaction, so batches grow only under load.
    """

    def __init__(
        self,
        database: Database,
        *,
        on_commit: Callable[[], None] | None = None,
        batch: int = WRITE_BATCH,
    ) -> None:
        self.database = database
        self.on_commit = on_commit
        self.batch = batch
        self._queue: list[tuple[InboxEntry, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def store(self, entry: InboxEntry) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="inbox-writer")
        return await future

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.batch], self._queue[self.batch :]
            try:
                await self._write(batch)
            except BaseException as exc:  # never leave a request waiting for good
                failure = exc if isinstance(exc, Exception) else RuntimeError("writer stopped")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                raise

    async def _write(self, batch: list[tuple[InboxEntry, asyncio.Future[bool]]]) -> None:
        # Two deliveries of one event in one batch: the first is the one stored.
        first: dict[tuple[int, str], InboxEntry] = {}
        for entry, _ in batch:
            first.setdefault(entry.key, entry)
        try:
            stored = await self._insert(list(first.values()))
        except Exception as exc:
            if len(first) > 1 and isinstance(exc, IntegrityError):
                # One entry is refused (its portal was erased a moment ago): store the others
                # one by one. Other errors (the database is away) fail the whole batch at once.
                for entry, future in batch:
                    await self._write([(entry, future)])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for entry, future in batch:
            if not future.done():
                future.set_result(entry.key in stored and first[entry.key] is entry)
        if self.on_commit is not None and stored:
            self.on_commit()

    async def _insert(self, entries: Sequence[InboxEntry]) -> set[tuple[int, str]]:
        engine = self.database.engine
        async with engine.begin() as connection:  # commits on leaving the block
            return await store_events(
                connection, entries, postgres=engine.dialect.name == "postgresql"
            )

    async def aclose(self) -> None:
        """Wait for queued entries to be written."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)


def event_of(claimed: ClaimedEvent, member_id: str) -> BitrixEvent:
    """The typed event from a stored payload (MalformedEvent when it no longer parses)."""
    try:
        data = json.loads(claimed.payload or "")
    except ValueError as exc:
        raise MalformedEvent(f"stored payload is not JSON: {exc}") from exc
    if claimed.source == "fetch":
        return parse_fetched_event(data, member_id=member_id)
    return parse_event(data, default_member_id=member_id)


def stored_event_name(payload: str | None) -> str:
    """The event's name (ONIMBOTV2MESSAGEADD, …) from a stored payload; "" when unreadable.

    Pushed bodies name it `event`, polled items `type`."""
    try:
        data = json.loads(payload or "")
    except ValueError:
        return ""
    name = data.get("event") or data.get("type") if isinstance(data, dict) else None
    return str(name)[:64] if isinstance(name, str) else ""


def retry_delay(attempts: int, base: timedelta = RETRY_BASE) -> timedelta:
    """The wait after the `attempts`-th failed claim: base, 2×base, 4×base, … up to a cap."""
    return min(base * (1 << min(max(attempts - 1, 0), 20)), RETRY_CAP)


class InboxApplier:
    """Claims due events and applies each in its own transaction.

    `pause` (optional) is awaited before each event: the web process uses it to let requests
    waiting for their 200 go first. `lease` and `max_attempts` default to the config's.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        dispatcher: Dispatcher,
        config: GatewayConfig,
        *,
        worker: str,
        lease: timedelta | None = None,
        max_attempts: int | None = None,
        retry_base: timedelta = RETRY_BASE,
        batch: int = CLAIM_BATCH,
        pause: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.dispatcher = dispatcher
        self.config = config
        self.worker = worker
        self.lease = timedelta(seconds=config.inbox_lease_seconds) if lease is None else lease
        self.max_attempts = config.inbox_max_attempts if max_attempts is None else max_attempts
        self.retry_base = retry_base
        self.batch = batch
        self.pause = pause

    async def apply_due(self, *, received_before: datetime | None = None) -> int:
        """Claim one batch of due events (only those received before `received_before`, if
        given) and apply them; returns how many were claimed (0: nothing is due)."""
        async with self.database.unit_of_work() as uow:
            claimed = await uow.events.claim(
                now=self.clock.now(),
                worker=self.worker,
                lease=self.lease,
                limit=self.batch,
                received_before=received_before,
            )
            await uow.commit()
        for event in claimed:
            if self.pause is not None:
                await self.pause()
            await self.apply(event)
        return len(claimed)

    async def drain(self, *, received_before: datetime | None = None) -> int:
        """Apply until nothing is due; returns how many events were claimed."""
        total = 0
        while n := await self.apply_due(received_before=received_before):
            total += n
        return total

    async def apply(self, claimed: ClaimedEvent) -> str:
        """Apply one claimed event: "applied", "retry", "dead" or "lost" (the lease passed on)."""
        try:
            async with self.database.unit_of_work() as uow:
                portal = await uow.portals.get(claimed.portal_id)
                if portal is None:  # erased meanwhile (its rows go with it)
                    return "lost"
                event = event_of(claimed, portal.member_id)
                outcome = await apply_event(
                    uow,
                    portal,
                    event,
                    now=claimed.received_at,
                    dispatcher=self.dispatcher,
                    config=self.config,
                )
                settled = await uow.events.settle(
                    claimed.id, worker=self.worker, now=self.clock.now(), outcome=outcome.value
                )
                if not settled:
                    return "lost"  # rolled back: another applier has it now
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except MalformedEvent as exc:
            return await self._failed(claimed, exc, final=True)
        except Exception as exc:
            return await self._failed(claimed, exc, final=False)
        log.info(
            "event.applied",
            event_id=claimed.id,
            event_name=event.event_name,
            portal_id=claimed.portal_id,
            outcome=outcome.value,
        )
        return "applied"

    async def _failed(self, claimed: ClaimedEvent, exc: Exception, *, final: bool) -> str:
        error = f"{type(exc).__name__}: {exc}"
        now = self.clock.now()
        dead = final or claimed.attempts >= self.max_attempts
        retry_at = None if dead else now + retry_delay(claimed.attempts, self.retry_base)
        async with self.database.unit_of_work() as uow:
            result = await uow.events.fail(
                claimed.id, worker=self.worker, error=error, retry_at=retry_at
            )
            if result == "dead":
                uow.audit.record(
                    portal_id=claimed.portal_id,
                    at=now,
                    actor="timebot",
                    action="event.parked",
                    entity="event",
                    entity_id=claimed.id,
                    details={
                        "event_key": claimed.event_key,
                        "attempts": claimed.attempts,
                        "error": error[:500],
                    },
                )
            await uow.commit()
        if result == "dead":
            log.error(
                "event.parked",
                event_id=claimed.id,
                event_key=claimed.event_key,
                portal_id=claimed.portal_id,
                attempts=claimed.attempts,
                error=error,
                exc_info=exc,
            )
        else:
            log.warning(
                "event.apply_failed",
                event_id=claimed.id,
                portal_id=claimed.portal_id,
                attempts=claimed.attempts,
                retry_at=retry_at.isoformat() if retry_at else None,
                error=error,
                exc_info=exc,
            )
        return result


__all__ = [
    "CLAIM_BATCH",
    "LEASE",
    "MAX_ATTEMPTS",
    "InboxApplier",
    "InboxWriter",
    "Outcome",
    "event_of",
    "retry_delay",
    "stored_event_name",
]
