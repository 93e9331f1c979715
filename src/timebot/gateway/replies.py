"""Turn bot replies into outbox rows (same transaction as the facts that caused them)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from timebot.bitrix import send_message_params
from timebot.bitrix.event_types import Generation
from timebot.bot.replies import Reply
from timebot.gateway.config import GatewayConfig
from timebot.storage import UnitOfWork
from timebot.storage.tables import Portal


async def enqueue_replies(
    uow: UnitOfWork,
    portal: Portal,
    replies: Sequence[Reply],
    *,
    now: datetime,
    config: GatewayConfig,
    generation: Generation = "v2",
    cause: str | None = None,
    bot_id: int | None = None,
) -> int:
    """Queue each reply as `imbot.v2.Chat.Message.send` (or v1 `imbot.message.add`).

    `cause` (the event's dedupe key) makes re-handling the same event a no-op in the outbox;
    `bot_id` overrides the portal's (an event that arrived before registration finished).
    """
    bot_id = bot_id or portal.bot_id
    if bot_id is None:
        return 0
    queued = 0
    for i, reply in enumerate(replies):
        key = f"{cause}:{i}" if cause else uuid.uuid4().hex
        method, params = send_message_params(
            generation,
            bot_id,
            reply.dialog_id,
            reply.text,
            keyboard=reply.keyboard,
            attach=reply.attach,
            bot_token=portal.bot_token if portal.connection == "webhook" else None,
            client_id=config.client_id if portal.connection == "oauth" else None,
            message_id_key=key,
        )
        queued += await uow.outbox.enqueue(
            portal_id=portal.id,
            kind="message",
            method=method,
            payload={"params": params},
            now=now,
            dedupe_key=f"reply:{key}"[:191],
        )
    return queued
