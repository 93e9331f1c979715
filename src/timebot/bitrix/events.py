"""Turning Bitrix24 event payloads into typed events: `parse_event` for pushed events (a parsed
PHP form or a JSON body, v1 or v2), `parse_fetched_event` for items of `imbot.v2.Event.get`, and
`verify_application_token` for the constant-time authenticity check.

Tolerant of shape (strings or JSON types, any key style), strict about what an event needs:
anything missing raises `MalformedEvent` with a reason.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from timebot.bitrix.event_parts import (
    auth_from,
    dedupe_key,
    digest,
    require,
    require_member,
    ts_part,
    unknown_event,
)
from timebot.bitrix.event_types import (
    AppInstalled,
    AppUninstalled,
    BitrixEvent,
    EventAuth,
    MalformedEvent,
)
from timebot.bitrix.events_v1 import V1_EVENTS, parse_v1
from timebot.bitrix.events_v2 import V2_PREFIX, parse_v2, v2_webhook_auth
from timebot.bitrix.payload import Fields, to_datetime, to_str

__all__ = ["parse_event", "parse_fetched_event", "verify_application_token"]

APP_INSTALL = "ONAPPINSTALL"
APP_UNINSTALL = frozenset({"ONAPPUNINSTALL", "ONAPPSUNINSTALL"})  # the docs spell it both ways


def verify_application_token(expected: str, got: str) -> bool:
    """True when `got` equals the stored application token (constant time); False when either
    is empty, so a portal with no stored token can never be matched."""
    if not expected or not got:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), got.encode("utf-8"))


def parse_event(payload: Mapping[str, Any], *, default_member_id: str | None = None) -> BitrixEvent:
    """A typed event from a pushed payload: a PHP form parsed by `parse_form` (all strings) or a
    JSON body. Raises MalformedEvent when required parts are missing.

    `default_member_id` names the portal when the payload does not (a single-portal deployment
    that knows its portal); the payload's own member_id always wins.
    """
    if not isinstance(payload, Mapping):
        raise MalformedEvent("the body is not an object")
    top = Fields(payload)
    name = top.text("event").strip().upper()
    if not name:
        raise MalformedEvent("missing event")
    ts = to_datetime(top.get("ts"))
    auth_fields = top.sub("auth")
    data = top.sub("data")
    if name.startswith(V2_PREFIX):
        bot_auth_fields = data.sub("bot").sub("auth")
        auth = v2_webhook_auth(auth_fields, bot_auth_fields, default_member_id)
        bot_auth = auth_from(bot_auth_fields, auth.member_id) if bot_auth_fields else None
        return parse_v2(name, data, auth, ts, bot_auth=bot_auth, event_id=None)
    auth = require_member(
        auth_from(
            auth_fields, auth_fields.text("member_id") or top.text("member_id") or default_member_id
        )
    )
    if name == APP_INSTALL:
        return _app_installed(name, data, auth, ts)
    if name in APP_UNINSTALL:
        return _app_uninstalled(name, data, auth, ts)
    if name in V1_EVENTS:
        return parse_v1(name, data, auth, ts)
    return unknown_event(
        name, data, auth, ts, dedupe_key(auth.member_id, name, ts_part(ts), digest(data.raw))
    )


def parse_fetched_event(item: Mapping[str, Any], *, member_id: str) -> BitrixEvent:
    """A typed event from one item of `imbot.v2.Event.get` (`{eventId, type, date, data}`) of
    portal `member_id`; `dedupe_key` is built from the event id."""
    if not isinstance(item, Mapping):
        raise MalformedEvent("the event item is not an object")
    if not member_id:
        raise MalformedEvent("missing member_id")
    fields = Fields(item)
    name = fields.text("type", "event").strip().upper()
    if not name:
        raise MalformedEvent("missing event type")
    event_id = to_str(require(fields.get("eventId", "event_id", "id"), "eventId"))
    data = fields.sub("data")
    if not data and not isinstance(fields.get("data"), Mapping):
        raise MalformedEvent("missing data")
    ts = to_datetime(fields.get("date", "ts"))
    auth = EventAuth(member_id=member_id)
    if name.startswith(V2_PREFIX):
        return parse_v2(name, data, auth, ts, bot_auth=None, event_id=event_id)
    bot_id = data.sub("bot").integer("id")
    return unknown_event(
        name, data, auth, ts, dedupe_key(member_id, "v2fetch", bot_id or 0, event_id)
    )


# --- application lifecycle -------------------------------------------------------------------


def _app_installed(name: str, data: Fields, auth: EventAuth, ts: datetime | None) -> AppInstalled:
    for field_name in ("application_token", "access_token", "refresh_token"):
        require(getattr(auth, field_name), f"auth[{field_name}]")
    return AppInstalled(
        event_name=name,
        auth=auth,
        ts=ts,
        dedupe_key=dedupe_key(auth.member_id, name, ts_part(ts)),
        language=data.text("language_id", "language"),
        version=data.text("version"),
    )


def _app_uninstalled(
    name: str, data: Fields, auth: EventAuth, ts: datetime | None
) -> AppUninstalled:
    require(auth.application_token, "auth[application_token]")
    return AppUninstalled(
        event_name=name,
        auth=auth,
        ts=ts,
        dedupe_key=dedupe_key(auth.member_id, name, ts_part(ts)),
        clean=data.flag("clean"),
        language=data.text("language_id", "language"),
    )
