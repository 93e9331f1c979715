"""REST calls for bot replies, in the bot's API generation: `(method, params)` pairs for sending,
updating and answering a command, ready for `BitrixClient.call` or a batch.

v2 (`imbot.v2.*`): camelCase, content under `fields`, `botToken` when calling through an incoming
webhook. v1 (`imbot.*`): upper-case keys, `CLIENT_ID` when calling through an incoming webhook.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from timebot.bitrix.attach import Attach
from timebot.bitrix.event_types import Generation
from timebot.bitrix.keyboard import Keyboard

__all__ = [
    "MAX_MESSAGE_CHARS",
    "answer_command_params",
    "send_message_params",
    "template_id",
    "update_message_params",
]

MAX_MESSAGE_CHARS = 20_000  # longer texts are cut by the portal with " (...)"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A fixed namespace so one idempotency key always maps to the same template id.
_TEMPLATE_NAMESPACE = uuid.UUID("6f1c2a9e-5b0d-4c47-9a55-2d0f3f6f1b7e")


def template_id(key: str) -> str:
    """The message template UUID for an idempotency key (a UUID key is used as it is)."""
    lowered = key.strip().lower()
    if _UUID.fullmatch(lowered):
        return lowered
    return str(uuid.uuid5(_TEMPLATE_NAMESPACE, key))


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def _check_generation(generation: Generation) -> None:
    if generation not in ("v1", "v2"):
        raise ValueError(f"unknown bot API generation: {generation!r}")


# The same message content under each generation's key names.
_KEYS: dict[str, tuple[str, str, str]] = {
    "v2": ("message", "keyboard", "attach"),
    "v1": ("MESSAGE", "KEYBOARD", "ATTACH"),
}


def _content(
    generation: str,
    bot_id: int,
    text: str | None,
    keyboard: Keyboard | None,
    attach: Attach | None,
    *,
    remove_keyboard: bool = False,
) -> dict[str, Any]:
    """Text, keyboard (or "N" to remove it) and attach, keyed as `generation` names them."""
    message_key, keyboard_key, attach_key = _KEYS[generation]
    content: dict[str, Any] = {}
    if text is not None:
        content[message_key] = text
    if remove_keyboard:
        content[keyboard_key] = "N"
    elif keyboard:
        content[keyboard_key] = keyboard.to_wire(bot_id)
    if attach:
        content[attach_key] = attach.to_wire()
    return content


def _check_content(text: str, attach: Attach | None) -> None:
    if not text and not attach:
        raise ValueError("a message needs text or an attachment")


def send_message_params(
    generation: Generation,
    bot_id: int,
    dialog_id: str,
    text: str,
    keyboard: Keyboard | None = None,
    attach: Attach | None = None,
    bot_token: str | None = None,
    client_id: str | None = None,
    message_id_key: str | None = None,
    *,
    system: bool = False,
    url_preview: bool = True,
) -> tuple[str, dict[str, Any]]:
    """`imbot.v2.Chat.Message.send` (v2) or `imbot.message.add` (v1) to `dialog_id` (a user id
    for a private dialog, "chat<ID>" for a group chat).

    `message_id_key` (an outbox row's idempotency key) goes out as v2 `fields.templateId`, a
    UUID the portal keeps with the message; v1 has no such field.
    """
    _check_generation(generation)
    _check_content(text, attach)
    if not dialog_id:
        raise ValueError("dialog_id is required")
    if generation == "v2":
        fields = _content("v2", bot_id, text, keyboard, attach)
        fields["system"] = system
        fields["urlPreview"] = url_preview
        if message_id_key:
            fields["templateId"] = template_id(message_id_key)
        params: dict[str, Any] = {"botId": bot_id, "dialogId": dialog_id, "fields": fields}
        if bot_token:
            params["botToken"] = bot_token
        return "imbot.v2.Chat.Message.send", params
    params = {"BOT_ID": bot_id, "DIALOG_ID": dialog_id}
    params.update(_content("v1", bot_id, text, keyboard, attach))
    params["SYSTEM"] = _yn(system)
    params["URL_PREVIEW"] = _yn(url_preview)
    if client_id:
        params["CLIENT_ID"] = client_id
    return "imbot.message.add", params


def update_message_params(
    generation: Generation,
    bot_id: int,
    message_id: int,
    text: str | None = None,
    keyboard: Keyboard | None = None,
    attach: Attach | None = None,
    bot_token: str | None = None,
    client_id: str | None = None,
    *,
    remove_keyboard: bool = False,
) -> tuple[str, dict[str, Any]]:
    """`imbot.v2.Chat.Message.update` (v2) or `imbot.message.update` (v1) of one of the bot's own
    messages. `text=None` keeps the text (v1 would delete a message updated to ""), and
    `remove_keyboard` takes the buttons away."""
    _check_generation(generation)
    if text == "":
        raise ValueError("an empty text would delete the message; pass None to keep the text")
    if text is None and not keyboard and not attach and not remove_keyboard:
        raise ValueError("nothing to update")
    if generation == "v2":
        fields = _content("v2", bot_id, text, keyboard, attach, remove_keyboard=remove_keyboard)
        params: dict[str, Any] = {"botId": bot_id, "messageId": message_id, "fields": fields}
        if bot_token:
            params["botToken"] = bot_token
        return "imbot.v2.Chat.Message.update", params
    params = {"BOT_ID": bot_id, "MESSAGE_ID": message_id}
    params.update(_content("v1", bot_id, text, keyboard, attach, remove_keyboard=remove_keyboard))
    if client_id:
        params["CLIENT_ID"] = client_id
    return "imbot.message.update", params


def answer_command_params(
    generation: Generation,
    bot_id: int,
    command_id: int,
    message_id: int,
    dialog_id: str,
    text: str,
    keyboard: Keyboard | None = None,
    attach: Attach | None = None,
    bot_token: str | None = None,
    client_id: str | None = None,
    *,
    system: bool = False,
    url_preview: bool = True,
) -> tuple[str, dict[str, Any]]:
    """`imbot.v2.Command.answer` (v2) or `imbot.command.answer` (v1): the reply to a command
    event, posted where the command was given even if the bot is not a member there."""
    _check_generation(generation)
    _check_content(text, attach)
    if generation == "v2":
        fields = _content("v2", bot_id, text, keyboard, attach)
        fields["system"] = system
        fields["urlPreview"] = url_preview
        params: dict[str, Any] = {
            "botId": bot_id,
            "commandId": command_id,
            "messageId": message_id,
            "dialogId": dialog_id,
            "fields": fields,
        }
        if bot_token:
            params["botToken"] = bot_token
        return "imbot.v2.Command.answer", params
    # imbot.command.answer finds the bot through the command; it takes no BOT_ID.
    params = {"COMMAND_ID": command_id, "MESSAGE_ID": message_id}
    params.update(_content("v1", bot_id, text, keyboard, attach))
    params["SYSTEM"] = _yn(system)
    params["URL_PREVIEW"] = _yn(url_preview)
    if client_id:
        params["CLIENT_ID"] = client_id
    return "imbot.command.answer", params
