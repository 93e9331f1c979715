"""What happens in chats: people write, press buttons, open dialogs, edit and delete; bots post,
update and delete. Decides which bots hear what (private dialog, mention, supervisor, command)
and hands the resulting events to an `EventSink`. Callers hold `Portal.lock`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import TYPE_CHECKING, Any

from timebot.sandbox.errors import RestError
from timebot.sandbox.events import EventSink
from timebot.sandbox.state import Bot, Chat, Command, Message, PortalState

if TYPE_CHECKING:
    from timebot.sandbox.portal import Portal

__all__ = [
    "MAX_MESSAGE",
    "add_bot_to_chat",
    "bot_post",
    "normalize_attach",
    "normalize_keyboard",
    "open_dialog",
    "press_button",
    "resolve_dialog",
    "user_delete",
    "user_edit",
    "user_post",
]

log = logging.getLogger(__name__)

MAX_MESSAGE = 20_000
_MENTION = re.compile(r"\[user=(\d+)\]", re.IGNORECASE)
_HEARS_ALL = {"supervisor", "personal"}


def _decode_json(value: Any, code: str, what: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise RestError(code, f"Incorrect {what} params") from exc
    return value


def normalize_keyboard(value: Any) -> list[dict[str, Any]] | None:
    """Buttons from any documented form (JSON string, `{BUTTONS: […]}`, bare list); "N" or ""
    remove the keyboard (None). Raises KEYBOARD_ERROR for anything else."""
    if value is None or value in ("", "N"):
        return None
    value = _decode_json(value, "KEYBOARD_ERROR", "keyboard")
    if isinstance(value, dict) and "BUTTONS" in value:
        value = value["BUTTONS"]
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        value = [value[k] for k in sorted(value, key=int)]
    if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
        raise RestError("KEYBOARD_ERROR", "Incorrect keyboard params")
    buttons = [{str(k).upper(): v for k, v in b.items()} for b in value]
    for button in buttons:
        if button.get("TYPE") == "NEWLINE":
            continue
        if not button.get("TEXT") or not (
            button.get("LINK")
            or button.get("COMMAND")
            or button.get("ACTION")
            or button.get("APP_ID")
        ):
            raise RestError("KEYBOARD_ERROR", "Incorrect keyboard params")
    return buttons or None


def normalize_attach(value: Any) -> tuple[list[Any] | None, dict[str, Any]]:
    """Blocks and metadata (ID, COLOR_TOKEN, COLOR) from a full or short ATTACH."""
    if value is None or value in ("", "N"):
        return None, {}
    value = _decode_json(value, "ATTACH_ERROR", "attach")
    meta: dict[str, Any] = {}
    if isinstance(value, dict) and "BLOCKS" in value:
        meta = {k: v for k, v in value.items() if k != "BLOCKS"}
        value = value["BLOCKS"]
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        value = [value[k] for k in sorted(value, key=int)]
    if not isinstance(value, list) or not all(isinstance(b, dict) and b for b in value):
        raise RestError("ATTACH_ERROR", "Incorrect attach params")
    if len(json.dumps(value, ensure_ascii=False)) > 60_000:
        raise RestError("ATTACH_OVERSIZE", "You have exceeded the maximum allowable size of attach")
    return value, meta


def resolve_dialog(state: PortalState, viewer: int, dialog_id: str) -> Chat:
    """The chat a `dialogId` names from `viewer`'s side: `chatN`, or a user id (private)."""
    text = str(dialog_id).strip()
    if text.lower().startswith("chat"):
        chat = state.chats.get(int(text[4:])) if text[4:].isdigit() else None
        if chat is None or chat.kind != "C":
            raise RestError("ACCESS_DENIED", "Access denied", 403)
        return chat
    if not text.isdigit() or int(text) not in state.users or int(text) == viewer:
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    return state.ensure_private_chat(viewer, int(text))


def bot_post(
    portal: Portal,
    bot: Bot,
    chat: Chat,
    text: str,
    *,
    attach: Any = None,
    keyboard: Any = None,
    system: bool = False,
    url_preview: bool = True,
    template_id: str = "",
) -> Message:
    """A bot's message (imbot.v2.Chat.Message.send, imbot.message.add, command answers);
    `template_id` (v2 `fields.templateId`) becomes the message's uuid."""
    text = str(text or "").strip()
    blocks, meta = normalize_attach(attach)
    buttons = normalize_keyboard(keyboard)
    if not text and not blocks:
        raise RestError("EMPTY_MESSAGE", "Message is empty")
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + " (...)"
    state = portal.state
    message = Message(
        id=state.new_message_id(),
        chat_id=chat.id,
        author_id=0 if system else bot.id,
        text=text,
        date=portal.clock.now(),
        revision=state.bump(),
        attach=blocks,
        attach_meta=meta,
        keyboard=buttons,
        system=system,
        sender_bot=bot.id,
        url_preview=url_preview,
        uuid=template_id or str(uuid.uuid4()),
    )
    state.messages[message.id] = message
    bot.count_message += 1
    portal.stats.count_message(bot.id)
    return message


def _command_for(state: PortalState, chat: Chat, name: str) -> list[tuple[Bot, Command]]:
    found: list[tuple[Bot, Command]] = []
    for command in state.commands.values():
        bot = state.bots.get(command.bot_id)
        if bot is None or command.command.lower() != name.lower():
            continue
        if command.common or bot.id in chat.members:
            found.append((bot, command))
    return found


def _listeners(state: PortalState, chat: Chat, author: int, text: str) -> list[Bot]:
    bots = [state.bots[m] for m in chat.members if m in state.bots and m != author]
    if chat.kind == "P":
        return bots
    mentioned = {int(m) for m in _MENTION.findall(text)}
    return [b for b in bots if b.type in _HEARS_ALL or b.id in mentioned]


