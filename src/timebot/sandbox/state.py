"""The portal's in-memory world: people, departments, chats, messages, bots, commands, event
queues, work days and id counters. Plain data plus small lookups; callers hold `Portal.lock`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "Bot",
    "Chat",
    "Command",
    "Department",
    "EventBinding",
    "Message",
    "Owner",
    "PortalState",
    "QueuedEvent",
    "TimemanSettings",
    "User",
    "WorkDay",
]


@dataclass(slots=True)
class TimemanSettings:
    """A user's work-time settings as `timeman.settings` reports them."""

    enabled: bool = True
    free: bool = False
    max_start: str = "09:15:00"
    min_finish: str = "18:00:00"
    min_duration: str = "08:00:00"
    allowed_delta: str = "00:15:00"


@dataclass(slots=True)
class User:
    """A portal user: an employee, or the user record behind a bot."""

    id: int
    first_name: str
    last_name: str
    email: str = ""
    gender: str = ""
    work_position: str = ""
    departments: list[int] = field(default_factory=list)
    time_zone: str = ""  # "" = portal default, as Bitrix24 reports it
    is_admin: bool = False
    active: bool = True
    is_bot: bool = False
    color: str = "#df532d"
    timeman: TimemanSettings = field(default_factory=TimemanSettings)
    date_register: str = "2024-01-15T00:00:00+03:00"

    @property
    def full_name(self) -> str:
        """First and last name joined by a space."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(slots=True)
class Department:
    """A department of the company structure."""

    id: int
    name: str
    parent: int | None = None
    head: int | None = None
    sort: int = 500


@dataclass(frozen=True, slots=True)
class Owner:
    """Who controls a bot: an OAuth application (`app`, client id) or a webhook token
    (`token`: the v2 `botToken` or the v1 `CLIENT_ID`)."""

    kind: str
    key: str


@dataclass(slots=True)
class QueuedEvent:
    """A v2 event waiting in a fetch-mode bot's queue until acknowledged."""

    event_id: int
    type: str
    date: datetime
    data: dict[str, Any]


@dataclass(slots=True)
class Bot:
    """A chat-bot registered through imbot.v2 (`api=2`) or the classic imbot (`api=1`)."""

    id: int
    code: str
    api: int
    owner: Owner
    application_token: str
    type: str = "bot"  # v2 type: bot | supervisor | personal | openline
    v1_type: str = "B"
    event_mode: str = "fetch"
    webhook_url: str = ""
    handlers: dict[str, str] = field(default_factory=dict)  # v1: MESSAGE_ADD, WELCOME_MESSAGE…
    handler_ids: dict[str, int] = field(default_factory=dict)
    is_hidden: bool = False
    is_reactions_enabled: bool = True
    is_support_openline: bool = False
    background_id: str | None = None
    language: str = "ru"
    queue: list[QueuedEvent] = field(default_factory=list)
    acked_below: int = 0
    count_message: int = 0
    users_seen: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Command:
    """A slash command of a bot."""

    id: int
    bot_id: int
    command: str  # without the leading slash
    title: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    common: bool = False
    hidden: bool = False
    extranet_support: bool = False
    event_url: str = ""  # v1 EVENT_COMMAND_ADD
    handler_id: int = 0


@dataclass(slots=True)
class Chat:
    """A dialog: `P` (private, one user and one bot or two users) or `C` (group chat)."""

    id: int
    kind: str
    title: str
    members: list[int]
    owner: int
    color: str = "#ab7761"
    entity_type: str = ""


@dataclass(slots=True)
class Message:
    """A chat message; `revision` changes whenever the message is edited or deleted."""

    id: int
    chat_id: int
    author_id: int  # 0 for system messages
    text: str
    date: datetime
    revision: int
    attach: list[Any] | None = None
    attach_meta: dict[str, Any] = field(default_factory=dict)
    keyboard: list[dict[str, Any]] | None = None
    system: bool = False
    sender_bot: int | None = None
    deleted: bool = False
    url_preview: bool = True
    uuid: str = ""


@dataclass(slots=True)
class WorkDay:
    """A user's current `timeman` work day; times carry the zone the day was opened in."""

    user_id: int
    start: datetime
    finish: datetime | None = None
    paused_at: datetime | None = None
    leaks: timedelta = field(default_factory=timedelta)
    lat_open: float = 0.0
    lon_open: float = 0.0
    lat_close: float = 0.0
    lon_close: float = 0.0
    ip_open: str = ""
    ip_close: str = ""
    active: bool = True
    reports: list[str] = field(default_factory=list)


@dataclass(slots=True)
class EventBinding:
    """An application handler bound with `event.bind`."""

    event: str
    handler: str
    auth_type: int
    handler_id: int


