"""Event intake: verify → dedupe → route to the bot → replies into the outbox, in one transaction.

Never waits on Bitrix24: all REST calls happen later in the outbox dispatcher.
"""

from __future__ import annotations

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
from timebot.gateway.replies import enqueue_replies
from timebot.logs import get_logger
from timebot.storage import Database, UnitOfWork
from timebot.storage.tables import Portal

log = get_logger(__name__)


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
    if portal.bot_id is not None and event.bot_id and event.bot_id != portal.bot_id:
        return Outcome.IGNORED  # another bot of the same application
    if not wants_answer(portal, event):
        return Outcome.IGNORED

    ctx = Context(
        portal=portal,
        event=event,
        lang=lang_of(event.language, portal.language),
        now=now,
        uow=uow,
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
