"""Routers: handlers declared with their trigger (`@router.command("help")`), composed in one place.

A `Dispatcher` tries routers in order; the first handler whose trigger matches answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from timebot.bitrix import (
    BitrixEvent,
    BotCommandReceived,
    BotJoinedChat,
    BotMessageAdded,
)
from timebot.bot.config import BotConfig
from timebot.bot.i18n import Lang
from timebot.bot.replies import Reply
from timebot.storage import UnitOfWork
from timebot.storage.tables import Employee, Portal


@dataclass
class Context:
    """What a handler may use: the portal, the person, their language, the time, the transaction.

    `employee` is the author's row (created on first contact by the intake); None for events
    without a person (a bot joining a chat it was added to by the system).
    """

    portal: Portal
    event: BitrixEvent
    lang: Lang
    now: datetime
    uow: UnitOfWork
    employee: Employee | None = None
    config: BotConfig = field(default_factory=BotConfig)
    replies: list[Reply] = field(default_factory=list)

    def reply(self, reply: Reply) -> None:
        self.replies.append(reply)


Handler = Callable[[Context], Awaitable[None]]
# Runs before any text matcher; returns True when it took the message (a dialog waiting for an
# answer, such as the reason of a correction request).
PendingHandler = Callable[[Context], Awaitable[bool]]
TextMatcher = Callable[[str], bool]


@dataclass
class Router:
    name: str
    commands: dict[str, Handler] = field(default_factory=dict)
    texts: list[tuple[TextMatcher, Handler]] = field(default_factory=list)
    joins: list[Handler] = field(default_factory=list)
    fallbacks: list[Handler] = field(default_factory=list)
    pendings: list[PendingHandler] = field(default_factory=list)

    def command(self, *names: str) -> Callable[[Handler], Handler]:
        """A chat command or keyboard button (`/name` typed, or COMMAND pressed)."""

        def register(fn: Handler) -> Handler:
            for n in names:
                self.commands[n.lower()] = fn
            return fn

        return register

    def text(self, matcher: TextMatcher) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.texts.append((matcher, fn))
            return fn

        return register

    def join(self) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.joins.append(fn)
            return fn

        return register

    def pending(self) -> Callable[[PendingHandler], PendingHandler]:
        """A hook for a dialog awaiting the person's next message (checked before texts)."""

        def register(fn: PendingHandler) -> PendingHandler:
            self.pendings.append(fn)
            return fn

        return register

    def fallback(self) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.fallbacks.append(fn)
            return fn

        return register


def command_of(event: BitrixEvent) -> tuple[str, str] | None:
    """(command, params) for a command event or a typed `/command params` message."""
    if isinstance(event, BotCommandReceived):
        return event.command.lstrip("/").lower(), event.params
    if isinstance(event, BotMessageAdded):
        text = strip_mentions(event.text).strip()
        if text.startswith("/") and len(text) > 1:
            name, _, params = text[1:].partition(" ")
            return name.lower(), params.strip()
    return None


def strip_mentions(text: str) -> str:
    """Remove `[USER=..]..[/USER]` mentions (how group chats address the bot)."""
    import re

    return re.sub(r"\[user=\d+\][^\[]*\[/user\]", "", text, flags=re.IGNORECASE).strip()


class Dispatcher:
    def __init__(self, routers: Iterable[Router]) -> None:
        self.routers = list(routers)

    async def dispatch(self, ctx: Context) -> bool:
        """Run the first matching handler; False when nothing matched."""
        event = ctx.event
        if isinstance(event, BotJoinedChat):
            for r in self.routers:
                for h in r.joins:
                    await h(ctx)
                    return True
            return False
        cmd = command_of(event)
        if cmd is not None:
            for r in self.routers:
                handler = r.commands.get(cmd[0])
                if handler is not None:
                    await handler(ctx)
                    return True
        if isinstance(event, BotMessageAdded):
            for r in self.routers:
                for hook in r.pendings:
                    if await hook(ctx):
                        return True
            text = strip_mentions(event.text)
            for r in self.routers:
                for matcher, h in r.texts:
                    if matcher(text):
                        await h(ctx)
                        return True
        if isinstance(event, BotMessageAdded | BotCommandReceived):
            for r in self.routers:
                for h in r.fallbacks:
                    await h(ctx)
                    return True
        return False