@dataclass(slots=True)
class PortalState:
    """All mutable portal data and the id counters."""

    users: dict[int, User] = field(default_factory=dict)
    departments: dict[int, Department] = field(default_factory=dict)
    chats: dict[int, Chat] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    bots: dict[int, Bot] = field(default_factory=dict)
    commands: dict[int, Command] = field(default_factory=dict)
    workdays: dict[int, WorkDay] = field(default_factory=dict)
    network_ranges: list[dict[str, str]] = field(default_factory=list)
    bindings: list[EventBinding] = field(default_factory=list)
    welcomed: set[tuple[int, int]] = field(default_factory=set)  # (user, bot) dialogs opened
    revision: int = 0
    next_user_id: int = 1
    next_chat_id: int = 1
    next_message_id: int = 1001
    next_event_id: int = 1
    next_command_id: int = 1
    next_handler_id: int = 401
    # Lookup indexes (thousands of people in load tests): private dialogs by their two members,
    # kept complete while `_private_indexed` equals the number of chats; message ids per chat,
    # filled up to `_messages_indexed` (message ids only grow, messages are never removed; an id
    # taken but not yet stored — read from another thread — waits in `_unindexed`).
    _private: dict[frozenset[int], int] = field(default_factory=dict)
    _private_indexed: int = -1
    _by_chat: dict[int, list[int]] = field(default_factory=dict)
    _messages_indexed: int = 0
    _unindexed: set[int] = field(default_factory=set)

    def bump(self) -> int:
        """A new change revision (the web chat polls changes since a revision)."""
        self.revision += 1
        return self.revision

    def new_user_id(self) -> int:
        """The next free user id (bots are users too)."""
        uid = max(self.next_user_id, max(self.users, default=0) + 1)
        self.next_user_id = uid + 1
        return uid

    def new_chat_id(self) -> int:
        """The next chat id."""
        cid = self.next_chat_id
        self.next_chat_id += 1
        return cid

    def new_message_id(self) -> int:
        """The next message id."""
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def new_event_id(self) -> int:
        """The next v2 event id (shared by all fetch queues, always increasing)."""
        eid = self.next_event_id
        self.next_event_id += 1
        return eid

    def new_command_id(self) -> int:
        """The next command id."""
        cid = self.next_command_id
        self.next_command_id += 1
        return cid

    def new_handler_id(self) -> int:
        """The next `event_handler_id`."""
        hid = self.next_handler_id
        self.next_handler_id += 1
        return hid

    def employees(self) -> list[User]:
        """People (not bots), by id."""
        return [u for _, u in sorted(self.users.items()) if not u.is_bot]

    def private_chat(self, a: int, b: int) -> Chat | None:
        """The private dialog between two users, if it exists."""
        pair = frozenset((a, b))
        if self._private_indexed != len(self.chats):
            self._private = {}
            for chat in self.chats.values():
                if chat.kind == "P":
                    self._private.setdefault(frozenset(chat.members), chat.id)
            self._private_indexed = len(self.chats)
        found = self.chats.get(self._private.get(pair, 0))
        if found is not None and found.kind == "P" and set(found.members) == pair:
            return found
        for chat in self.chats.values():  # members changed behind the index: look it up
            if chat.kind == "P" and set(chat.members) == pair:
                self._private[pair] = chat.id
                return chat
        return None

    def ensure_private_chat(self, user_id: int, other_id: int) -> Chat:
        """The private dialog between two users, created on first use."""
        chat = self.private_chat(user_id, other_id)
        if chat is None:
            chat = Chat(self.new_chat_id(), "P", "", [user_id, other_id], user_id)
            complete = self._private_indexed == len(self.chats)
            self.chats[chat.id] = chat
            if complete:
                self._private[frozenset(chat.members)] = chat.id
                self._private_indexed = len(self.chats)
        return chat

    def chat_messages(self, chat_id: int) -> list[Message]:
        """Messages of a chat in id order (deleted ones included)."""
        late = [i for i in self._unindexed if i in self.messages]
        for message_id in range(self._messages_indexed + 1, self.next_message_id):
            message = self.messages.get(message_id)
            if message is None:
                self._unindexed.add(message_id)
            else:
                self._by_chat.setdefault(message.chat_id, []).append(message_id)
        self._messages_indexed = max(self._messages_indexed, self.next_message_id - 1)
        for message_id in late:
            self._unindexed.discard(message_id)
            bisect.insort(
                self._by_chat.setdefault(self.messages[message_id].chat_id, []), message_id
            )
        return [self.messages[i] for i in self._by_chat.get(chat_id, ())]

    def bot_commands(self, bot_id: int) -> list[Command]:
        """Commands registered by one bot."""
        return [c for c in self.commands.values() if c.bot_id == bot_id]
