"""Application and account basics: app.info, profile, user.admin, event.bind/unbind/get.

Shapes from apidocs common/system/app-info.md (incoming webhooks get only SCOPE and LICENSE, as
the official PHP SDK notes), common/users/profile.md, common/users/user-admin.md and
events/event-bind.md. Only ONAPPUNINSTALL bindings are ever called by the sandbox.
"""

from __future__ import annotations

import re
from typing import Any

from timebot.sandbox.errors import RestError
from timebot.sandbox.methods.context import CallContext, MethodSpec
from timebot.sandbox.state import EventBinding

__all__ = ["specs"]


def app_info(ctx: CallContext) -> dict[str, Any]:
    """app.info."""
    config = ctx.portal.config
    if ctx.caller.is_webhook:
        return {"SCOPE": list(ctx.caller.scopes), "LICENSE": config.license}
    license_type = config.license.partition("_")[2] or config.license
    family = re.match(r"[a-z]+", license_type)
    return {
        "ID": 7,
        "CODE": config.app_code,
        "VERSION": config.app_version,
        "STATUS": "L",
        "INSTALLED": ctx.portal.app.installed,
        "PAYMENT_EXPIRED": "N",
        "DAYS": None,
        "LANGUAGE_ID": config.language,
        "LICENSE": config.license,
        "LICENSE_TYPE": license_type,
        "LICENSE_FAMILY": family.group(0) if family else license_type,
    }


def profile(ctx: CallContext) -> dict[str, Any]:
    """profile: the calling user in brief."""
    user = ctx.portal.state.users[ctx.user_id]
    return {
        "ID": str(user.id),
        "ADMIN": user.is_admin,
        "NAME": user.first_name,
        "LAST_NAME": user.last_name,
        "PERSONAL_GENDER": user.gender,
        "TIME_ZONE": user.time_zone,
    }


def user_admin(ctx: CallContext) -> bool:
    """user.admin: whether the calling user administers the portal."""
    return ctx.portal.state.users[ctx.user_id].is_admin


def _app_only(ctx: CallContext) -> None:
    if ctx.caller.is_webhook:
        raise RestError("WRONG_AUTH_TYPE", "Current authorization type is denied for this method")


def event_bind(ctx: CallContext) -> bool:
    """event.bind (application authorization only)."""
    _app_only(ctx)
    event = ctx.params.text("event").strip().upper()
    handler = ctx.params.text("handler").strip()
    if not event.startswith("ON"):
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found")
    if not handler.startswith(("http://", "https://")):
        raise RestError("WRONG_HANDLER_URL", "Wrong handler URL")
    state = ctx.portal.state
    if not any(b.event == event and b.handler == handler for b in state.bindings):
        auth_type = ctx.params.integer("auth_type", 0) or 0
        state.bindings.append(EventBinding(event, handler, auth_type, state.new_handler_id()))
    return True


def event_unbind(ctx: CallContext) -> dict[str, int]:
    """event.unbind → `{count}`."""
    _app_only(ctx)
    event = ctx.params.text("event").strip().upper()
    handler = ctx.params.text("handler").strip()
    state = ctx.portal.state
    keep = [
        b
        for b in state.bindings
        if not (b.event == event and (not handler or b.handler == handler))
    ]
    count = len(state.bindings) - len(keep)
    state.bindings[:] = keep
    return {"count": count}


def event_get(ctx: CallContext) -> list[dict[str, Any]]:
    """event.get: the application's bound handlers."""
    _app_only(ctx)
    return [
        {"event": b.event, "handler": b.handler, "auth_type": b.auth_type, "offline": 0}
        for b in ctx.portal.state.bindings
    ]


def specs() -> list[MethodSpec]:
    """Basic methods."""
    return [
        MethodSpec("app.info", "basic", app_info),
        MethodSpec("profile", "basic", profile),
        MethodSpec("user.admin", "basic", user_admin),
        MethodSpec("event.bind", "basic", event_bind),
        MethodSpec("event.unbind", "basic", event_unbind),
        MethodSpec("event.get", "basic", event_get),
    ]
