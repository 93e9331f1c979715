"""Event intake: verify → store in the inbox (the insert is the dedupe) → answer; and the
applying half, which runs the bot for a stored event and queues its replies in the outbox.

Never waits on Bitrix24: all REST calls happen later in the outbox dispatcher. Application
lifecycle events (uninstall) are still handled at once, in the request (`accept_event`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from timebot.bitrix import (
    AppInstalled,
    AppUninstalled,
    BitrixEvent,
    BotCommandReceived,
    BotDeleted,
    BotJoinedChat,
    BotMessageAdded,
    BotMessageUpdated,
    UnknownEvent,
    verify_application_token,
)
from timebot.bot.i18n import lang_of
from timebot.bot.router import Context, Dispatcher
from timebot.domain.clock import Clock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.directory import ensure_employee, request_directory_sync
from timebot.gateway.replies import enqueue_replies
from timebot.logs import get_logger
from timebot.storage import Database, UnitOfWork
from timebot.storage.repositories.events import InboxEntry
from timebot.storage.tables import Portal

log = get_logger(__name__)


LAST_EVENT_RESOLUTION = timedelta(minutes=1)
# How long a process trusts what it read about a portal's application token. A reinstall or
# uninstall handled by this process forgets it at once; other processes see it within this.
PORTAL_CACHE_SECONDS = 10.0
# Keys whose values are credentials, as Bitrix24 spells them (snake, upper, camel): dropped from
# stored payloads, as only verification used them.
SECRET_KEYS = frozenset(
    spelling
    for name, camel in (
        ("access_token", "accessToken"),
        ("refresh_token", "refreshToken"),
        ("application_token", "applicationToken"),
    )
    for spelling in (name, name.upper(), camel)
)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNKNOWN_PORTAL = "unknown_portal"
    FORGED = "forged"


def is_authentic(portal: Portal, event: BitrixEvent) -> bool:
    """The application token stored at install must match (constant-time compare)."""
    expected = portal.application_token or ""
    return verify_application_token(expected, event.auth.application_token)


def wants_answer(portal: Portal, event: BitrixEvent) -> bool:
    """Group chats: answer only when mentioned or commanded; never answer ourselves."""
    if isinstance(event, BotMessageAdded):
        if portal.bot_id is not None and event.author_id == portal.bot_id:
            return False
        if event.chat_type == "group" and not event.mentions_bot:
            return False
    return not isinstance(event, BotMessageUpdated)


# --- receiving: verify and store -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownPortal:
    """What verifying an event needs to know about its portal."""

    id: int
    member_id: str
    application_token: str
    status: str
    loaded_at: float


class PortalCache:
    """Per-process verification data of portals, read from the database and trusted for `ttl`
    seconds. Only acceptance relies on it: an event that does not match is checked against a
    fresh read before it is refused, and unknown portals are never cached."""

    def __init__(
        self,
        database: Database,
        *,
        ttl: float = PORTAL_CACHE_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.ttl = ttl
        self.timer = timer
        self._known: dict[str, KnownPortal] = {}
        self._loading: dict[str, asyncio.Future[KnownPortal | None]] = {}

    async def get(self, member_id: str, *, fresh: bool = False) -> KnownPortal | None:
        known = self._known.get(member_id)
        if known is not None and not fresh and self.timer() - known.loaded_at < self.ttl:
            return known
        loading = self._loading.get(member_id)
        if loading is not None:  # one read serves every request that missed meanwhile
            return await asyncio.shield(loading)
        future: asyncio.Future[KnownPortal | None] = asyncio.get_running_loop().create_future()
        self._loading[member_id] = future
        try:
            known = await self._load(member_id)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked as retrieved: the waiters (if any) get it
            raise
        else:
            future.set_result(known)
        finally:
            del self._loading[member_id]
        return known

    async def _load(self, member_id: str) -> KnownPortal | None:
        async with self.database.unit_of_work() as uow:
            portal = await uow.portals.by_member_id(member_id)
            if portal is None:
                self._known.pop(member_id, None)
                return None
            known = KnownPortal(
                id=portal.id,
                member_id=portal.member_id,
                application_token=portal.application_token or "",
                status=portal.status,
                loaded_at=self.timer(),
            )
        self._known[member_id] = known
        return known

    def forget(self, member_id: str | None = None) -> None:
        """Drop one portal (after its install or uninstall here), or all of them."""
        if member_id is None:
            self._known.clear()
        else:
            self._known.pop(member_id, None)


async def verified_portal(
    cache: PortalCache, event: BitrixEvent
) -> tuple[KnownPortal | None, Outcome | None]:
    """The event's portal when its application token matches; else the refusal's outcome."""
    token = event.auth.application_token
    known = await cache.get(event.member_id)
    if known is not None and verify_application_token(known.application_token, token):
        return known, None
    # Not known or not matching here: maybe installed or reinstalled since we looked.
    if known is not None:
        known = await cache.get(event.member_id, fresh=True)
    if known is None:
        return None, Outcome.UNKNOWN_PORTAL
    if not verify_application_token(known.application_token, token):
        return None, Outcome.FORGED
    return known, None


def worth_storing(event: BitrixEvent) -> bool:
    """False for events applying would ignore whatever the portal's state: edits, events we do
    not handle, group messages that do not address the bot."""
    if isinstance(event, BotMessageAdded):
        return event.chat_type != "group" or event.mentions_bot
    return isinstance(event, BotCommandReceived | BotJoinedChat | BotDeleted)


def person_key(event: BitrixEvent) -> str:
    """Whose events must keep their order: the Bitrix24 user behind a chat event, else ""."""
    if isinstance(event, BotMessageAdded | BotCommandReceived | BotJoinedChat):
        return str(event.user.id)
    return ""


def stored_payload(payload: Mapping[str, Any]) -> str:
    """The payload as JSON text without credentials (tokens are for verifying, done by now)."""

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items() if k not in SECRET_KEYS}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(payload), separators=(",", ":"))


async def receive_event(
    event: BitrixEvent,
    payload: Mapping[str, Any],
    *,
    portals: PortalCache,
    store: Callable[[InboxEntry], Awaitable[bool]],
    now: datetime,
    source: str = "webhook",
) -> Outcome:
    """Verify a pushed event and store it for the applier; returns once it is durable."""
    known, refused = await verified_portal(portals, event)
    if known is None:
        return refused or Outcome.UNKNOWN_PORTAL
    if known.status == "uninstalled" or not worth_storing(event):
        return Outcome.IGNORED
    entry = InboxEntry(
        portal_id=known.id,
        event_key=event.dedupe_key,
        person_key=person_key(event),
        source=source,
        payload=stored_payload(payload),
        received_at=now,
    )
    return Outcome.ACCEPTED if await store(entry) else Outcome.DUPLICATE


# --- applying: run the bot -------------------------------------------------------------------


async def apply_event(
    uow: UnitOfWork,
    portal: Portal,
    event: BitrixEvent,
    *,
    now: datetime,
    dispatcher: Dispatcher,
    config: GatewayConfig,
) -> Outcome:
    """Apply one verified, first-seen event inside the caller's transaction (the caller
    commits). `now` is when the event was received: the time its marks carry."""
    if portal.status == "uninstalled":
        return Outcome.IGNORED
    if portal.last_event_at is None or now - portal.last_event_at > LAST_EVENT_RESOLUTION:
        # For the admin's "last event" only: writing it on every event would make all events of
        # a portal wait for each other on its row lock (PostgreSQL).
        portal.last_event_at = now

    if isinstance(event, AppUninstalled):
        await uninstall(uow, portal, clean=event.clean, now=now)
        return Outcome.ACCEPTED
    if isinstance(event, BotDeleted):
        if portal.bot_id == event.bot_id:
            portal.bot_id = None
            uow.audit.record(
                portal_id=portal.id,
                at=now,
                actor="bitrix",
                action="bot.deleted",
                entity="portal",
                entity_id=portal.id,
            )
        return Outcome.ACCEPTED
    if isinstance(event, UnknownEvent | AppInstalled):
        log.info("event.ignored", event_name=event.event_name, member_id=portal.member_id)
        return Outcome.IGNORED
    if not isinstance(event, BotMessageAdded | BotCommandReceived | BotJoinedChat):
        return Outcome.IGNORED
    bot_id = portal.bot_id
    if bot_id is None and event.bot_id and event.bot_code in ("", portal.bot_code):
        # The portal talks to our bot before its registration was stored (portals send JOINCHAT
        # right away): answer as the bot the verified event names; the worker still finishes
        # the registration (commands) and stores the id itself.
        bot_id = event.bot_id
    if portal.bot_id is not None and event.bot_id and event.bot_id != portal.bot_id:
        return Outcome.IGNORED  # another bot of the same application
    if not wants_answer(portal, event):
        return Outcome.IGNORED

    employee = None
    language = event.language
    if not isinstance(event, BotJoinedChat) and event.user.id > 0 and not event.user.is_bot:
        ensured = await ensure_employee(uow, portal, event.user, now=now)
        employee = ensured.employee
        language = employee.language or event.language
        if ensured.created:
            # Re-read the portal under its row lock before changing its settings JSON.
            locked = await uow.portals.lock(portal.id)
            if locked is not None:
                request_directory_sync(locked)
    ctx = Context(
        portal=portal,
        event=event,
        lang=lang_of(language, portal.language),
        now=now,
        uow=uow,
        employee=employee,
        config=config.bot,
    )
    await dispatcher.dispatch(ctx)
    await enqueue_replies(
        uow,
        portal,
        ctx.replies,
        now=now,
        config=config,
        generation=event.generation,
        cause=event.dedupe_key,
        bot_id=bot_id,
    )
    return Outcome.ACCEPTED


async def process_event(
    uow: UnitOfWork,
    event: BitrixEvent,
    *,
    clock: Clock,
    dispatcher: Dispatcher,
    config: GatewayConfig,
    verify: bool = True,
) -> Outcome:
    """Verify, dedupe and apply one event at once, inside the caller's transaction."""
    portal = await uow.portals.by_member_id(event.auth.member_id)
    if portal is None:
        return Outcome.UNKNOWN_PORTAL
    if verify and not is_authentic(portal, event):
        return Outcome.FORGED
    if portal.status == "uninstalled":
        return Outcome.IGNORED
    now = clock.now()
    if not await uow.events.first_time(portal.id, event.dedupe_key, now):
        return Outcome.DUPLICATE
    return await apply_event(uow, portal, event, now=now, dispatcher=dispatcher, config=config)


async def accept_event(
    database: Database,
    event: BitrixEvent,
    *,
    clock: Clock,
    dispatcher: Dispatcher,
    config: GatewayConfig,
    verify: bool = True,
) -> Outcome:
    """Handle an event at once in its own transaction (application lifecycle events)."""
    async with database.unit_of_work() as uow:
        outcome = await process_event(
            uow, event, clock=clock, dispatcher=dispatcher, config=config, verify=verify
        )
        if outcome in (Outcome.ACCEPTED, Outcome.IGNORED):
            await uow.commit()
    log.info(
        "event.received",
        event_name=event.event_name,
        member_id=event.auth.member_id,
        outcome=outcome.value,
    )
    return outcome


async def uninstall(uow: UnitOfWork, portal: Portal, *, clean: bool, now: object) -> None:
    """ONAPPUNINSTALL: forget credentials; with CLEAN=1 erase every row of the portal."""
    if clean:
        await uow.portals.delete(portal)
        log.warning("portal.erased", member_id=portal.member_id)
        return
    portal.status = "uninstalled"
    portal.access_token = None
    portal.refresh_token = None
    portal.bot_id = None
    log.warning("portal.uninstalled", member_id=portal.member_id)
