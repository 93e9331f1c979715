"""Chat-bot API v1 events (deprecated by Bitrix24 but still delivered): ONIMBOTMESSAGEADD,
ONIMBOTMESSAGEUPDATE, ONIMCOMMANDADD, ONIMBOTJOINCHAT, ONIMBOTDELETE, with upper-case keys,
`data[BOT][<bot id>]` for the bot and `data[COMMAND][<command id>]` for commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from timebot.bitrix.event_parts import (
    auth_from,
    command_context,
    command_key,
    dedupe_key,
    digest,
    has_mention,
    require,
    ts_part,
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
    MalformedEvent,
)
from timebot.bitrix.payload import Fields, to_int, to_int_list

__all__ = ["V1_EVENTS", "parse_v1"]

V1_MESSAGE_ADD = "ONIMBOTMESSAGEADD"
V1_MESSAGE_UPDATE = "ONIMBOTMESSAGEUPDATE"
V1_COMMAND_ADD = "ONIMCOMMANDADD"
V1_JOIN_CHAT = "ONIMBOTJOINCHAT"
V1_DELETE = "ONIMBOTDELETE"
V1_EVENTS = frozenset({V1_MESSAGE_ADD, V1_MESSAGE_UPDATE, V1_COMMAND_ADD, V1_JOIN_CHAT, V1_DELETE})


def parse_v1(name: str, data: Fields, auth: EventAuth, ts: datetime | None) -> BitrixEvent:
    """The typed event for v1 event `name` (one of V1_EVENTS)."""
    if name in (V1_MESSAGE_ADD, V1_MESSAGE_UPDATE):
        return _v1_message(name, data, auth, ts)
    if name == V1_COMMAND_ADD:
        return _v1_command(name, data, auth, ts)
    if name == V1_JOIN_CHAT:
        return _v1_join(name, data, auth, ts)
    if name == V1_DELETE:
        return _v1_delete(name, data, auth, ts)
    raise ValueError(f"not a v1 bot event: {name}")


def _v1_bot(data: Fields) -> tuple[int, Fields]:
    """The first bot of `data[BOT]` (keyed by bot id) and its entry."""
    bots = data.sub("bot")
    for key, entry in bots.raw.items():
        fields = Fields(entry)
        bot_id = fields.integer("bot_id") or to_int(key)
        if bot_id is not None:
            return bot_id, fields
    raise MalformedEvent("missing data[BOT]")


def _v1_bot_auth(entry: Fields, member_id: str) -> EventAuth | None:
    tokens = entry.sub("auth") or entry
    if not tokens.text("access_token"):
        return None
    return auth_from(tokens, tokens.text("member_id") or member_id)


def _v1_chat(params: Fields) -> tuple[ChatType, str, int | None]:
    kind = params.text("chat_type", "message_type").strip().upper()
    dialog_id = params.text("dialog_id")
    chat_type: ChatType
    if kind:
        chat_type = "private" if kind == "P" else "group"
    else:
        chat_type = "group" if dialog_id.startswith("chat") else "private"
    chat_id = params.integer("chat_id", "to_chat_id")
    if not dialog_id and chat_type == "group" and chat_id is not None:
        dialog_id = f"chat{chat_id}"
    require(dialog_id, "data[PARAMS][DIALOG_ID]")
    return chat_type, dialog_id, chat_id


def _v1_message(
    name: str, data: Fields, auth: EventAuth, ts: datetime | None
) -> BotMessageAdded | BotMessageUpdated:
    bot_id, bot_entry = _v1_bot(data)
    params = data.sub("params")
    if not params:
        raise MalformedEvent("missing data[PARAMS]")
    chat_type, dialog_id, chat_id = _v1_chat(params)
    message_id = require(params.integer("message_id", "id"), "data[PARAMS][MESSAGE_ID]")
    author = params.integer("author_id", "from_user_id")
    if author is None:
        author = data.sub("user").integer("id")
    author_id: int = require(author, "data[PARAMS][AUTHOR_ID]")  # 0 is a system message
    text = params.text("message")
    mentions = False
    if chat_type == "group":
        # v1 strips the bot's mention from MESSAGE; MENTIONED_LIST and MESSAGE_ORIGINAL keep it.
        mentioned = params.get("mentioned_list")
        ids = set(to_int_list(mentioned))
        if isinstance(mentioned, Mapping):
            ids.update(to_int_list(list(mentioned)))
        mentions = bot_id in ids or has_mention(params.text("message_original") or text, bot_id)
    common: dict[str, Any] = {
        "event_name": name,
        "auth": auth,
        "ts": ts,
        "generation": "v1",
        "bot_id": bot_id,
        "bot_code": bot_entry.text("bot_code"),
        "bot_auth": _v1_bot_auth(bot_entry, auth.member_id),
        "dialog_id": dialog_id,
        "chat_id": chat_id,
        "chat_type": chat_type,
        "user": user_from(data.sub("user"), author_id),
        "language": params.text("language"),
        "message_id": message_id,
        "author_id": author_id,
        "text": text,
        "mentions_bot": mentions,
    }
    if name == V1_MESSAGE_UPDATE:
        key = dedupe_key(auth.member_id, name, bot_id, message_id, digest(text))
        return BotMessageUpdated(dedupe_key=key, **common)
    return BotMessageAdded(
        dedupe_key=dedupe_key(auth.member_id, name, bot_id, message_id), **common
    )


def _v1_command(
    name: str, data: Fields, auth: EventAuth, ts: datetime | None
) -> BotCommandReceived:
    commands = data.sub("command")
    found = next(
        ((key, Fields(value)) for key, value in commands.raw.items() if isinstance(value, Mapping)),
        None,
    )
    if found is None:
        raise MalformedEvent("missing data[COMMAND]")
    entry_key, entry = found
    params = data.sub("params")
    chat_type, dialog_id, chat_id = _v1_chat(params)
    bot_id = require(entry.integer("bot_id"), "data[COMMAND][][BOT_ID]")
    command = require(entry.text("command").strip().lstrip("/"), "data[COMMAND][][COMMAND]")
    command_id = require(
        entry.integer("command_id") or to_int(entry_key), "data[COMMAND][][COMMAND_ID]"
    )
    message_id = require(
        entry.integer("message_id") or params.integer("message_id"), "data[COMMAND][][MESSAGE_ID]"
    )
    command_params = entry.text("command_params")
    context = command_context(entry.text("command_context") or params.text("command_context"))
    author_id = params.integer("author_id", "from_user_id")
    return BotCommandReceived(
        event_name=name,
        auth=auth,
        ts=ts,
        dedupe_key=command_key(
            auth.member_id, name, bot_id, message_id, command_id, command_params, context, ts
        ),
        generation="v1",
        bot_id=bot_id,
        bot_code=entry.text("bot_code"),
        bot_auth=_v1_bot_auth(entry, auth.member_id),
        dialog_id=dialog_id,
        chat_id=chat_id,
        chat_type=chat_type,
        user=user_from(data.sub("user"), author_id),
        language=params.text("language"),
        command=command,
        params=command_params,
        context=context,
        command_id=command_id,
        message_id=message_id,
    )


def _v1_join(name: str, data: Fields, auth: EventAuth, ts: datetime | None) -> BotJoinedChat:
    bot_id, bot_entry = _v1_bot(data)
    params = data.sub("params")
    chat_type, dialog_id, chat_id = _v1_chat(params)
    return BotJoinedChat(
        event_name=name,
        auth=auth,
        ts=ts,
        dedupe_key=dedupe_key(auth.member_id, name, bot_id, dialog_id, ts_part(ts)),
        generation="v1",
        bot_id=bot_id,
        bot_code=bot_entry.text("bot_code"),
        bot_auth=_v1_bot_auth(bot_entry, auth.member_id),
        dialog_id=dialog_id,
        chat_id=chat_id if chat_type == "group" else None,
        chat_type=chat_type,
        user=user_from(data.sub("user"), params.integer("user_id")),
        language=params.text("language"),
    )


def _v1_delete(name: str, data: Fields, auth: EventAuth, ts: datetime | None) -> BotDeleted:
    bot_id = require(data.integer("bot_id"), "data[BOT_ID]")
    return BotDeleted(
        event_name=name,
        auth=auth,
        ts=ts,
        dedupe_key=dedupe_key(auth.member_id, name, bot_id),
        generation="v1",
        bot_id=bot_id,
        bot_code=data.text("bot_code"),
    )
