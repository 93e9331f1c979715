"""How timebot authenticates to one portal (`PortalAuth`: an incoming webhook or an OAuth token)
and the port through which the client gets a fresh OAuth token (`TokenRefresher`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["PortalAuth", "TokenRefresher"]


@dataclass(frozen=True, slots=True)
class PortalAuth:
    """Credentials for REST calls to one portal: either `webhook_base`
    ("https://x.bitrix24.ru/rest/1/secret/") or `client_endpoint` + `access_token` (OAuth)."""

    member_id: str
    webhook_base: str | None = None
    client_endpoint: str | None = None
    access_token: str | None = None

    def __post_init__(self) -> None:
        if not self.member_id:
            raise ValueError("member_id is required")
        oauth = bool(self.client_endpoint) or bool(self.access_token)
        if bool(self.webhook_base) == oauth:
            raise ValueError("give either webhook_base or client_endpoint + access_token")
        if oauth and not (self.client_endpoint and self.access_token):
            raise ValueError("OAuth needs both client_endpoint and access_token")
        base = self.webhook_base or self.client_endpoint or ""
        if not base.startswith(("https://", "http://")):
            raise ValueError(f"not an http(s) URL: {base!r}")

    @classmethod
    def webhook(cls, member_id: str, webhook_base: str) -> PortalAuth:
        """Credentials of an incoming webhook."""
        return cls(member_id=member_id, webhook_base=webhook_base)

    @classmethod
    def oauth(cls, member_id: str, client_endpoint: str, access_token: str) -> PortalAuth:
        """Credentials of an installed OAuth application."""
        return cls(member_id=member_id, client_endpoint=client_endpoint, access_token=access_token)

    @property
    def is_oauth(self) -> bool:
        """True for OAuth credentials (which can expire and be refreshed)."""
        return self.access_token is not None

    def method_url(self, method: str) -> str:
        """The URL a REST method is POSTed to."""
        base = self.webhook_base or self.client_endpoint or ""
        if not base.endswith("/"):
            base += "/"
        return base + method

    def __repr__(self) -> str:  # never print secrets into logs
        mode = "oauth" if self.is_oauth else "webhook"
        return f"PortalAuth(member_id={self.member_id!r}, {mode})"


class TokenRefresher(Protocol):
    """Gets a working OAuth token for a portal whose token expired.

    Implemented by the storage/service layer: it locks the portal's row, and if the stored token
    is no longer `stale_access_token` (another process refreshed meanwhile) returns the stored one
    instead of refreshing again, so the refresh-token chain never branches.
    """

    async def refresh(self, member_id: str, stale_access_token: str) -> PortalAuth:
        """Fresh credentials for `member_id`; raises InvalidGrant when the chain is broken."""
        ...
