"""The classic (deprecated but working) chat-bot API: imbot.register/unregister,
imbot.message.add/update, imbot.command.register/answer.

Shapes from apidocs chat-bots/outdated pages. Webhook calls identify the bot's owner with
`CLIENT_ID`; OAuth calls with the application's client id. Results are bare ids or `true`.
"""

from __future__ import annotations

import secrets
from typing import Any

from timebot.sandbox.conversation import (
    bot_post,
    normalize_attach,
    normalize_keyboard,
    resolve_dialog,
)
from timebot.sandbox.errors import RestError
from timebot.sandbox.methods.context import CallContext, MethodSpec, Params
from timebot.sandbox.methods.imbot_v2 import create_bot_user, join_group_chats
from timebot.sandbox.state import Bot, Command, Owner

__all__ = ["specs"]

_V2_TYPES = {"B": "bot", "H": "bot", "O": "openline", "S": "supervisor"}
_MAX_V1_BOTS = 5
_HANDLERS = {
    "MESSAGE_ADD": "Message add",
    "WELCOME_MESSAGE": "Welcome message",
    "BOT_DELETE": "Bot delete",
}


def _owner(ctx: CallContext) -> Owner:
    if ctx.caller.is_webhook:
        client_id = ctx.params.text("CLIENT_ID").strip()
        if not client_id:
            raise RestError("ACCESS_DENIED", "Access denied! Client ID not specified", 403)
        return Owner("token", client_id)
    return ctx.caller.app_owner()


def _bot(ctx: CallContext, owner: Owner, required: bool = False) -> Bot:
    state = ctx.portal.state
    bot_id = ctx.params.integer("BOT_ID")
    if not bot_id:
        if required:
            raise RestError("BOT_ID_ERROR", "Bot not found")
        mine = [b for _, b in sorted(state.bots.items()) if b.owner == owner]
        if not mine:
            raise RestError("BOT_ID_ERROR", "Bot not found")
        return mine[0]
    bot = state.bots.get(bot_id)
    if bot is None:
        raise RestError("BOT_ID_ERROR", "Bot not found")
    if bot.owner != owner:
        raise RestError("APP_ID_ERROR", "Bot was installed by another REST application")
    return bot


def _url_param(params: Params, key: str, fallback: str) -> str:
    url = params.text(f"EVENT_{key}").strip() or fallback
    if url and not url.startswith(("http://", "https://")):
        raise RestError(f"EVENT_{key}_ERROR", "Wrong handler URL")
    return url


def register(ctx: CallContext) -> int:
    """imbot.register → the new (or existing, same code) bot id."""
    params = ctx.params
    owner = _owner(ctx)
    code = params.text("CODE").strip()
    if not code:
        raise RestError("CODE_ERROR", "Bot code isn't specified")
    common = params.text("EVENT_HANDLER").strip()
    handlers: dict[str, str] = {}
    for key, label in _HANDLERS.items():
        url = _url_param(params, key, common)
        if not url:
            raise RestError(f"EVENT_{key}_ERROR", f'Handler for "{label}" event isn\'t specified')
        handlers[key] = url
    for key in ("MESSAGE_UPDATE", "MESSAGE_DELETE"):
        url = _url_param(params, key, common)
        if url:
            handlers[key] = url
    props = params.mapping("PROPERTIES")
    if not props.text("NAME").strip() and not props.text("LAST_NAME").strip():
        raise RestError("NAME_ERROR", "Bot name isn't specified")
    state = ctx.portal.state
    for existing in state.bots.values():
        if existing.code == code:
            if existing.owner != owner:
                raise RestError("WRONG_REQUEST", "Bot can't be created")
            return existing.id
    if sum(1 for b in state.bots.values() if b.owner == owner and b.api == 1) >= _MAX_V1_BOTS:
        raise RestError(
            "MAX_COUNT_ERROR",
            f"Has reached the maximum number of bots for application (max: {_MAX_V1_BOTS})",
        )
    letter = params.text("TYPE", "B").upper() or "B"
    user = create_bot_user(
        ctx, props.text("NAME"), props.text("LAST_NAME"), props.text("WORK_POSITION")
    )
    if props.text("PERSONAL_GENDER") in ("M", "F"):
        user.gender = props.text("PERSONAL_GENDER")
    bot = Bot(
        id=user.id,
        code=code,
        api=1,
        owner=owner,
        application_token=secrets.token_hex(16) if owner.kind == "token" else "",
        type=_V2_TYPES.get(letter, "bot"),
        v1_type=letter if letter in _V2_TYPES else "B",
        event_mode="webhook",
        handlers=handlers,
        is_support_openline=params.flag("OPENLINE") or letter == "O",
        language=ctx.portal.config.language,
    )
    for event in ("ONIMBOTMESSAGEADD", "ONIMBOTJOINCHAT", "ONIMBOTDELETE", "ONIMCOMMANDADD"):
        bot.handler_ids[event] = state.new_handler_id()
    for event in ("ONIMBOTMESSAGEUPDATE", "ONIMBOTMESSAGEDELETE"):
        bot.handler_ids[event] = state.new_handler_id()
    state.bots[bot.id] = bot
    state.bump()
    join_group_chats(ctx, bot)
    return bot.id


def unregister(ctx: CallContext) -> bool:
    """imbot.unregister (ONIMBOTDELETE first)."""
    bot = _bot(ctx, _owner(ctx), required=True)
    ctx.sink.bot_deleted(bot, ctx.user_id)
    ctx.portal.drop_bot(bot.id)
    return True


