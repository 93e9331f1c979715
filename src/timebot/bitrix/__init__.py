"""Everything about Bitrix24 on the wire: the REST client with rate limiting, batch and OAuth
refresh; event parsing (PHP bracket forms and JSON, chat-bot API v1 and v2); reply builders.

Import from here; the submodules are implementation detail.
"""

from timebot.bitrix.attach import Attach, GridRow
from timebot.bitrix.bbcode import (
    BB,
    bb,
    bold,
    br,
    escape,
    italic,
    join,
    put_command,
    send_command,
    timestamp,
    url,
    user_mention,
)
from timebot.bitrix.client import Attempt, BatchResponse, BitrixClient, RestResponse
from timebot.bitrix.credentials import PortalAuth, TokenRefresher
from timebot.bitrix.errors import (
    AccessDenied,
    BitrixError,
    ExpiredToken,
    InvalidGrant,
    InvalidToken,
    MethodNotFound,
    OperationTimeLimit,
    PaymentRequired,
    PortalDeleted,
    QueryLimitExceeded,
    ServerError,
    TransportError,
    from_response,
)
from timebot.bitrix.event_types import (
    AppInstalled,
    AppUninstalled,
    BitrixEvent,
    BotCommandReceived,
    BotDeleted,
    BotJoinedChat,
    BotMessageAdded,
    BotMessageUpdated,
    EventAuth,
    EventUser,
    MalformedEvent,
    UnknownEvent,
)
from timebot.bitrix.events import parse_event, parse_fetched_event, verify_application_token
from timebot.bitrix.frame import AppFrame, parse_app_frame
from timebot.bitrix.keyboard import Keyboard
from timebot.bitrix.limiter import RateLimiter, plan_limits
from timebot.bitrix.messages import (
    answer_command_params,
    send_message_params,
    update_message_params,
)
from timebot.bitrix.oauth import DEFAULT_OAUTH_URL, TokenSet, refresh_tokens
from timebot.bitrix.phpform import build_query, parse_form

__all__ = [
    "BB",
    "DEFAULT_OAUTH_URL",
    "AccessDenied",
    "AppFrame",
    "AppInstalled",
    "AppUninstalled",
    "Attach",
    "Attempt",
    "BatchResponse",
    "BitrixClient",
    "BitrixError",
    "BitrixEvent",
    "BotCommandReceived",
    "BotDeleted",
    "BotJoinedChat",
    "BotMessageAdded",
    "BotMessageUpdated",
    "EventAuth",
    "EventUser",
    "ExpiredToken",
    "GridRow",
    "InvalidGrant",
    "InvalidToken",
    "Keyboard",
    "MalformedEvent",
    "MethodNotFound",
    "OperationTimeLimit",
    "PaymentRequired",
    "PortalAuth",
    "PortalDeleted",
    "QueryLimitExceeded",
    "RateLimiter",
    "RestResponse",
    "ServerError",
    "TokenRefresher",
    "TokenSet",
    "TransportError",
    "UnknownEvent",
    "answer_command_params",
    "bb",
    "bold",
    "br",
    "build_query",
    "escape",
    "from_response",
    "italic",
    "join",
    "parse_app_frame",
    "parse_event",
    "parse_fetched_event",
    "parse_form",
    "plan_limits",
    "put_command",
    "refresh_tokens",
    "send_command",
    "send_message_params",
    "timestamp",
    "update_message_params",
    "url",
    "user_mention",
    "verify_application_token",
]
