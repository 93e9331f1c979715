"""Chatbots 2.0: imbot.v2.Bot.*, Chat.Message.*, Command.*, Event.get.

Shapes from apidocs chat-bots-v2 pages (bot-register, bot-update, bot-list, bot-unregister,
chat-message-send/update/delete, command-register/answer/unregister, event-get). Webhook calls
authenticate the bot with `botToken`; OAuth calls with the application's client id.
"""

from __future__ import annotations

import secrets
from typing import Any

from timebot.sandbox.conversation import bot_post, normalize_attach, normalize_keyboard
from timebot.sandbox.conversation import resolve_dialog as _resolve
from timebot.sandbox.errors import RestError
from timebot.sandbox.events import v1_type, v2_bot, v2_user
from timebot.sandbox.methods.context import CallContext, MethodSpec, Params
from timebot.sandbox.state import Bot, Command, Owner, User

__all__ = ["create_bot_user", "join_group_chats", "specs"]

_TYPES = {"bot", "supervisor", "personal", "openline", "network"}
_MAX_BOTS = 100


def _owner(ctx: CallContext) -> Owner:
    if ctx.caller.is_webhook:
        # Bot.register documents botToken inside `fields`; every other method at the top level.
        token = (
            ctx.params.text("botToken") or ctx.params.mapping("fields").text("botToken")
        ).strip()
        if not token:
            raise RestError("BOT_TOKEN_NOT_SPECIFIED", "Bot token is not specified")
        return Owner("token", token[:40])
    return ctx.caller.app_owner()


def _bot(ctx: CallContext) -> Bot:
    owner = _owner(ctx)
    bot_id = ctx.params.integer("botId")
    if not bot_id:
        raise RestError("BOT_ID_REQUIRED", "Bot ID is required")
    bot = ctx.portal.state.bots.get(bot_id)
    if bot is None:
        raise RestError("BOT_NOT_FOUND", "Bot not found")
    if bot.owner != owner:
        raise RestError("BOT_OWNERSHIP_ERROR", "Bot is registered by another application", 403)
    return bot


def _valid_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def create_bot_user(ctx: CallContext, name: str, last_name: str, position: str) -> User:
    """The user record behind a new bot."""
    state = ctx.portal.state
    user = User(
        id=state.new_user_id(),
        first_name=name,
        last_name=last_name,
        work_position=position,
        is_bot=True,
        departments=[],
    )
    state.users[user.id] = user
    return user


def join_group_chats(ctx: CallContext, bot: Bot) -> None:
    """With `auto_join_group_chats`, a new bot joins the seeded group chats (JOINCHAT)."""
    portal = ctx.portal
    if not portal.config.auto_join_group_chats:
        return
    for chat in portal.state.chats.values():
        if chat.kind == "C" and bot.id not in chat.members:
            chat.members.append(bot.id)
            ctx.sink.joined(bot, chat, portal.state.users[chat.owner])


def _bot_payload(ctx: CallContext, bot: Bot) -> dict[str, Any]:
    user = ctx.portal.state.users[bot.id]
    return {"bot": v2_bot(ctx.portal, bot), "users": [v2_user(user)]}


def _apply_properties(user: User, props: Params) -> None:
    if props.has("name"):
        user.first_name = props.text("name")
    if props.has("lastName"):
        user.last_name = props.text("lastName")
    if props.has("workPosition"):
        user.work_position = props.text("workPosition")
    if props.has("gender") and props.text("gender") in ("M", "F"):
        user.gender = props.text("gender")
    if props.text("color").startswith("#"):
        user.color = props.text("color")


