"""Bot events in both generations: the v2 data objects (bot, message, chat, user), the v1
`data[BOT|COMMAND|PARAMS|USER]` shapes of the docs samples, and delivery to a fetch queue or a
handler URL as a PHP `http_build_query` form body.

Shapes follow apidocs: chat-bots-v2/imbot.v2/events/events.md, chat-bots-v2/entities.md, and the
outdated/*/events pages (ONIMBOTMESSAGEADD, ONIMCOMMANDADD, ONIMBOTJOINCHAT, ONIMBOTDELETE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from timebot.sandbox.delivery import Push
from timebot.sandbox.phpquery import http_build_query
from timebot.sandbox.state import Bot, Chat, Command, Message, QueuedEvent, User

if TYPE_CHECKING:
    from timebot.sandbox.portal import Portal

__all__ = ["EventSink", "v1_type", "v2_bot", "v2_chat", "v2_message", "v2_user"]

_V1_TYPES = {"bot": "B", "supervisor": "S", "personal": "S", "openline": "O"}


def _iso(portal: Portal, message: Message) -> str:
    return message.date.astimezone(portal.zone).isoformat()


def v2_user(user: User) -> dict[str, Any]:
    """The v2 User object (entities.md#user)."""
    return {
        "id": user.id,
        "active": user.active,
        "name": user.full_name,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "workPosition": user.work_position,
        "color": user.color,
        "avatar": "",
        "gender": user.gender,
        "birthday": "",
        "extranet": False,
        "bot": user.is_bot,
        "connector": False,
        "externalAuthId": "bot" if user.is_bot else "default",
        "status": "online",
        "idle": False,
        "lastActivityDate": False,
        "absent": False,
        "departments": list(user.departments),
        "phones": False,
        "type": "bot" if user.is_bot else "employee",
    }


def v2_bot(portal: Portal, bot: Bot, *, owner_view: bool = True) -> dict[str, Any]:
    """The v2 Bot object; the extended (owner) form carries mode and counters."""
    data: dict[str, Any] = {
        "id": bot.id,
        "code": bot.code,
        "type": bot.type,
        "isHidden": bot.is_hidden,
        "isSupportOpenline": bot.is_support_openline,
        "isReactionsEnabled": bot.is_reactions_enabled,
        "backgroundId": bot.background_id,
        "language": bot.language,
    }
    if owner_view:
        state = portal.state
        data |= {
            "moduleId": "rest",
            "appId": bot.owner.key if bot.owner.kind == "app" else "",
            "eventMode": bot.event_mode,
            "countMessage": bot.count_message,
            "countCommand": len(state.bot_commands(bot.id)),
            "countChat": sum(1 for c in state.chats.values() if bot.id in c.members),
            "countUser": len(bot.users_seen),
        }
    return data


def v2_chat(portal: Portal, chat: Chat, viewer: int) -> dict[str, Any]:
    """The v2 Chat object as `viewer` (a bot) sees it; private dialogs are named after the peer."""
    if chat.kind == "P":
        peer = next((m for m in chat.members if m != viewer), viewer)
        user = portal.state.users.get(peer)
        return {
            "id": chat.id,
            "dialogId": str(peer),
            "type": "private",
            "name": user.full_name if user else "",
            "entityType": "",
            "owner": chat.owner,
            "avatar": "",
            "color": user.color if user else chat.color,
            "messageType": "P",
        }
    return {
        "id": chat.id,
        "dialogId": f"chat{chat.id}",
        "type": "chat",
        "name": chat.title,
        "entityType": chat.entity_type,
        "owner": chat.owner,
        "avatar": "",
        "color": chat.color,
        "messageType": "C",
    }


def v2_message(portal: Portal, message: Message) -> dict[str, Any]:
    """The v2 Message object; attach and keyboard travel in `params` as Bitrix24 stores them."""
    params: dict[str, Any] = {}
    if message.attach:
        params["ATTACH"] = [message.attach_meta | {"BLOCKS": message.attach}]
    if message.keyboard:
        params["KEYBOARD"] = {"BUTTONS": message.keyboard}
    return {
        "id": message.id,
        "chatId": message.chat_id,
        "authorId": message.author_id,
        "date": _iso(portal, message),
        "text": message.text,
        "isSystem": message.system,
        "uuid": message.uuid,
        "forward": None,
        "params": params,
        "viewedByOthers": False,
    }


def _v1_user(user: User) -> dict[str, Any]:
    return {
        "ID": user.id,
        "NAME": user.full_name,
        "FIRST_NAME": user.first_name,
        "LAST_NAME": user.last_name,
        "WORK_POSITION": user.work_position,
        "GENDER": user.gender,
        "IS_BOT": "Y" if user.is_bot else "N",
        "IS_CONNECTOR": "N",
        "IS_NETWORK": "N",
        "IS_EXTRANET": "N",
    }


def _v1_message_params(
    portal: Portal, bot: Bot, chat: Chat, message: Message, sender: User, context: str
) -> dict[str, Any]:
    """`data[PARAMS]` of ONIMBOTMESSAGEADD / ONIMCOMMANDADD (personal and group tabs)."""
    private = chat.kind == "P"
    params: dict[str, Any] = {
        "MESSAGE": message.text,
        "TEMPLATE_ID": message.uuid,
        "MESSAGE_TYPE": chat.kind,
        "FROM_USER_ID": sender.id,
        "DIALOG_ID": str(sender.id) if private else f"chat{chat.id}",
        "TO_CHAT_ID": chat.id,
        "AUTHOR_ID": sender.id,
        "SYSTEM": "Y" if message.system else "N",
    }
    if private:
        params["TO_USER_ID"] = bot.id
    else:
        bots = {str(b): str(b) for b in chat.members if b in portal.state.bots}
        params |= {
            "CHAT_ID": chat.id,
            "CHAT_PARENT_ID": 0,
            "CHAT_PARENT_MID": 0,
            "CHAT_TITLE": chat.title,
            "CHAT_AUTHOR_ID": chat.owner,
            "CHAT_TYPE": chat.kind,
            "CHAT_AVATAR": "",
            "CHAT_COLOR": "GREEN",
            "CHAT_ENTITY_TYPE": chat.entity_type,
            "CHAT_ENTITY_ID": "",
            "CHAT_ENTITY_DATA_1": "",
            "CHAT_ENTITY_DATA_2": "",
            "CHAT_ENTITY_DATA_3": "",
            "CHAT_EXTRANET": "N",
            "CHAT_PREV_MESSAGE_ID": 0,
            "CHAT_CAN_POST": "MEMBER",
            "RID": sender.id,
            "IS_MANAGER": "N",
            "BOT_IN_CHAT": bots,
        }
    command = context != "TEXTAREA" or message.text.lstrip().startswith("/")
    if command:  # the ONIMCOMMANDADD samples carry these two as well
        params["SKIP_USER_CHECK"] = "Y"
    params |= {"PUSH": "Y", "PUSH_IMPORTANT": "N"}
    if command:
        params["RECENT_ADD"] = "Y"
    params |= {
        "RECENT_SKIP_AUTHOR": "N",
        "CONVERT": "N",
        "SKIP_COMMAND": "N",
        "SKIP_COUNTER_INCREMENTS": "N",
        "SILENT_CONNECTOR": "N",
        "SKIP_CONNECTOR": "N",
        "IMPORTANT_CONNECTOR": "N",
        "NO_SESSION_OL": "N",
        "FAKE_RELATION": 0,
        "SKIP_URL_INDEX": "N",
        "COMMAND_CONTEXT": context,
        "CHAT_USER_COUNT": len(chat.members),
        "PLATFORM_CONTEXT": "web",
        "MESSAGE_ID": message.id,
        "CHAT_TYPE": chat.kind,
        "LANGUAGE": portal.config.language,
    }
    return params


def _webhook_scalars(value: Any) -> Any:
    """v2 webhook bodies send null as "" (events.md, "Data Types in Webhook Mode")."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {k: _webhook_scalars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_webhook_scalars(v) for v in value]
    return value


class EventSink:
    """Collects the pushes caused by one action; fetch-mode v2 events go straight to queues."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.pushes: list[Push] = []

    # --- v2 -------------------------------------------------------------------------------

    def v2(self, bot: Bot, event: str, data: dict[str, Any], actor: int | None) -> None:
        """Deliver a v2 event: queue it (fetch) or push it to the bot's webhook URL."""
        portal = self.portal
        full = {"bot": v2_bot(portal, bot)} | data
        if bot.event_mode == "fetch":
            state = portal.state
            bot.queue.append(QueuedEvent(state.new_event_id(), event, portal.clock.now(), full))
            return
        if not bot.webhook_url:
            return
        bot_auth = portal.event_auth(bot.id, bot.owner, bot, style="v2bot")
        body = {
            "event": event,
            "event_handler_id": bot.handler_ids.get("V2", 0),
            "data": _webhook_scalars({"bot": {"id": bot.id, "code": bot.code, "auth": bot_auth}})
            | _webhook_scalars({k: v for k, v in full.items() if k != "bot"}),
            "ts": portal.unix_now(),
            "auth": portal.event_auth(actor, bot.owner, bot, style="user"),
        }
        self.pushes.append(Push(bot.webhook_url, http_build_query(body), event, bot.id))

    def v2_message_event(
        self, bot: Bot, event: str, chat: Chat, message: Message, user: User
    ) -> None:
        """ONIMBOTV2MESSAGEADD / ONIMBOTV2MESSAGEUPDATE."""
        portal = self.portal
        self.v2(
            bot,
            event,
            {
                "message": v2_message(portal, message),
                "chat": v2_chat(portal, chat, bot.id),
                "user": v2_user(user),
                "language": portal.config.language,
            },
            user.id,
        )

    def v2_command_event(
        self,
        bot: Bot,
        command: Command,
        params: str,
        context: str,
        chat: Chat,
        message: Message,
        user: User,
    ) -> None:
        """ONIMBOTV2COMMANDADD with `command{id, command, params, context}`."""
        portal = self.portal
        self.v2(
            bot,
            "ONIMBOTV2COMMANDADD",
            {
                "command": {
                    "id": command.id,
                    "command": f"/{command.command}",
                    "params": params,
                    "context": context,
                },
                "message": v2_message(portal, message),
                "chat": v2_chat(portal, chat, bot.id),
                "user": v2_user(user),
                "language": portal.config.language,
            },
            user.id,
        )

    # --- v1 -------------------------------------------------------------------------------

    def _v1_push(self, url: str, event: str, bot: Bot, data: dict[str, Any], actor: int) -> None:
        portal = self.portal
        body = {
            "event": event,
            "event_handler_id": bot.handler_ids.get(event, 0),
            "data": data,
            "ts": portal.unix_now(),
            "auth": portal.event_auth(actor, bot.owner, bot, style="user_refresh"),
        }
        self.pushes.append(Push(url, http_build_query(body), event, bot.id))

    def _v1_bot_block(self, bot: Bot) -> dict[str, Any]:
        block = self.portal.event_auth(bot.id, bot.owner, bot, style="v1bot")
        auth = dict(block)
        block = block | {"AUTH": auth} if auth.get("access_token") else block
        return block | {"BOT_ID": bot.id, "BOT_CODE": bot.code}

    def v1_message_add(
        self, bot: Bot, chat: Chat, message: Message, user: User, event: str = "ONIMBOTMESSAGEADD"
    ) -> None:
        """ONIMBOTMESSAGEADD (or …UPDATE) to the bot's EVENT_MESSAGE_ADD handler."""
        key = "MESSAGE_ADD" if event == "ONIMBOTMESSAGEADD" else "MESSAGE_UPDATE"
        url = bot.handlers.get(key, "")
        if not url:
            return
        data = {
            "BOT": {str(bot.id): self._v1_bot_block(bot)},
            "PARAMS": _v1_message_params(self.portal, bot, chat, message, user, "TEXTAREA"),
            "USER": _v1_user(user),
        }
        self._v1_push(url, event, bot, data, user.id)

    def v1_command(
        self,
        bot: Bot,
        command: Command,
        params: str,
        context: str,
        chat: Chat,
        message: Message,
        user: User,
    ) -> None:
        """ONIMCOMMANDADD to the command's EVENT_COMMAND_ADD handler."""
        url = command.event_url or bot.handlers.get("MESSAGE_ADD", "")
        if not url:
            return
        item = self._v1_bot_block(bot) | {
            "COMMAND": command.command,
            "COMMAND_ID": command.id,
            "COMMAND_PARAMS": params,
            "COMMAND_CONTEXT": context.upper(),
            "MESSAGE_ID": message.id,
        }
        msg_params = _v1_message_params(self.portal, bot, chat, message, user, context.upper())
        data = {"COMMAND": {str(command.id): item}, "PARAMS": msg_params, "USER": _v1_user(user)}
        self._v1_push(url, "ONIMCOMMANDADD", bot, data, user.id)

    def v1_join(self, bot: Bot, chat: Chat, user: User) -> None:
        """ONIMBOTJOINCHAT to EVENT_WELCOME_MESSAGE."""
        url = bot.handlers.get("WELCOME_MESSAGE", "")
        if not url:
            return
        if chat.kind == "P":
            params: dict[str, Any] = {
                "CHAT_TYPE": "P",
                "MESSAGE_TYPE": "P",
                "BOT_ID": bot.id,
                "USER_ID": user.id,
                "TO_USER_ID": user.id,
                "FROM_USER_ID": bot.id,
                "DIALOG_ID": str(user.id),
            }
        else:
            params = {
                "CHAT_TYPE": "C",
                "MESSAGE_TYPE": "C",
                "BOT_ID": bot.id,
                "USER_ID": user.id,
                "CHAT_ID": chat.id,
                "CHAT_AUTHOR_ID": chat.owner,
                "CHAT_ENTITY_TYPE": chat.entity_type,
                "CHAT_ENTITY_ID": "",
                "ACCESS_HISTORY": 1,
                "DIALOG_ID": f"chat{chat.id}",
            }
        params["LANGUAGE"] = self.portal.config.language
        user_block = {k: v for k, v in _v1_user(user).items() if not k.startswith("IS_")}
        data = {"BOT": {str(bot.id): self._v1_bot_block(bot)}, "PARAMS": params, "USER": user_block}
        self._v1_push(url, "ONIMBOTJOINCHAT", bot, data, user.id)

    def v1_delete(self, bot: Bot, actor: int) -> None:
        """ONIMBOTDELETE to EVENT_BOT_DELETE."""
        url = bot.handlers.get("BOT_DELETE", "")
        if url:
            self._v1_push(
                url, "ONIMBOTDELETE", bot, {"BOT_ID": bot.id, "BOT_CODE": bot.code}, actor
            )

    # --- both -----------------------------------------------------------------------------

    def message(self, bot: Bot, chat: Chat, message: Message, user: User, edited: bool) -> None:
        """A user's message (or its edit) addressed to `bot`, in the bot's generation."""
        if bot.api == 2:
            event = "ONIMBOTV2MESSAGEUPDATE" if edited else "ONIMBOTV2MESSAGEADD"
            self.v2_message_event(bot, event, chat, message, user)
        else:
            self.v1_message_add(
                bot, chat, message, user, "ONIMBOTMESSAGEUPDATE" if edited else "ONIMBOTMESSAGEADD"
            )

    def deleted(self, bot: Bot, chat: Chat, message: Message, user: User) -> None:
        """A user deleted a message addressed to `bot`."""
        portal = self.portal
        if bot.api == 2:
            data = {
                "messageId": message.id,
                "chat": v2_chat(portal, chat, bot.id),
                "user": v2_user(user),
                "language": portal.config.language,
            }
            self.v2(bot, "ONIMBOTV2MESSAGEDELETE", data, user.id)
        elif bot.handlers.get("MESSAGE_DELETE"):
            data = {
                "BOT": {str(bot.id): self._v1_bot_block(bot)},
                "PARAMS": {"MESSAGE_ID": message.id, "DIALOG_ID": str(user.id)}
                if chat.kind == "P"
                else {"MESSAGE_ID": message.id, "DIALOG_ID": f"chat{chat.id}"},
                "USER": _v1_user(user),
            }
            self._v1_push(
                bot.handlers["MESSAGE_DELETE"], "ONIMBOTMESSAGEDELETE", bot, data, user.id
            )

    def command(
        self,
        bot: Bot,
        command: Command,
        params: str,
        context: str,
        chat: Chat,
        message: Message,
        user: User,
    ) -> None:
        """A command typed (`textarea`) or pressed (`keyboard`), in the bot's generation."""
        if bot.api == 2:
            self.v2_command_event(bot, command, params, context, chat, message, user)
        else:
            self.v1_command(bot, command, params, context, chat, message, user)

    def joined(self, bot: Bot, chat: Chat, user: User) -> None:
        """The bot joined a chat or a user opened the bot's dialog for the first time."""
        portal = self.portal
        if bot.api == 2:
            chat_obj = v2_chat(portal, chat, bot.id)
            data = {
                "dialogId": chat_obj["dialogId"],
                "chat": chat_obj,
                "user": v2_user(user),
                "language": portal.config.language,
            }
            self.v2(bot, "ONIMBOTV2JOINCHAT", data, user.id)
        else:
            self.v1_join(bot, chat, user)

    def bot_deleted(self, bot: Bot, actor: int) -> None:
        """The bot was unregistered (its last event)."""
        if bot.api == 2:
            if bot.event_mode == "webhook":
                self.v2(bot, "ONIMBOTV2DELETE", {}, actor)
        else:
            self.v1_delete(bot, actor)


def v1_type(v2_type: str) -> str:
    """The classic TYPE letter for a v2 bot type."""
    return _V1_TYPES.get(v2_type, "B")
