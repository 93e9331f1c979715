"""OAuth tokens of the sandbox: access tokens that expire, refresh tokens that work once.

Mirrors oauth.bitrix.info: a refresh returns a new pair and retires the old refresh token;
older access tokens stay valid until they expire.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from timebot.domain.clock import Clock
from timebot.sandbox.errors import RestError

__all__ = ["AccessToken", "TokenPair", "TokenStore"]


@dataclass(slots=True)
class AccessToken:
    """An issued access token."""

    token: str
    user_id: int
    client_id: str
    scope: str
    expires_at: datetime


@dataclass(slots=True)
class _RefreshToken:
    token: str
    user_id: int
    client_id: str
    scope: str
    expires_at: datetime
    used: bool = False


@dataclass(frozen=True, slots=True)
class TokenPair:
    """A fresh access/refresh pair for one user of one application."""

    access_token: str
    refresh_token: str
    user_id: int
    client_id: str
    scope: str
    expires_at: datetime
    expires_in: int


def _token() -> str:
    # Bitrix24 tokens are long lowercase hex strings.
    return secrets.token_hex(26)


class TokenStore:
    """Issues, checks, refreshes and revokes tokens."""

    def __init__(self, clock: Clock, ttl: int, refresh_ttl: int) -> None:
        self._clock = clock
        self.ttl = ttl
        self.refresh_ttl = refresh_ttl
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}

    def issue(self, user_id: int, client_id: str, scope: str) -> TokenPair:
        """A new pair for `user_id`."""
        now = self._clock.now()
        self._prune(now)
        access = AccessToken(_token(), user_id, client_id, scope, now + timedelta(seconds=self.ttl))
        refresh = _RefreshToken(
            _token(), user_id, client_id, scope, now + timedelta(seconds=self.refresh_ttl)
        )
        self._access[access.token] = access
        self._refresh[refresh.token] = refresh
        return TokenPair(
            access.token,
            refresh.token,
            user_id,
            client_id,
            scope,
            access.expires_at,
            self.ttl,
        )

    def check(self, token: str) -> AccessToken:
        """The access token, or 401 `invalid_token` / `expired_token`."""
        found = self._access.get(token)
        if found is None:
            raise RestError("invalid_token", "The access token provided is invalid.", 401)
        if found.expires_at <= self._clock.now():
            raise RestError("expired_token", "The access token provided has expired.", 401)
        return found

    def refresh(self, refresh_token: str, client_id: str) -> TokenPair:
        """Trade a refresh token for a new pair; a second use is `invalid_grant`."""
        found = self._refresh.get(refresh_token)
        if (
            found is None
            or found.used
            or found.client_id != client_id
            or found.expires_at <= self._clock.now()
        ):
            raise RestError("invalid_grant", "Invalid grant", 400)
        found.used = True
        return self.issue(found.user_id, found.client_id, found.scope)

    def expire_all(self) -> int:
        """Make every access token stale now (refresh tokens keep working)."""
        past = self._clock.now() - timedelta(seconds=1)
        for token in self._access.values():
            token.expires_at = min(token.expires_at, past)
        return len(self._access)

    def revoke_client(self, client_id: str) -> None:
        """Forget every token of an application (uninstall)."""
        self._access = {k: v for k, v in self._access.items() if v.client_id != client_id}
        self._refresh = {k: v for k, v in self._refresh.items() if v.client_id != client_id}

    def _prune(self, now: datetime) -> None:
        # Keep memory bounded in long demos: drop tokens that expired more than a day ago.
        horizon = now - timedelta(days=1)
        if len(self._access) > 1000:
            self._access = {k: v for k, v in self._access.items() if v.expires_at > horizon}
        if len(self._refresh) > 1000:
            self._refresh = {
                k: v for k, v in self._refresh.items() if v.expires_at > horizon and not v.used
            }
