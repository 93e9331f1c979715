"""Driving the bot through the sandbox portal's chat: a person acts, the test waits for the answer.

`ChatDriver` runs the `timebot demo` composition (timebot + worker + sandbox on one real port)
with a clock the test moves, so whole days and weeks pass in seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from tests.support.servers import free_port, serve_asgi
from timebot.bitrix import BitrixClient, RateLimiter
from timebot.demo import build_demo
from timebot.domain.clock import FixedClock
from timebot.gateway.directory import sync_directory
from timebot.gateway.install import COMMANDS
from timebot.storage import Database


async def wait_for(predicate: Callable[[], Any], within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def commands_of(message: Any) -> list[str]:
    """The COMMAND of every button under a message."""
    return [b["COMMAND"] for b in (message.keyboard or []) if b.get("COMMAND")]


@dataclass
class ChatDriver:
    portal: Any  # the sandbox portal
    clock: FixedClock
    bot_id: int
    base_url: str
    database_url: str

    def bot_messages(self, dialog: str) -> list[Any]:
        return [m for m in self.portal.messages(dialog) if m.author_id == self.bot_id]

    async def _answered(self, dialogs: tuple[str, ...], act: Any, count: int) -> list[Any]:
        before = {d: len(self.bot_messages(d)) for d in dialogs}
        await act
        await wait_for(lambda: sum(len(self.bot_messages(d)) - before[d] for d in dialogs) >= count)
        await asyncio.sleep(0.05)
        return [m for d in dialogs for m in self.bot_messages(d)[before[d] :]]

    async def says(
        self, user_id: int, text: str, *, dialog: str | None = None, answers: int = 1
    ) -> Any:
        """The person writes; returns the bot's (last) answer in their private dialog."""
        where = dialog or str(self.bot_id)
        private = str(user_id)
        dialogs = (private,) if where == str(self.bot_id) else (private, where)
        got = await self._answered(dialogs, self.portal.user_says(user_id, where, text), answers)
        return got[-1]

    async def presses(self, user_id: int, command: str, params: str = "") -> Any:
        """The person presses a button of the newest bot message that has it."""
        act = self.portal.user_presses(user_id, str(self.bot_id), command, params)
        return (await self._answered((str(user_id),), act, 1))[-1]

    def at(self, moment: datetime) -> None:
        self.clock.set(moment)


# Portal rules that would act on their own while a test moves the clock.
QUIET_RULES: dict[str, Any] = {
    "remind_checkin_after_minutes": None,
    "remind_checkout_after_minutes": None,
    "auto_close_after_minutes": None,
    "digest_time": "off",
}


async def sync_people(
    database_url: str, clock: FixedClock, settings: Mapping[str, Any] | None = None
) -> int:
    """Load people, departments and heads from the sandbox now (the worker's directory loop
    would take a minute) and merge `settings` into the portal's; returns the portal id."""
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            portal_id = (await uow.portals.active())[0].id
        async with httpx.AsyncClient(timeout=30) as http:
            client = BitrixClient(http, RateLimiter(rate=50, burst=50), max_retries=2)
            await sync_directory(db, client, portal_id, clock=clock)
        if settings:
            async with db.unit_of_work() as uow:
                portal = await uow.portals.lock(portal_id)
                assert portal is not None
                portal.settings = {**(portal.settings or {}), **settings}
                await uow.commit()
        return portal_id
    finally:
        await db.dispose()


@asynccontextmanager
async def chat(database_url: str, event_mode: str, start: datetime) -> AsyncIterator[ChatDriver]:
    clock = FixedClock(start)
    port = free_port()
    demo, _ = build_demo(
        host="127.0.0.1", port=port, database_url=database_url, event_mode=event_mode, clock=clock
    )
    portal = demo.sandbox_app.state.portal
    with serve_asgi(demo, port=port) as base:
        bots = await wait_for(lambda: portal.bots(), within=30)
        # Registration sends the commands right after the bot: wait until they are all there.
        registered = portal.state.bot_commands
        await wait_for(lambda: len(registered(bots[0].id)) >= len(COMMANDS), within=30)
        yield ChatDriver(portal, clock, bots[0].id, base, database_url)