def bot_register(ctx: CallContext) -> dict[str, Any]:
    """imbot.v2.Bot.register (idempotent per code and application)."""
    fields = ctx.params.mapping("fields")
    owner = _owner(ctx)
    code = fields.text("code").strip()
    if not code:
        raise RestError("BOT_CODE_REQUIRED", "Bot code is required")
    props = fields.mapping("properties")
    if not props.text("name").strip() and not props.text("lastName").strip():
        raise RestError("BOT_PROPERTIES_REQUIRED", "Bot properties are required")
    bot_type = fields.text("type", "bot") or "bot"
    if bot_type not in _TYPES:
        raise RestError("BOT_INVALID_TYPE", "Invalid bot type")
    mode = fields.text("eventMode", "fetch") or "fetch"
    if mode not in ("fetch", "webhook"):
        raise RestError("BOT_INVALID_EVENT_MODE", "Invalid event mode")
    url = fields.text("webhookUrl").strip()
    if mode == "webhook" and not url:
        raise RestError("BOT_WEBHOOK_URL_REQUIRED", "Webhook URL is required")
    if url and not _valid_url(url):
        raise RestError("BOT_INVALID_CALLBACK", "Invalid callback URL")
    state = ctx.portal.state
    for existing in state.bots.values():
        if existing.code == code:
            if existing.owner != owner:
                raise RestError("BOT_CODE_ALREADY_TAKEN", "Bot code is already taken")
            return _bot_payload(ctx, existing)
    if sum(1 for b in state.bots.values() if b.owner == owner) >= _MAX_BOTS:
        raise RestError("BOT_LIMIT_EXCEEDED", "Bot limit exceeded")
    user = create_bot_user(ctx, "", "", "")
    _apply_properties(user, props)
    bot = Bot(
        id=user.id,
        code=code,
        api=2,
        owner=owner,
        application_token=secrets.token_hex(16) if owner.kind == "token" else "",
        type=bot_type,
        v1_type=v1_type(bot_type),
        event_mode=mode,
        webhook_url=url,
        is_hidden=fields.flag("isHidden"),
        is_reactions_enabled=fields.flag("isReactionsEnabled", True),
        is_support_openline=fields.flag("isSupportOpenline"),
        language=ctx.portal.config.language,
    )
    bot.handler_ids["V2"] = state.new_handler_id()
    state.bots[bot.id] = bot
    state.bump()
    join_group_chats(ctx, bot)
    return _bot_payload(ctx, bot)


def bot_update(ctx: CallContext) -> dict[str, Any]:
    """imbot.v2.Bot.update."""
    bot = _bot(ctx)
    fields = ctx.params.mapping("fields")
    mode = fields.text("eventMode", bot.event_mode) or bot.event_mode
    if mode not in ("fetch", "webhook"):
        raise RestError("BOT_INVALID_EVENT_MODE", "Invalid event mode")
    url = fields.text("webhookUrl", bot.webhook_url).strip()
    if (url and not _valid_url(url)) or (mode == "webhook" and not url):
        raise RestError("BOT_INVALID_CALLBACK", "Invalid callback URL")
    bot.event_mode, bot.webhook_url = mode, url
    for name, attr in (
        ("isHidden", "is_hidden"),
        ("isReactionsEnabled", "is_reactions_enabled"),
        ("isSupportOpenline", "is_support_openline"),
    ):
        if fields.has(name):
            setattr(bot, attr, fields.flag(name))
    if fields.has("backgroundId"):
        bot.background_id = fields.get("backgroundId") or None
    _apply_properties(ctx.portal.state.users[bot.id], fields.mapping("properties"))
    ctx.portal.state.bump()
    return _bot_payload(ctx, bot)


def bot_unregister(ctx: CallContext) -> bool:
    """imbot.v2.Bot.unregister (ONIMBOTV2DELETE goes out first, in webhook mode)."""
    bot = _bot(ctx)
    ctx.sink.bot_deleted(bot, ctx.user_id)
    ctx.portal.drop_bot(bot.id)
    return True