def message_add(ctx: CallContext) -> int:
    """imbot.message.add → message id."""
    params = ctx.params
    bot = _bot(ctx, _owner(ctx))
    dialog = params.text("DIALOG_ID").strip()
    if not dialog:
        raise RestError("DIALOG_ID_EMPTY", "Dialog ID can't be empty")
    if not params.text("MESSAGE").strip() and not params.get("ATTACH"):
        raise RestError("MESSAGE_EMPTY", "Message can't be empty")
    chat = resolve_dialog(ctx.portal.state, bot.id, dialog)
    if bot.id not in chat.members:
        raise RestError("WRONG_REQUEST", "Message isn't added")
    message = bot_post(
        ctx.portal,
        bot,
        chat,
        params.text("MESSAGE"),
        attach=params.get("ATTACH"),
        keyboard=params.get("KEYBOARD"),
        system=params.flag("SYSTEM"),
        url_preview=params.flag("URL_PREVIEW", True),
    )
    return message.id


def message_update(ctx: CallContext) -> bool:
    """imbot.message.update: an empty MESSAGE deletes; ""/"N" clear ATTACH and KEYBOARD."""
    params = ctx.params
    bot = _bot(ctx, _owner(ctx))
    message_id = params.integer("MESSAGE_ID") or 0
    if message_id <= 0:
        raise RestError("MESSAGE_ID_ERROR", "Message ID can't be empty")
    state = ctx.portal.state
    message = state.messages.get(message_id)
    if message is None or message.deleted or message.sender_bot != bot.id or message.system:
        raise RestError(
            "CANT_EDIT_MESSAGE", "Time has expired for modification or you don't have access"
        )
    if params.has("MESSAGE"):
        text = params.text("MESSAGE").strip()
        if not text:
            message.deleted = True
        message.text = text or message.text
    if params.has("ATTACH"):
        message.attach, message.attach_meta = normalize_attach(params.get("ATTACH"))
    if params.has("KEYBOARD"):
        message.keyboard = normalize_keyboard(params.get("KEYBOARD"))
    message.revision = state.bump()
    return True


def _lang(value: Any) -> tuple[dict[str, str], dict[str, str]]:
    items = (
        value
        if isinstance(value, list)
        else list(value.values())
        if isinstance(value, dict)
        else []
    )
    titles: dict[str, str] = {}
    hints: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and item.get("LANGUAGE_ID"):
            titles[str(item["LANGUAGE_ID"])] = str(item.get("TITLE", ""))
            hints[str(item["LANGUAGE_ID"])] = str(item.get("PARAMS", ""))
    return titles, hints


def command_register(ctx: CallContext) -> int:
    """imbot.command.register → command id."""
    params = ctx.params
    bot = _bot(ctx, _owner(ctx), required=True)
    url = params.text("EVENT_COMMAND_ADD").strip()
    if not url:
        raise RestError(
            "EVENT_COMMAND_ADD_ERROR", 'Handler for "Command add" event isn\'t specified'
        )
    if not url.startswith(("http://", "https://")):
        raise RestError("EVENT_COMMAND_ADD_ERROR", "Wrong handler URL")
    name = params.text("COMMAND").strip().lstrip("/")
    if not name:
        raise RestError("COMMAND_ERROR", "Command isn't specified")
    titles, hints = _lang(params.get("LANG"))
    if not titles:
        raise RestError("LANG_ERROR", "Lang set can't be empty")
    state = ctx.portal.state
    for existing in state.bot_commands(bot.id):
        if existing.command.lower() == name.lower():
            return existing.id
    command = Command(
        id=state.new_command_id(),
        bot_id=bot.id,
        command=name,
        title=titles,
        params=hints,
        common=params.flag("COMMON"),
        hidden=params.flag("HIDDEN"),
        extranet_support=params.flag("EXTRANET_SUPPORT"),
        event_url=url,
        handler_id=state.new_handler_id(),
    )
    state.commands[command.id] = command
    return command.id


def command_answer(ctx: CallContext) -> int:
    """imbot.command.answer → the answer's message id, posted in the command message's chat."""
    params = ctx.params
    owner = _owner(ctx)
    state = ctx.portal.state
    command: Command | None = state.commands.get(params.integer("COMMAND_ID") or 0)
    if command is None and params.text("COMMAND"):
        name = params.text("COMMAND").lstrip("/")
        command = next(
            (
                c
                for c in state.commands.values()
                if c.command == name and state.bots[c.bot_id].owner == owner
            ),
            None,
        )
    if command is None:
        raise RestError("COMMAND_ID_ERROR", "Command not found")
    bot = state.bots[command.bot_id]
    if bot.owner != owner:
        raise RestError("APP_ID_ERROR", "Command was installed by another rest application")
    message_id = params.integer("MESSAGE_ID") or 0
    if not message_id:
        raise RestError("MESSAGE_ID_EMPTY", "Message ID can't be empty")
    if not params.text("MESSAGE").strip() and not params.get("ATTACH"):
        raise RestError("MESSAGE_EMPTY", "Message can't be empty")
    origin = state.messages.get(message_id)
    if origin is None:
        raise RestError("WRONG_REQUEST", "Message isn't added")
    chat = state.chats[origin.chat_id]
    member = bot.id in chat.members
    answer = bot_post(
        ctx.portal,
        bot,
        chat,
        params.text("MESSAGE"),
        attach=params.get("ATTACH"),
        keyboard=params.get("KEYBOARD"),
        system=params.flag("SYSTEM") or not member,
        url_preview=params.flag("URL_PREVIEW", True),
    )
    return answer.id


def specs() -> list[MethodSpec]:
    """The classic imbot methods."""
    table = {
        "imbot.register": register,
        "imbot.unregister": unregister,
        "imbot.message.add": message_add,
        "imbot.message.update": message_update,
        "imbot.command.register": command_register,
        "imbot.command.answer": command_answer,
    }
    return [MethodSpec(name, "imbot", handler) for name, handler in table.items()]
