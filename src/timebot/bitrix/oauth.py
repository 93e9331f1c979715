"""Refreshing an application's OAuth tokens at the Bitrix24 OAuth server (oauth.bitrix.info).

Each refresh returns a new refresh token and kills the old one, so callers must serialize refreshes
per portal and persist the new pair atomically; this module does exactly one request, no retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from timebot.bitrix.errors import BitrixError, TransportError, from_response
from timebot.domain.clock import Clock, SystemClock

__all__ = ["DEFAULT_OAUTH_URL", "TokenSet", "refresh_tokens"]

DEFAULT_OAUTH_URL = "https://oauth.bitrix.info/oauth/token/"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A fresh token pair. `domain` is the portal's host (taken from `client_endpoint`: the
    server's own `domain` field names the OAuth server, not the portal)."""

    access_token: str
    refresh_token: str
    expires_in: int
    member_id: str
    client_endpoint: str
    domain: str
    expires_at: datetime
    scope: tuple[str, ...] = ()
    status: str = ""
    server_endpoint: str = ""

    def __repr__(self) -> str:  # keep tokens out of logs
        return (
            f"TokenSet(member_id={self.member_id!r}, domain={self.domain!r}, "
            f"expires_at={self.expires_at.isoformat()})"
        )


def _scopes(value: Any) -> tuple[str, ...]:
    text = str(value or "").replace(" ", ",")
    return tuple(part for part in text.split(",") if part)


def _token_set(body: Mapping[str, Any], now: datetime) -> TokenSet:
    try:
        access_token = str(body["access_token"])
        refresh_token = str(body["refresh_token"])
    except KeyError as exc:
        raise BitrixError("INVALID_RESPONSE", f"token response lacks {exc.args[0]}") from exc
    expires_in = int(body.get("expires_in") or 3600)
    client_endpoint = str(body.get("client_endpoint") or "")
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=expires_in,
        member_id=str(body.get("member_id") or ""),
        client_endpoint=client_endpoint,
        domain=urlsplit(client_endpoint).hostname or "",
        expires_at=now + timedelta(seconds=expires_in),
        scope=_scopes(body.get("scope")),
        status=str(body.get("status") or ""),
        server_endpoint=str(body.get("server_endpoint") or ""),
    )


async def refresh_tokens(
    http: httpx.AsyncClient,
    oauth_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    *,
    clock: Clock | None = None,
) -> TokenSet:
    """Trade `refresh_token` for a new pair (GET with query parameters, as the docs show).

    Raises InvalidGrant when the refresh token is dead (the portal must reinstall the app),
    PaymentRequired, other BitrixError codes, or TransportError when no answer came.
    """
    clock = clock or SystemClock()
    params = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    try:
        response = await http.get(oauth_url, params=params, headers={"Accept": "application/json"})
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}", sent=False) from exc
    except httpx.TransportError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}", sent=True) from exc
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, Mapping) or body.get("error"):
        raise from_response(response.status_code, body)
    return _token_set(body, clock.now())