def user_post(portal: Portal, sink: EventSink, user_id: int, dialog_id: str, text: str) -> Message:
    """A person writes; bots hear it as a message or, for their slash commands, a command."""
    state = portal.state
    user = state.users[user_id]
    chat = resolve_dialog(state, user_id, dialog_id)
    if user_id not in chat.members:
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    message = Message(
        id=state.new_message_id(),
        chat_id=chat.id,
        author_id=user_id,
        text=text,
        date=portal.clock.now(),
        revision=state.bump(),
        uuid=str(uuid.uuid4()),
    )
    state.messages[message.id] = message
    commanded: set[int] = set()
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1:
        name, _, params = stripped[1:].partition(" ")
        for bot, command in _command_for(state, chat, name):
            bot.users_seen.add(user_id)
            sink.command(bot, command, params.strip(), "textarea", chat, message, user)
            commanded.add(bot.id)
    for bot in _listeners(state, chat, user_id, text):
        if bot.id not in commanded:
            bot.users_seen.add(user_id)
            sink.message(bot, chat, message, user, edited=False)
    return message


def press_button(
    portal: Portal,
    sink: EventSink,
    user_id: int,
    dialog_id: str,
    command: str,
    params: str = "",
    message_id: int | None = None,
) -> Message:
    """A person presses a keyboard COMMAND button: the owning bot gets its command with the
    `keyboard` context and the keyboard message's id. Unregistered commands raise no event."""
    state = portal.state
    user = state.users[user_id]
    chat = resolve_dialog(state, user_id, dialog_id)
    target = _find_keyboard(state, chat, command, params, message_id)
    if target is None:
        raise ValueError(f"no button {command!r} in dialog {dialog_id}")
    message, button = target
    bot = state.bots.get(message.sender_bot or 0)
    if bot is None:
        raise ValueError("the keyboard's bot is gone")
    name, _, inline = str(button.get("COMMAND", "")).lstrip("/").partition(" ")
    button_params = str(button.get("COMMAND_PARAMS", "") or inline)
    if button.get("BLOCK") == "Y":
        button["DISABLED"] = "Y"
        message.revision = state.bump()
    matches = [c for c in state.bot_commands(bot.id) if c.command.lower() == name.lower()]
    if not matches:
        log.warning("bot %s has no command %r: the press raises no event", bot.id, name)
        return message
    bot.users_seen.add(user_id)
    sink.command(bot, matches[0], button_params, "keyboard", chat, message, user)
    return message


def _find_keyboard(
    state: PortalState, chat: Chat, command: str, params: str, message_id: int | None
) -> tuple[Message, dict[str, Any]] | None:
    wanted = command.lstrip("/")
    candidates = [state.messages[message_id]] if message_id in state.messages else []
    if message_id is None:
        candidates = list(reversed(state.chat_messages(chat.id)))
    for message in candidates:
        if message.deleted or message.chat_id != chat.id:
            continue
        for button in message.keyboard or []:
            name, _, inline = str(button.get("COMMAND", "")).lstrip("/").partition(" ")
            button_params = str(button.get("COMMAND_PARAMS", "") or inline)
            if name == wanted and (not params or params == button_params):
                return message, button
    return None


def open_dialog(portal: Portal, sink: EventSink, user_id: int, dialog_id: str) -> None:
    """A person opens a private dialog with a bot: the first time, the bot gets JOINCHAT."""
    state = portal.state
    chat = resolve_dialog(state, user_id, dialog_id)
    if chat.kind != "P":
        return
    bot_id = next((m for m in chat.members if m != user_id), 0)
    bot = state.bots.get(bot_id)
    if bot is None or (user_id, bot_id) in state.welcomed:
        return
    state.welcomed.add((user_id, bot_id))
    bot.users_seen.add(user_id)
    sink.joined(bot, chat, state.users[user_id])


def add_bot_to_chat(
    portal: Portal, sink: EventSink, bot_id: int, chat_id: int, by_user: int
) -> None:
    """Invite a bot into a group chat (JOINCHAT on behalf of `by_user`)."""
    state = portal.state
    chat = state.chats[chat_id]
    bot = state.bots[bot_id]
    if bot_id in chat.members:
        return
    chat.members.append(bot_id)
    state.bump()
    sink.joined(bot, chat, state.users[by_user])


def _authored(state: PortalState, user_id: int, message_id: int) -> tuple[Message, Chat]:
    message = state.messages.get(message_id)
    if message is None or message.author_id != user_id or message.deleted:
        raise ValueError(f"user {user_id} has no message {message_id}")
    return message, state.chats[message.chat_id]


def user_edit(portal: Portal, sink: EventSink, user_id: int, message_id: int, text: str) -> None:
    """A person edits their message (MESSAGEUPDATE to the bots that heard it)."""
    state = portal.state
    message, chat = _authored(state, user_id, message_id)
    message.text = text
    message.revision = state.bump()
    for bot in _listeners(state, chat, user_id, text):
        sink.message(bot, chat, message, state.users[user_id], edited=True)


def user_delete(portal: Portal, sink: EventSink, user_id: int, message_id: int) -> None:
    """A person deletes their message (MESSAGEDELETE to the bots that heard it)."""
    state = portal.state
    message, chat = _authored(state, user_id, message_id)
    listeners = _listeners(state, chat, user_id, message.text)
    message.deleted = True
    message.revision = state.bump()
    for bot in listeners:
        sink.deleted(bot, chat, message, state.users[user_id])
