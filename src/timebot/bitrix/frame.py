"""What Bitrix24 POSTs when it opens the application's page in its frame (placement `DEFAULT`, or
the install page of an application with a UI): `AUTH_ID`, `REFRESH_ID`, `member_id`, ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from timebot.bitrix.event_types import MalformedEvent
from timebot.bitrix.payload import Fields

__all__ = ["AppFrame", "parse_app_frame"]

_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class AppFrame:
    """The frame's request: a user's tokens for this portal plus where and how it was opened."""

    member_id: str
    domain: str
    access_token: str
    refresh_token: str
    expires_in: int | None
    application_token: str
    placement: str
    language: str
    status: str
    scope: tuple[str, ...]
    server_endpoint: str
    https: bool

    @property
    def client_endpoint(self) -> str:
        """The portal's REST base URL."""
        return f"{'https' if self.https else 'http'}://{self.domain}/rest/"

    def __repr__(self) -> str:  # keep tokens out of logs
        return f"AppFrame(member_id={self.member_id!r}, domain={self.domain!r})"


def parse_app_frame(form: Mapping[str, Any], query: Mapping[str, Any] | None = None) -> AppFrame:
    """The frame request from its POST form (and query string, where Bitrix24 puts `DOMAIN`,
    `PROTOCOL`, `LANG`); raises MalformedEvent when member_id, AUTH_ID or DOMAIN is missing."""
    merged = {**dict(query or {}), **dict(form)}
    fields = Fields(merged)
    member_id = fields.text("member_id")
    access_token = fields.text("AUTH_ID")
    domain = fields.text("DOMAIN").strip().lower()
    for value, what in ((member_id, "member_id"), (access_token, "AUTH_ID"), (domain, "DOMAIN")):
        if not value:
            raise MalformedEvent(f"missing {what}")
    if not _HOST.fullmatch(domain):
        raise MalformedEvent("DOMAIN is not a host name")
    scope = fields.text("APPLICATION_SCOPE").replace(" ", ",")
    return AppFrame(
        member_id=member_id,
        domain=domain,
        access_token=access_token,
        refresh_token=fields.text("REFRESH_ID"),
        expires_in=fields.integer("AUTH_EXPIRES"),
        application_token=fields.text("APPLICATION_TOKEN"),
        placement=fields.text("PLACEMENT") or "DEFAULT",
        language=fields.text("LANG"),
        status=fields.text("status"),
        scope=tuple(part for part in scope.split(",") if part),
        server_endpoint=fields.text("SERVER_ENDPOINT"),
        # PROTOCOL=1 means https (0 only on on-premise portals without TLS).
        https=fields.text("PROTOCOL") != "0",
    )
