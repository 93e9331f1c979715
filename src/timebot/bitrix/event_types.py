"""Typed Bitrix24 events as timebot sees them, whatever generation (v1 `ONIMBOT*`, v2
`ONIMBOTV2*`), delivery (webhook form, JSON, `imbot.v2.Event.get`) or key style they came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "AppInstalled",
    "AppUninstalled",
    "BitrixEvent",
    "BotCommandReceived",
    "BotDeleted",
    "BotJoinedChat",
    "BotMessageAdded",
    "BotMessageUpdated",
    "ChatType",
    "CommandContext",
    "EventAuth",
    "EventUser",
    "Generation",
    "MalformedEvent",
    "UnknownEvent",
]

Generation = Literal["v1", "v2"]
ChatType = Literal["private", "group"]
CommandContext = Literal["textarea", "keyboard", "menu"]


class MalformedEvent(ValueError):
    """The payload is not a usable Bitrix24 event; `reason` says what is wrong (safe to show)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EventAuth:
    """The `auth` block of an event (or a bot's own tokens). Only `member_id` is always known;
    events raised by automation or fetched with `imbot.v2.Event.get` carry no tokens."""

    member_id: str
    domain: str = ""
    client_endpoint: str = ""
    server_endpoint: str = ""
    application_token: str = ""
    access_token: str = ""
    refresh_token: str = ""
    expires_in: int | None = None
    expires: int | None = None  # Unix time the access token dies
    user_id: int | None = None
    scope: tuple[str, ...] = ()
    status: str = ""

    def __repr__(self) -> str:  # keep tokens out of logs
        return f"EventAuth(member_id={self.member_id!r}, domain={self.domain!r})"


@dataclass(frozen=True, slots=True)
class EventUser:
    """The person behind an event (author, inviter, command caller)."""

    id: int
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    departments: tuple[int, ...] = ()
    work_position: str = ""
    is_bot: bool = False
    is_extranet: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BitrixEvent:
    """What every event has. `dedupe_key` is the same for two deliveries of one event."""

    event_name: str
    auth: EventAuth
    ts: datetime | None
    dedupe_key: str

    @property
    def member_id(self) -> str:
        """The portal the event came from."""
        return self.auth.member_id


@dataclass(frozen=True, slots=True, kw_only=True)
class _BotEvent(BitrixEvent):
    generation: Generation
    bot_id: int
    bot_code: str = ""
    # The bot's own OAuth tokens (v1 `data[BOT][id]`, v2 webhook `data[bot][auth]`), if sent.
    bot_auth: EventAuth | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _ChatEvent(_BotEvent):
    dialog_id: str
    chat_id: int | None
    chat_type: ChatType
    user: EventUser
    language: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BotMessageAdded(_ChatEvent):
    """A message to the bot. In group chats `text` may have the bot's mention removed (v1 does)."""

    message_id: int
    author_id: int
    text: str
    mentions_bot: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BotMessageUpdated(_ChatEvent):
    """A message in the bot's chat was edited; `text` is the new text."""

    message_id: int
    author_id: int
    text: str
    mentions_bot: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BotCommandReceived(_ChatEvent):
    """A slash command, typed (`textarea`), pressed on a keyboard (`keyboard`) or picked from a
    menu. `command` has no leading '/'; `message_id` is the message to answer."""

    command: str
    params: str
    context: CommandContext
    command_id: int
    message_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BotJoinedChat(_ChatEvent):
    """The bot was added to a chat (or a private dialog with it was opened); `user` invited it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BotDeleted(_BotEvent):
    """The bot was unregistered; no more events will come for it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppInstalled(BitrixEvent):
    """The application was installed: `auth` holds the refresh and application tokens to store."""

    language: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppUninstalled(BitrixEvent):
    """The application was removed; `clean` is the "delete application data" choice. Carries no
    usable tokens: the application token is its only proof."""

    clean: bool = False
    language: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(BitrixEvent):
    """An event timebot does not handle (yet); `data` is its raw `data` block."""

    data: Mapping[str, Any] = field(default_factory=dict)
