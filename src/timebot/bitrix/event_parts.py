"""Building blocks shared by the v1 and v2 event parsers: auth blocks, users, mentions, required
fields and the dedupe keys that make two deliveries of one event look the same.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from timebot.bitrix.event_types import (
    CommandContext,
    EventAuth,
    EventUser,
    MalformedEvent,
    UnknownEvent,
)
from timebot.bitrix.payload import Fields, to_int_list, to_str

__all__ = [
    "auth_from",
    "command_context",
    "command_key",
    "dedupe_key",
    "digest",
    "has_mention",
    "require",
    "require_member",
    "ts_part",
    "unknown_event",
    "user_from",
]

_CONTEXTS: dict[str, CommandContext] = {
    "textarea": "textarea",
    "keyboard": "keyboard",
    "menu": "menu",
}


def digest(value: Any) -> str:
    """A short stable hash of a text or a JSON-able value."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def dedupe_key(*parts: object) -> str:
    """Parts joined with ":" (None as empty)."""
    return ":".join("" if part is None else str(part) for part in parts)


def ts_part(ts: datetime | None) -> str:
    """The event time as Unix seconds, "" when unknown."""
    return str(int(ts.timestamp())) if ts else ""


def scopes(value: Any) -> tuple[str, ...]:
    """Scopes from "a,b" or "a b"."""
    text = to_str(value).replace(" ", ",")
    return tuple(part for part in text.split(",") if part)


def auth_from(fields: Fields, member_id: str | None = None) -> EventAuth:
    """An `auth`-style block (event auth or a bot's tokens) as EventAuth."""
    return EventAuth(
        member_id=member_id or fields.text("member_id"),
        domain=fields.text("domain"),
        client_endpoint=fields.text("client_endpoint"),
        server_endpoint=fields.text("server_endpoint"),
        application_token=fields.text("application_token"),
        access_token=fields.text("access_token"),
        refresh_token=fields.text("refresh_token"),
        expires_in=fields.integer("expires_in"),
        expires=fields.integer("expires"),
        user_id=fields.integer("user_id"),
        scope=scopes(fields.get("scope")),
        status=fields.text("status"),
    )


def require_member(auth: EventAuth) -> EventAuth:
    """`auth`, or MalformedEvent when it names no portal."""
    if not auth.member_id:
        raise MalformedEvent("missing auth[member_id]")
    return auth


def require(value: Any, what: str) -> Any:
    """`value`, or MalformedEvent("missing <what>") when it is None or empty."""
    if value is None or value == "":
        raise MalformedEvent(f"missing {what}")
    return value


def user_from(fields: Fields, fallback_id: int | None) -> EventUser:
    """The user block (v1 USER or v2 user); `fallback_id` when the block has no id."""
    user_id = fields.integer("id")
    if user_id is None:
        user_id = fallback_id
    if user_id is None:
        raise MalformedEvent("missing user id")
    return EventUser(
        id=user_id,
        name=fields.text("name"),
        first_name=fields.text("first_name"),
        last_name=fields.text("last_name"),
        departments=to_int_list(fields.get("departments", "uf_department")),
        work_position=fields.text("work_position"),
        is_bot=fields.flag("is_bot", "bot"),
        is_extranet=fields.flag("is_extranet", "extranet"),
    )


def has_mention(text: str, bot_id: int) -> bool:
    """True when `text` holds a [USER=<bot_id>] mention."""
    return re.search(rf"\[user\s*=\s*{bot_id}\s*\]", text, re.IGNORECASE) is not None


def command_context(value: str) -> CommandContext:
    """ "textarea", "keyboard" or "menu" from any spelling; unknown values count as typed."""
    return _CONTEXTS.get(value.strip().lower(), "textarea")


def unknown_event(
    name: str, data: Fields, auth: EventAuth, ts: datetime | None, key: str
) -> UnknownEvent:
    """An event timebot does not handle, with its raw data."""
    return UnknownEvent(event_name=name, auth=auth, ts=ts, dedupe_key=key, data=dict(data.raw))


def command_key(
    member_id: str,
    name: str,
    bot_id: int,
    message_id: int,
    command_id: int,
    params: str,
    context: CommandContext,
    ts: datetime | None,
) -> str:
    """The dedupe key of a command event."""
    # A typed command is unique per message; a keyboard button may be pressed again on the same
    # message, so presses are told apart by their send time.
    moment = ts_part(ts) if context != "textarea" else ""
    return dedupe_key(member_id, name, bot_id, message_id, command_id, digest(params), moment)