def bot_list(ctx: CallContext) -> dict[str, Any]:
    """imbot.v2.Bot.list: the caller's bots, `limit`/`offset` paging."""
    owner = _owner(ctx)
    wanted = ctx.params.mapping("filter").text("type")
    limit = max(1, ctx.params.integer("limit", 50) or 50)
    offset = max(0, ctx.params.integer("offset", 0) or 0)
    state = ctx.portal.state
    mine = [
        b
        for _, b in sorted(state.bots.items())
        if b.owner == owner and (not wanted or b.type == wanted)
    ]
    page = mine[offset : offset + limit]
    return {
        "bots": [v2_bot(ctx.portal, b) for b in page],
        "users": [
            {"id": b.id, "active": True, "name": state.users[b.id].full_name, "bot": True,
             "type": "bot"}
            for b in page
        ],
        "hasNextPage": offset + limit < len(mine),
    }  # fmt: skip


def bot_get(ctx: CallContext) -> dict[str, Any]:
    """imbot.v2.Bot.get."""
    return _bot_payload(ctx, _bot(ctx))


def message_send(ctx: CallContext) -> dict[str, Any]:
    """imbot.v2.Chat.Message.send → `{id, uuidMap}`."""
    bot = _bot(ctx)
    state = ctx.portal.state
    chat = _resolve(state, bot.id, ctx.params.text("dialogId"))
    if bot.id not in chat.members:
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    fields = ctx.params.mapping("fields")
    message = bot_post(
        ctx.portal,
        bot,
        chat,
        fields.text("message"),
        attach=fields.get("attach"),
        keyboard=fields.get("keyboard"),
        system=fields.flag("system"),
        url_preview=fields.flag("urlPreview", True),
        template_id=fields.text("templateId").strip(),
    )
    return {"id": message.id, "uuidMap": {}}


def input_action(ctx: CallContext) -> bool:
    """imbot.v2.Chat.InputAction.notify ("bot is typing"): checks membership, shows nothing."""
    bot = _bot(ctx)
    chat = _resolve(ctx.portal.state, bot.id, ctx.params.text("dialogId"))
    if bot.id not in chat.members:
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    return True


def _own_message(ctx: CallContext, bot: Bot) -> Any:
    message_id = ctx.params.integer("messageId")
    message = ctx.portal.state.messages.get(message_id or 0)
    if message is None or message.deleted or message.system or message.sender_bot != bot.id:
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    return message


def message_update(ctx: CallContext) -> dict[str, bool]:
    """imbot.v2.Chat.Message.update → `{result: true}` (newest docs' shape)."""
    bot = _bot(ctx)
    message = _own_message(ctx, bot)
    fields = ctx.params.mapping("fields")
    if fields.has("message"):
        message.text = fields.text("message").strip()[:20_000]
    if fields.has("attach"):
        message.attach, message.attach_meta = normalize_attach(fields.get("attach"))
    if fields.has("keyboard"):
        message.keyboard = normalize_keyboard(fields.get("keyboard"))
    message.revision = ctx.portal.state.bump()
    return {"result": True}


def message_delete(ctx: CallContext) -> bool:
    """imbot.v2.Chat.Message.delete → `true`."""
    bot = _bot(ctx)
    message = _own_message(ctx, bot)
    message.deleted = True
    message.revision = ctx.portal.state.bump()
    return True


def _command_view(command: Command) -> dict[str, Any]:
    return {
        "id": command.id,
        "botId": command.bot_id,
        "command": f"/{command.command}",
        "common": command.common,
        "hidden": command.hidden,
        "extranetSupport": command.extranet_support,
    }


def _lang_map(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"en": str(value)} if value else {}


