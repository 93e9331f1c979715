"""The application's life on the portal: install state, the `ONAPPINSTALL` / `ONAPPUNINSTALL`
forms and the fields POSTed when a user opens the application page (placement DEFAULT).

Docs: common/events/on-app-install.md, common/events/on-app-uninstall.md,
settings/oauth/simple-way.md (samples/APP_FRAME_DEFAULT_open_docs.txt).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from timebot.sandbox.phpquery import http_build_query
from timebot.sandbox.tokens import TokenPair

if TYPE_CHECKING:
    from timebot.sandbox.portal import Portal

__all__ = ["AppInstallation", "InstallResult", "frame_fields", "install_form", "uninstall_form"]


@dataclass(slots=True)
class AppInstallation:
    """The one local application of the portal and its install state."""

    installed: bool = False
    application_token: str = ""
    install_url: str | None = None
    handler_url: str | None = None


@dataclass(frozen=True, slots=True)
class InstallResult:
    """What `install_app` sent in `ONAPPINSTALL` and how the application answered."""

    access_token: str
    refresh_token: str
    application_token: str
    member_id: str
    domain: str
    client_endpoint: str
    expires_in: int
    user_id: int
    status: int
    body: str


def install_form(portal: Portal, pair: TokenPair, admin: int) -> dict[str, Any]:
    """The ONAPPINSTALL form, keys in the order of the docs sample (plus `expires`, `user_id`)."""
    auth = {
        "domain": portal.domain,
        "scope": portal.scope,
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires": int(pair.expires_at.timestamp()),
        "expires_in": pair.expires_in,
        "server_endpoint": portal.server_endpoint,
        "status": "L",
        "client_endpoint": portal.client_endpoint,
        "member_id": portal.member_id,
        "user_id": admin,
        "application_token": portal.app.application_token,
    }
    return {
        "event": "ONAPPINSTALL",
        "data": {
            "VERSION": str(portal.config.app_version),
            "ACTIVE": "Y",
            "INSTALLED": "Y",
            "LANGUAGE_ID": portal.config.language,
        },
        "ts": portal.unix_now(),
        "auth": auth,
    }


def uninstall_form(portal: Portal, clean: bool) -> dict[str, Any]:
    """The ONAPPUNINSTALL form: no tokens, the application token is the only proof."""
    return {
        "event": "ONAPPUNINSTALL",
        "data": {"LANGUAGE_ID": portal.config.language, "CLEAN": 1 if clean else 0},
        "ts": portal.unix_now(),
        "auth": {
            "domain": portal.domain,
            "server_endpoint": portal.server_endpoint,
            "client_endpoint": portal.client_endpoint,
            "member_id": portal.member_id,
            "application_token": portal.app.application_token,
        },
    }


def frame_fields(portal: Portal, handler_url: str, pair: TokenPair) -> tuple[str, dict[str, str]]:
    """The page URL (DOMAIN, PROTOCOL, LANG, APP_SID in its query) and the POST fields."""
    query = http_build_query(
        {
            "DOMAIN": portal.domain,
            "PROTOCOL": 1 if portal.base_url.startswith("https") else 0,
            "LANG": portal.config.language,
            "APP_SID": secrets.token_hex(16),
        }
    )
    separator = "&" if "?" in handler_url else "?"
    fields = {
        "AUTH_ID": pair.access_token,
        "AUTH_EXPIRES": str(pair.expires_in),
        "REFRESH_ID": pair.refresh_token,
        "SERVER_ENDPOINT": portal.server_endpoint,
        "APPLICATION_TOKEN": portal.app.application_token,
        "APPLICATION_SCOPE": portal.scope,
        "member_id": portal.member_id,
        "status": "L",
        "PLACEMENT": "DEFAULT",
        "PLACEMENT_OPTIONS": "{}",
    }
    return f"{handler_url}{separator}{query}", fields
