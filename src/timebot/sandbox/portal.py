"""The sandbox portal: state, tokens, limits, faults, statistics and the programmatic helpers that
tests and `timebot demo` use (install the app, speak as an employee, read a dialog, inject faults).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from timebot.domain.clock import Clock, SystemClock
from timebot.sandbox import conversation
from timebot.sandbox.config import SandboxConfig
from timebot.sandbox.delivery import Delivery, DeliveryRecord, Push
from timebot.sandbox.demo_company import add_staff, seed_demo_company
from timebot.sandbox.events import EventSink
from timebot.sandbox.faults import Faults
from timebot.sandbox.installation import (
    AppInstallation,
    InstallResult,
    frame_fields,
    install_form,
    uninstall_form,
)
from timebot.sandbox.limiter import LeakyBucket
from timebot.sandbox.phpquery import http_build_query
from timebot.sandbox.state import Bot, Message, Owner, PortalState
from timebot.sandbox.stats import Stats
from timebot.sandbox.tokens import TokenPair, TokenStore

__all__ = ["MessageView", "Portal"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message as the web chat and tests see it."""

    id: int
    chat_id: int
    author_id: int
    text: str
    date: datetime
    attach: list[Any] | None
    keyboard: list[dict[str, Any]] | None
    system: bool
    deleted: bool
    bot_id: int | None


