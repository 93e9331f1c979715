"""Event intake: verify → dedupe → route to the bot → replies into the outbox, in one transaction.

Never waits on Bitrix24: all REST calls happen later in the outbox dispatcher.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

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
from timebot.storage.tables import Portal

log = get_logger(__name__)


LAST_EVENT_RESOLUTION = timedelta(minutes=1)


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


async def process_event(
    uow: UnitOfWork,
    event: BitrixEvent,
    *,
    clock: Clock,
    dispatcher: Dispatcher,
    config: GatewayConfig,
    verify: bool = True,
) -> Outcome:
    """Apply one event inside the caller's transaction (the caller commits)."""
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


async def accept_event(
    database: Database,
    event: BitrixEvent,
    *,
    clock: Clock,
    dispatcher: Dispatcher,
    config: GatewayConfig,
    verify: bool = True,
) -> Outcome:
    """Handle a pushed event in its own transaction."""
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
