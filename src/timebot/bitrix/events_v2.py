"""Chat-bots 2.0 events (ONIMBOTV2*), camelCase keys, from a webhook envelope or from
`imbot.v2.Event.get` (fetch mode, where the queue's event id identifies the event).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from timebot.bitrix.event_parts import (
    auth_from,
    command_context,
    dedupe_key,
    digest,
    has_mention,
    require,
    require_member,
    ts_part,
    unknown_event,
    user_from,
)
from timebot.bitrix.event_types import (
    BitrixEvent,
    BotCommandReceived,
    BotDeleted,
    BotJoinedChat,
    BotMessageAdded,
    BotMessageUpdated,
    ChatType,
    EventAuth,
    EventUser,
    MalformedEvent,
)
from timebot.bitrix.payload import Fields

__all__ = ["V2_PREFIX", "parse_v2", "v2_webhook_auth"]

V2_PREFIX = "ONIMBOTV2"
# Bots of these v2 types receive every message of their chats, not only those addressed to them.
_V2_SEE_ALL_TYPES = frozenset({"personal", "supervisor"})


def v2_webhook_auth(top: Fields, bot: Fields, default_member_id: str | None) -> EventAuth:
    """The top-level `auth` (whose application_token proves the request) completed with the
    portal's identity from the bot's auth, which is where v2 webhooks put member_id."""
    auth = auth_from(top)
    return require_member(
        EventAuth(
            member_id=auth.member_id or bot.text("member_id") or default_member_id or "",
            domain=auth.domain or bot.text("domain"),
            client_endpoint=auth.client_endpoint or bot.text("client_endpoint"),
            server_endpoint=auth.server_endpoint or bot.text("server_endpoint"),
            application_token=auth.application_token,
            access_token=auth.access_token,
            refresh_token=auth.refresh_token,
            expires_in=auth.expires_in,
            expires=auth.expires,
            user_id=auth.user_id,
            scope=auth.scope,
            status=auth.status,
        )
    )


def _v2_chat(data: Fields, user: EventUser) -> tuple[ChatType, str, int | None]:
    chat = data.sub("chat")
    dialog_id = chat.text("dialog_id") or data.text("dialog_id")
    chat_id = chat.integer("id") or data.sub("message").integer("chat_id")
    kind = chat.text("message_type").strip().upper()
    chat_type: ChatType
    if dialog_id:
        chat_type = "group" if dialog_id.startswith("chat") else "private"
    elif kind:
        chat_type = "private" if kind == "P" else "group"
    elif chat.text("type"):
        chat_type = "private" if chat.text("type").lower() == "private" else "group"
    else:
        raise MalformedEvent("missing data[chat][dialogId]")
    if not dialog_id:
        if chat_type == "group" and chat_id is not None:
            dialog_id = f"chat{chat_id}"
        elif chat_type == "private" and user.id:
            dialog_id = str(user.id)
    require(dialog_id, "data[chat][dialogId]")
    return chat_type, dialog_id, chat_id


def parse_v2(
    name: str,
    data: Fields,
    auth: EventAuth,
    ts: datetime | None,
    *,
    bot_auth: EventAuth | None,
    event_id: str | None,
) -> BitrixEvent:
    bot = data.sub("bot")
    bot_id = bot.integer("id")

    def dedupe(*parts: object) -> str:
        if event_id is not None:  # fetch mode: the queue's own id is the identity
            return dedupe_key(auth.member_id, "v2fetch", bot_id or 0, event_id)
        return dedupe_key(auth.member_id, name, *parts)

    kind = name.removeprefix(V2_PREFIX)
    if kind not in ("MESSAGEADD", "MESSAGEUPDATE", "COMMANDADD", "JOINCHAT", "DELETE"):
        return unknown_event(name, data, auth, ts, dedupe(ts_part(ts), digest(data.raw)))
    if bot_id is None:
        raise MalformedEvent("missing data[bot][id]")
    base: dict[str, Any] = {
        "event_name": name,
        "auth": auth,
        "ts": ts,
        "generation": "v2",
        "bot_id": bot_id,
        "bot_code": bot.text("code"),
        "bot_auth": bot_auth,
    }
    if kind == "DELETE":
        return BotDeleted(dedupe_key=dedupe(bot_id), **base)

    message = data.sub("message")
    user_fields = data.sub("user")
    author_id = message.integer("author_id")
    user = user_from(user_fields, author_id)
    chat_type, dialog_id, chat_id = _v2_chat(data, user)
    chat: dict[str, Any] = {
        "dialog_id": dialog_id,
        "chat_id": chat_id,
        "chat_type": chat_type,
        "user": user,
        "language": data.text("language"),
    }
    if kind == "JOINCHAT":
        return BotJoinedChat(dedupe_key=dedupe(bot_id, dialog_id, ts_part(ts)), **base, **chat)

    if not message:
        raise MalformedEvent("missing data[message]")
    message_id = require(message.integer("id"), "data[message][id]")
    if kind == "COMMANDADD":
        command = data.sub("command")
        if not command:
            raise MalformedEvent("missing data[command]")
        name_text = require(command.text("command").strip().lstrip("/"), "data[command][command]")
        command_id = require(command.integer("id"), "data[command][id]")
        params = command.text("params")
        context = command_context(command.text("context"))
        key = (
            dedupe(bot_id, message_id, command_id, digest(params), ts_part(ts))
            if context != "textarea"
            else dedupe(bot_id, message_id, command_id, digest(params), "")
        )
        return BotCommandReceived(
            dedupe_key=key,
            **base,
            **chat,
            command=name_text,
            params=params,
            context=context,
            command_id=command_id,
            message_id=message_id,
        )

    text = message.text("text")
    resolved_author = author_id if author_id is not None else user.id
    mentions = False
    if chat_type == "group":
        bot_type = bot.text("type").lower()
        # v2 delivers group messages to ordinary bots only when they are addressed (mentioned);
        # webhook mode omits the bot type, and timebot registers ordinary bots.
        mentions = has_mention(text, bot_id) or bot_type not in _V2_SEE_ALL_TYPES
    fields: dict[str, Any] = {
        "message_id": message_id,
        "author_id": resolved_author,
        "text": text,
        "mentions_bot": mentions,
    }
    if kind == "MESSAGEUPDATE":
        key = dedupe(bot_id, message_id, digest(text))
        return BotMessageUpdated(dedupe_key=key, **base, **chat, **fields)
    return BotMessageAdded(dedupe_key=dedupe(bot_id, message_id), **base, **chat, **fields)