class Portal:
    """One Bitrix24 portal with one local application and one incoming webhook."""

    def __init__(
        self,
        config: SandboxConfig,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.state = PortalState()
        self.lock = asyncio.Lock()
        self.tokens = TokenStore(self.clock, config.token_ttl, config.refresh_token_ttl)
        self.limiter = LeakyBucket(config.rate, config.burst, monotonic)
        self.faults = Faults(config.faults, monotonic)
        self.delivery = Delivery(config.delivery_timeout, self.faults)
        self.stats = Stats()
        self.app = AppInstallation(install_url=config.install_url, handler_url=config.handler_url)
        self.zone = ZoneInfo(config.portal_timezone)
        self.base_url = ""
        self.domain = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self.set_base_url(config.base_url)
        if config.seed_demo:
            seed_demo_company(self.state)
        if config.staff > 0:
            add_staff(self.state, config.staff, config.staff_team_size)

    # --- event loop -----------------------------------------------------------------------

    def bind_loop(self) -> None:
        """Remember the loop that serves the sandbox (called on startup and on each request)."""
        self._loop = asyncio.get_running_loop()

    async def _on_portal_loop(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a helper on the serving loop, so tests may call helpers from another thread's
        loop (e.g. with the server in a background thread) without racing the server."""
        loop = self._loop
        current = asyncio.get_running_loop()
        if loop is None or loop is current or loop.is_closed() or not loop.is_running():
            return await make()

        async def run() -> T:
            return await make()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))

    # --- identity -------------------------------------------------------------------------

    def set_base_url(self, base_url: str) -> None:
        """Change the public address (e.g. once the port is known)."""
        self.base_url = base_url.rstrip("/")
        self.domain = self.config.domain or urlsplit(self.base_url).netloc

    @property
    def client_endpoint(self) -> str:
        """`auth[client_endpoint]`: where the application calls REST."""
        return f"{self.base_url}/rest/"

    @property
    def server_endpoint(self) -> str:
        """`auth[server_endpoint]` (the OAuth server's REST; the sandbox serves both)."""
        return f"{self.base_url}/rest/"

    @property
    def oauth_url(self) -> str:
        """The token endpoint, like `https://oauth.bitrix.info/oauth/token/`."""
        return f"{self.base_url}/oauth/token/"

    @property
    def member_id(self) -> str:
        """The portal's stable id."""
        return self.config.member_id

    def webhook_url(self) -> str:
        """The incoming webhook base URL `…/rest/<user>/<secret>/` (append the method name)."""
        return f"{self.client_endpoint}{self.config.webhook_user_id}/{self.config.webhook_secret}/"

    def configure_app(
        self, *, install_url: str | None = None, handler_url: str | None = None
    ) -> None:
        """Set the application's install URL and/or its page (placement DEFAULT) URL."""
        if install_url is not None:
            self.app.install_url = install_url
        if handler_url is not None:
            self.app.handler_url = handler_url

    def unix_now(self) -> int:
        """Seconds since the epoch by the portal clock."""
        return int(self.clock.now().timestamp())

    # --- runtime settings -----------------------------------------------------------------

    def set_rate(self, rate: float | None = None, burst: int | None = None) -> None:
        """Change the leaky bucket (drain per second, burst size)."""
        self.limiter.configure(rate, burst)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault injection (see FaultConfig); returns the settings in force."""
        self.faults.update(**changes)
        return self.faults.snapshot()

    def expire_access_tokens(self) -> int:
        """Make every access token stale now; returns how many there were."""
        return self.tokens.expire_all()

    def snapshot(self) -> dict[str, Any]:
        """Settings and counters for the control endpoint."""
        s = self.stats
        return {
            "rate": self.limiter.rate,
            "burst": self.limiter.burst,
            "bucket_level": round(self.limiter.level(), 3),
            "faults": self.faults.snapshot(),
            "app_installed": self.app.installed,
            "stats": {
                "requests": s.requests,
                "responses_503": s.statuses[503],
                "responses_by_status": {str(k): v for k, v in sorted(s.statuses.items())},
                "rate_limited": s.rate_limited,
                "faults_injected": s.faults_injected,
                "outage_rejections": s.outage_rejections,
                "batch_calls": s.batch_calls,
                "batch_commands": s.batch_commands,
                "errors": s.errors,
                "oauth_refreshes": s.oauth_refreshes,
                "messages_by_bot": {str(k): v for k, v in sorted(s.messages_by_bot.items())},
                "events_delivered": self.delivery.sent,
                "events_failed": self.delivery.failed,
                "events_replayed": self.delivery.replayed,
            },
        }

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.stats = Stats()
        self.delivery.sent = self.delivery.failed = self.delivery.replayed = 0

    # --- tokens and event auth ------------------------------------------------------------

    @property
    def scope(self) -> str:
        """The application's scopes as Bitrix24 lists them in `auth[scope]`."""
        return ",".join(self.config.app_scopes)

    def issue_tokens(self, user_id: int) -> TokenPair:
        """A fresh OAuth pair of the application for `user_id`."""
        return self.tokens.issue(user_id, self.config.client_id, self.scope)

    def event_auth(
        self, user_id: int | None, owner: Owner, bot: Bot | None, *, style: str
    ) -> dict[str, Any]:
        """The `auth` array of a pushed event in the key order of the docs samples.

        Styles: `user` (v2 top level), `user_refresh` (v1 top level, with refresh_token),
        `v1bot` (data[BOT][id]), `v2bot` (data[bot][auth]). Bots of incoming webhooks have no
        OAuth application, so they get only the portal identity and their application token.
        """
        app_token = self.app.application_token if owner.kind == "app" else ""
        if owner.kind != "app" and bot is not None:
            app_token = bot.application_token
        if owner.kind != "app" or user_id is None or not self.app.installed:
            return {
                "domain": self.domain,
                "client_endpoint": self.client_endpoint,
                "member_id": self.member_id,
                "application_token": app_token,
            }
        pair = self.issue_tokens(user_id)
        head = {
            "access_token": pair.access_token,
            "expires": int(pair.expires_at.timestamp()),
            "expires_in": pair.expires_in,
            "scope": pair.scope,
            "domain": self.domain,
            "server_endpoint": self.server_endpoint,
            "status": "L",
            "client_endpoint": self.client_endpoint,
            "member_id": self.member_id,
        }
        if style == "user":
            return head | {"user_id": user_id, "application_token": app_token}
        if style == "user_refresh":
            return head | {
                "user_id": user_id,
                "refresh_token": pair.refresh_token,
                "application_token": app_token,
            }
        tail: dict[str, Any] = {"refresh_token": pair.refresh_token, "user_id": user_id}
        if style == "v1bot":
            tail["client_id"] = self.config.client_id
        return head | tail | {"application_token": app_token}

    # --- application lifecycle -----------------------------------------------------------

    async def install_app(self, install_url: str | None = None) -> InstallResult:
        """Install the local application: new application token, tokens for the admin, and an
        `ONAPPINSTALL` form POSTed to the install URL (as for an "uses only API" app)."""
        return await self._on_portal_loop(lambda: self._install(install_url))

    async def _install(self, install_url: str | None) -> InstallResult:
        url = install_url or self.app.install_url
        if not url:
            raise ValueError("no install URL: pass one or call configure_app(install_url=…)")
        async with self.lock:
            self.app.install_url = url
            self.app.installed = True
            self.app.application_token = secrets.token_hex(16)
            admin = self._admin_id()
            pair = self.issue_tokens(admin)
            form = install_form(self, pair, admin)
            body = http_build_query(form)
        record = await self.delivery.send(Push(url, body, "ONAPPINSTALL"))
        return InstallResult(
            pair.access_token,
            pair.refresh_token,
            self.app.application_token,
            self.member_id,
            self.domain,
            self.client_endpoint,
            pair.expires_in,
            admin,
            record.status,
            body,
        )

    async def uninstall_app(self, clean: bool = True, url: str | None = None) -> DeliveryRecord:
        """Uninstall: POST `ONAPPUNINSTALL` (no tokens, only the application token) to `url`, a
        handler bound with `event.bind`, or the install URL; then forget the app's tokens and
        bots."""
        return await self._on_portal_loop(lambda: self._uninstall(clean, url))

    async def _uninstall(self, clean: bool, url: str | None) -> DeliveryRecord:
        async with self.lock:
            bound = [b.handler for b in self.state.bindings if b.event == "ONAPPUNINSTALL"]
            target = url or (bound[0] if bound else None) or self.app.install_url
            if not target:
                raise ValueError("no URL to send ONAPPUNINSTALL to")
            form = uninstall_form(self, clean)
            body = http_build_query(form)
            self.app.installed = False
            self.tokens.revoke_client(self.config.client_id)
            self.state.bindings.clear()
            for bot_id in [b.id for b in self.state.bots.values() if b.owner.kind == "app"]:
                self.drop_bot(bot_id)
        return await self.delivery.send(Push(target, body, "ONAPPUNINSTALL"))

    def _admin_id(self) -> int:
        admins = [u.id for u in self.state.employees() if u.is_admin]
        return admins[0] if admins else self.config.webhook_user_id

    def drop_bot(self, bot_id: int) -> None:
        """Remove a bot, its user record, commands and group-chat memberships."""
        state = self.state
        state.bots.pop(bot_id, None)
        state.users.pop(bot_id, None)
        for command_id in [c.id for c in state.bot_commands(bot_id)]:
            del state.commands[command_id]
        for chat in state.chats.values():
            if bot_id in chat.members and chat.kind == "C":
                chat.members.remove(bot_id)
        state.bump()

    def app_frame(self, user_id: int) -> tuple[str, dict[str, str]]:
        """The handler URL (with DOMAIN, PROTOCOL, LANG, APP_SID in its query) and the POST
        fields Bitrix24 sends when `user_id` opens the application page (placement DEFAULT)."""
        if not self.app.installed or not self.app.handler_url:
            raise ValueError("the application is not installed or has no handler URL")
        if user_id not in self.state.users or self.state.users[user_id].is_bot:
            raise ValueError(f"no employee {user_id}")
        return frame_fields(self, self.app.handler_url, self.issue_tokens(user_id))

    # --- people and bots in chats (helpers) ------------------------------------------------

    async def _act(self, action: Callable[[EventSink], Any], wait: bool) -> Any:
        return await self._on_portal_loop(lambda: self._act_here(action, wait))

    async def _act_here(self, action: Callable[[EventSink], Any], wait: bool) -> Any:
        async with self.lock:
            sink = EventSink(self)
            result = action(sink)
        if wait:
            await self.delivery.send_all(sink.pushes)
        else:
            self.delivery.schedule(sink.pushes)
        return result

    async def user_says(self, user_id: int, dialog_id: str, text: str, *, wait: bool = True) -> int:
        """Employee `user_id` writes `text` in `dialog_id` (a bot's user id for the private
        dialog, or `chatN`); returns the new message id. With `wait`, pushed events have been
        delivered when this returns."""
        message: Message = await self._act(
            lambda sink: conversation.user_post(self, sink, user_id, str(dialog_id), text), wait
        )
        return message.id

    async def user_presses(
        self,
        user_id: int,
        dialog_id: str,
        command: str,
        params: str = "",
        *,
        message_id: int | None = None,
        wait: bool = True,
    ) -> int:
        """Employee presses the keyboard button with `command` (and `params`, if given) on the
        newest message that has it (or on `message_id`); returns that message's id."""
        message: Message = await self._act(
            lambda sink: conversation.press_button(
                self, sink, user_id, str(dialog_id), command, params, message_id
            ),
            wait,
        )
        return message.id

    async def user_opens(self, user_id: int, dialog_id: str, *, wait: bool = True) -> None:
        """Employee opens a dialog; the first time for a bot's dialog the bot gets JOINCHAT."""
        await self._act(
            lambda sink: conversation.open_dialog(self, sink, user_id, str(dialog_id)), wait
        )

    async def user_edits(
        self, user_id: int, message_id: int, text: str, *, wait: bool = True
    ) -> None:
        """Employee edits their message (MESSAGEUPDATE)."""
        await self._act(
            lambda sink: conversation.user_edit(self, sink, user_id, message_id, text), wait
        )

    async def user_deletes(self, user_id: int, message_id: int, *, wait: bool = True) -> None:
        """Employee deletes their message (MESSAGEDELETE)."""
        await self._act(
            lambda sink: conversation.user_delete(self, sink, user_id, message_id), wait
        )

    async def add_bot_to_chat(
        self, bot_id: int, chat_id: int, by_user_id: int | None = None, *, wait: bool = True
    ) -> None:
        """Invite a bot into a group chat (JOINCHAT from `by_user_id`, default the admin)."""
        await self._act(
            lambda sink: conversation.add_bot_to_chat(
                self, sink, bot_id, chat_id, by_user_id or self._admin_id()
            ),
            wait,
        )

    def messages(self, dialog_id: str, *, bot_id: int | None = None) -> list[MessageView]:
        """Messages of a dialog: `chatN`, or a user id meaning that person's private dialog with
        `bot_id` (default: the only bot that has a dialog with them)."""
        state = self.state
        text = str(dialog_id)
        if text.lower().startswith("chat"):
            chat = state.chats[int(text[4:])]
        else:
            user_id = int(text)
            if bot_id is None:
                chats = [
                    c
                    for c in state.chats.values()
                    if c.kind == "P"
                    and user_id in c.members
                    and any(m in state.bots for m in c.members)
                ]
                if len(chats) != 1:
                    if not chats:
                        return []
                    raise ValueError(f"user {user_id} talks to several bots: pass bot_id")
                chat = chats[0]
            else:
                found = state.private_chat(user_id, bot_id)
                if found is None:
                    return []
                chat = found
        return [
            MessageView(
                m.id,
                m.chat_id,
                m.author_id,
                m.text,
                m.date,
                m.attach,
                m.keyboard,
                m.system,
                m.deleted,
                m.sender_bot,
            )
            for m in state.chat_messages(chat.id)
        ]

    def bots(self) -> list[Bot]:
        """Registered bots, by id."""
        return [b for _, b in sorted(self.state.bots.items())]

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """The most recent pushed events and their outcomes, oldest first."""
        return list(self.delivery.records)

    async def flush(self) -> None:
        """Wait for background event pushes (those scheduled by REST calls and the web chat)."""
        await self._on_portal_loop(self.delivery.drain)
