"""The sandbox's browser side: the web chat page and its small JSON API (`/sandbox/api/…`),
the application page opener (`/sandbox/app?user=ID`) and the control endpoint
(`/sandbox/control`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from timebot.sandbox.errors import RestError
from timebot.sandbox.portal import Portal
from timebot.sandbox.state import Chat, Message, User

__all__ = ["ChatPages"]

_TEMPLATES = Path(__file__).parent / "templates"


def _user_view(portal: Portal, user: User) -> dict[str, Any]:
    state = portal.state
    depts = [state.departments[d].name for d in user.departments if d in state.departments]
    return {
        "id": user.id,
        "name": user.full_name,
        "position": user.work_position,
        "department": ", ".join(depts),
        "timeZone": user.time_zone or portal.config.portal_timezone,
        "isAdmin": user.is_admin,
        "isBot": user.is_bot,
        "color": user.color,
    }


def _message_view(portal: Portal, message: Message, viewer: int) -> dict[str, Any]:
    author = portal.state.users.get(message.author_id)
    bot = portal.state.users.get(message.sender_bot or 0)
    name = author.full_name if author else (bot.full_name if bot else "Система")
    return {
        "id": message.id,
        "revision": message.revision,
        "authorId": message.author_id,
        "authorName": name,
        "isBot": bool(author and author.is_bot),
        "own": message.author_id == viewer,
        "text": "" if message.deleted else message.text,
        "attach": None
        if message.deleted or not message.attach
        else {"meta": message.attach_meta, "blocks": message.attach},
        "keyboard": None if message.deleted else message.keyboard,
        "system": message.system,
        "deleted": message.deleted,
        "unix": int(message.date.timestamp()),
    }


class ChatPages:
    """Route handlers of the web chat, the app opener and the control endpoint."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self._env = Environment(
            loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"])
        )

    # --- pages ----------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        """The web chat."""
        template = self._env.get_template("chat.html")
        return HTMLResponse(template.render(domain=self.portal.domain))

    async def app_page(self, request: Request) -> Response:
        """Open the application page as `user` (placement DEFAULT, POSTed into an iframe)."""
        portal = self.portal
        users = [_user_view(portal, u) for u in portal.state.employees()]
        raw = request.query_params.get("user", "")
        user_id = int(raw) if raw.isdigit() else portal.config.webhook_user_id
        template = self._env.get_template("app_frame.html")
        try:
            async with portal.lock:
                action, fields = portal.app_frame(user_id)
        except ValueError as exc:
            html = template.render(error=str(exc), users=users, current=user_id)
            return HTMLResponse(html, 409)
        html = template.render(action=action, fields=fields, users=users, current=user_id)
        return HTMLResponse(html)

    # --- JSON API -------------------------------------------------------------------------

    async def api_state(self, request: Request) -> Response:
        """Employees, bots and the dialogs of `user`."""
        portal = self.portal
        state = portal.state
        raw = request.query_params.get("user", "")
        viewer = int(raw) if raw.isdigit() else 0
        dialogs: list[dict[str, Any]] = []
        for bot in portal.bots():
            if bot.is_hidden:
                continue
            user = state.users[bot.id]
            dialogs.append(
                {
                    "dialogId": str(bot.id),
                    "kind": "P",
                    "title": user.full_name,
                    "subtitle": user.work_position or "Чат-бот · bot",
                    "color": user.color,
                    "members": [],
                }
            )
        for chat in sorted(state.chats.values(), key=lambda c: c.id):
            if chat.kind == "C" and viewer in chat.members:
                dialogs.append(self._group_view(chat))
        return JSONResponse(
            {
                "users": [_user_view(portal, u) for u in state.employees()],
                "dialogs": dialogs,
                "revision": state.revision,
                "appInstalled": portal.app.installed,
            }
        )

    def _group_view(self, chat: Chat) -> dict[str, Any]:
        state = self.portal.state
        members = [
            _user_view(self.portal, state.users[m]) for m in chat.members if m in state.users
        ]
        return {
            "dialogId": f"chat{chat.id}",
            "kind": "C",
            "title": chat.title,
            "subtitle": f"{len(members)} участников · members",
            "color": chat.color,
            "members": members,
        }

    async def api_messages(self, request: Request) -> Response:
        """Messages of a dialog changed after revision `since` (new, edited, deleted)."""
        portal = self.portal
        query = request.query_params
        viewer = int(query.get("user", "0") or 0)
        since = int(query.get("since", "0") or 0)
        dialog = query.get("dialog", "")
        state = portal.state
        chat: Chat | None
        if dialog.startswith("chat") and dialog[4:].isdigit():
            chat = state.chats.get(int(dialog[4:]))
            if chat is not None and viewer not in chat.members:
                chat = None
        else:
            chat = state.private_chat(viewer, int(dialog)) if dialog.isdigit() else None
        messages = []
        if chat is not None:
            messages = [
                _message_view(portal, m, viewer)
                for m in state.chat_messages(chat.id)
                if m.revision > since
            ]
        return JSONResponse({"revision": state.revision, "messages": messages})

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise RestError("ERROR_ARGUMENT", "Invalid JSON body") from exc
        if not isinstance(data, dict):
            raise RestError("ERROR_ARGUMENT", "JSON body must be an object")
        return data

    async def _guarded(self, request: Request, action: str) -> Response:
        try:
            data = await self._json(request)
            user = int(data.get("user", 0))
            dialog = str(data.get("dialog", ""))
            if user not in self.portal.state.users:
                raise RestError("ERROR_ARGUMENT", "Unknown user")
            result = await self._do(action, user, dialog, data)
        except RestError as exc:
            return JSONResponse(exc.body(), exc.status)
        except (ValueError, KeyError) as exc:
            return JSONResponse({"error": "ERROR_ARGUMENT", "error_description": str(exc)}, 400)
        return JSONResponse({"ok": True} | result)

    async def _do(
        self, action: str, user: int, dialog: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        portal = self.portal
        wait = bool(data.get("wait"))  # tests ask to return only after events were pushed
        if action == "send":
            text = str(data.get("text", "")).strip()
            if not text:
                raise RestError("ERROR_ARGUMENT", "Empty message")
            return {"id": await portal.user_says(user, dialog, text, wait=wait)}
        if action == "open":
            await portal.user_opens(user, dialog, wait=wait)
            return {}
        message = portal.state.messages.get(int(data.get("messageId", 0)))
        index = int(data.get("index", -1))
        if message is None or not message.keyboard or not 0 <= index < len(message.keyboard):
            raise RestError("ERROR_ARGUMENT", "No such button")
        button = message.keyboard[index]
        if button.get("DISABLED") == "Y" or not button.get("COMMAND"):
            raise RestError("ERROR_ARGUMENT", "The button sends no command")
        await portal.user_presses(
            user,
            dialog,
            str(button["COMMAND"]),
            str(button.get("COMMAND_PARAMS", "")),
            message_id=message.id,
            wait=wait,
        )
        return {}

    async def api_send(self, request: Request) -> Response:
        """The chosen employee sends a message."""
        return await self._guarded(request, "send")

    async def api_press(self, request: Request) -> Response:
        """The chosen employee presses a keyboard COMMAND button."""
        return await self._guarded(request, "press")

    async def api_open(self, request: Request) -> Response:
        """The chosen employee opens a dialog."""
        return await self._guarded(request, "open")

    # --- control --------------------------------------------------------------------------

    async def control(self, request: Request) -> Response:
        """GET: settings and stats. POST JSON: `faults{…}`, `rate`, `burst`,
        `expire_access_tokens`, `reset_stats`, `reset_bucket`."""
        portal = self.portal
        if request.method == "POST":
            try:
                data = await self._json(request)
                if isinstance(data.get("faults"), dict):
                    portal.set_faults(**data["faults"])
                if "rate" in data or "burst" in data:
                    burst = data.get("burst")
                    portal.set_rate(
                        float(data["rate"]) if "rate" in data else None,
                        int(burst) if burst is not None else None,
                    )
                expired = portal.expire_access_tokens() if data.get("expire_access_tokens") else 0
                if data.get("reset_stats"):
                    portal.reset_stats()
                if data.get("reset_bucket"):
                    portal.limiter.reset()
            except RestError as exc:
                return JSONResponse(exc.body(), exc.status)
            except (TypeError, ValueError) as exc:
                body = {"error": "ERROR_ARGUMENT", "error_description": str(exc)}
                return JSONResponse(body, 400)
            return JSONResponse(portal.snapshot() | {"expired_tokens": expired})
        return JSONResponse(portal.snapshot())
