"""Chat-bot 2.0 webhook bodies as Bitrix24 sends them, for the inbox tests, and a portal for them.

`message` builds the nested payload of an ONIMBOTV2MESSAGEADD (what `parse_form` makes of the
PHP form); `form` encodes it the way the portal POSTs it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support.rows import migrated_with, portal_row
from timebot.sandbox.events import v2_user
from timebot.sandbox.phpquery import http_build_query
from timebot.sandbox.state import User
from timebot.storage import Database

MEMBER = "b3c1e0d2f4a6489c9e7d5b3a1f0e2d4c"
DOMAIN = "inbox.bitrix24.ru"
TOKEN = "f00dfeedc0ffee0123456789abcdef01"
BOT = 1087
# Monday, 09:05 in Moscow.
MONDAY = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)


def message(
    user_id: int,
    message_id: int,
    text: str,
    *,
    token: str = TOKEN,
    member_id: str = MEMBER,
    at: datetime = MONDAY,
) -> dict[str, Any]:
    """A private-chat message from `user_id` to the bot."""
    user = User(id=user_id, first_name="Сотрудник", last_name=f"№{user_id}", departments=[1])
    auth = {
        "access_token": f"access-{message_id}",
        "expires": int(at.timestamp()) + 3600,
        "expires_in": 3600,
        "scope": "imbot,im,user_basic,department,timeman",
        "domain": DOMAIN,
        "server_endpoint": "https://oauth.bitrix.info/rest/",
        "status": "L",
        "client_endpoint": f"https://{DOMAIN}/rest/",
        "member_id": member_id,
        "user_id": user_id,
        "application_token": token,
    }
    return {
        "event": "ONIMBOTV2MESSAGEADD",
        "event_handler_id": 17,
        "data": {
            "bot": {
                "id": BOT,
                "code": "timebot",
                "auth": {**auth, "refresh_token": f"refresh-{message_id}"},
            },
            "message": {
                "id": message_id,
                "chatId": 100_000 + user_id,
                "authorId": user_id,
                "date": at.isoformat(),
                "text": text,
                "isSystem": False,
                "params": {},
            },
            "chat": {
                "id": 100_000 + user_id,
                "dialogId": str(user_id),
                "type": "private",
                "name": user.full_name,
                "messageType": "P",
            },
            "user": v2_user(user),
            "language": "ru",
        },
        "ts": int(at.timestamp()),
        "auth": auth,
    }


def form(payload: dict[str, Any]) -> bytes:
    return http_build_query(payload).encode()


async def portal_database(database_url: str) -> tuple[Database, int]:
    """A migrated database holding one installed portal whose bot is registered."""
    return await migrated_with(
        database_url,
        portal_row(
            member_id=MEMBER,
            domain=DOMAIN,
            client_endpoint=f"https://{DOMAIN}/rest/",
            application_token=TOKEN,
            bot_id=BOT,
            event_mode="webhook",
        ),
    )