def command_register(ctx: CallContext) -> dict[str, Any]:
    """imbot.v2.Command.register (`fields` format, or the legacy flat one)."""
    bot = _bot(ctx)
    fields = ctx.params.mapping("fields") if ctx.params.has("fields") else ctx.params
    raw = fields.get("command")
    if raw is None or raw == "":
        raise RestError("COMMAND_REQUIRED", "Command is required")
    if not isinstance(raw, str):
        raise RestError("COMMAND_NAME_INVALID", "Command name is invalid")
    name = raw.strip().lstrip("/")
    hidden = fields.flag("hidden")
    title = _lang_map(fields.get("title"))
    if not hidden and not title:
        raise RestError("COMMAND_TITLE_REQUIRED", "Command title is required")
    state = ctx.portal.state
    for existing in state.bot_commands(bot.id):
        if existing.command.lower() == name.lower():
            return {"command": _command_view(existing)}
    command = Command(
        id=state.new_command_id(),
        bot_id=bot.id,
        command=name,
        title=title,
        params=_lang_map(fields.get("params")),
        common=fields.flag("common"),
        hidden=hidden,
        extranet_support=fields.flag("extranetSupport"),
    )
    state.commands[command.id] = command
    return {"command": _command_view(command)}


def command_answer(ctx: CallContext) -> dict[str, bool]:
    """imbot.v2.Command.answer: the bot answers in the command's dialog (as a system message
    naming the bot when it is not a member)."""
    bot = _bot(ctx)
    state = ctx.portal.state
    command = state.commands.get(ctx.params.integer("commandId") or 0)
    message_id = ctx.params.integer("messageId") or 0
    if command is None or command.bot_id != bot.id or message_id not in state.messages:
        raise RestError("COMMAND_ANSWER_FAILED", "Command answer failed")
    chat = _resolve(state, bot.id, ctx.params.text("dialogId"))
    fields = ctx.params.mapping("fields")
    member = bot.id in chat.members
    text = fields.text("message")
    if not member:
        text = f"{state.users[bot.id].full_name}: {text}"
    bot_post(
        ctx.portal,
        bot,
        chat,
        text,
        attach=fields.get("attach"),
        keyboard=fields.get("keyboard"),
        system=fields.flag("system") or not member,
        url_preview=fields.flag("urlPreview", True),
    )
    return {"result": True}


def command_unregister(ctx: CallContext) -> bool:
    """imbot.v2.Command.unregister."""
    bot = _bot(ctx)
    state = ctx.portal.state
    command = state.commands.get(ctx.params.integer("commandId") or 0)
    if command is None or command.bot_id != bot.id:
        raise RestError("COMMAND_NOT_FOUND", "Command not found")
    del state.commands[command.id]
    return True


def event_get(ctx: CallContext) -> dict[str, Any]:
    """imbot.v2.Event.get: `offset` acknowledges every event with a smaller id."""
    bot = _bot(ctx)
    offset = ctx.params.integer("offset")
    limit = min(1000, max(1, ctx.params.integer("limit", 100) or 100))
    if offset is not None:
        bot.queue = [e for e in bot.queue if e.event_id >= offset]
        bot.acked_below = max(bot.acked_below, offset)
    page = bot.queue[:limit]
    zone = ctx.portal.zone
    events = [
        {
            "eventId": e.event_id,
            "type": e.type,
            "date": e.date.astimezone(zone).isoformat(),
            "data": e.data,
        }
        for e in page
    ]
    next_offset = page[-1].event_id + 1 if page else bot.acked_below
    return {"events": events, "nextOffset": next_offset, "hasMore": len(bot.queue) > limit}


def specs() -> list[MethodSpec]:
    """The imbot.v2 methods."""
    table = {
        "imbot.v2.Bot.register": bot_register,
        "imbot.v2.Bot.update": bot_update,
        "imbot.v2.Bot.unregister": bot_unregister,
        "imbot.v2.Bot.list": bot_list,
        "imbot.v2.Bot.get": bot_get,
        "imbot.v2.Chat.Message.send": message_send,
        "imbot.v2.Chat.Message.update": message_update,
        "imbot.v2.Chat.Message.delete": message_delete,
        "imbot.v2.Chat.InputAction.notify": input_action,
        "imbot.v2.Command.register": command_register,
        "imbot.v2.Command.answer": command_answer,
        "imbot.v2.Command.unregister": command_unregister,
        "imbot.v2.Event.get": event_get,
    }
    return [MethodSpec(name, "imbot", handler) for name, handler in table.items()]
