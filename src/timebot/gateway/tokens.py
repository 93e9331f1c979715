"""OAuth refresh serialized per portal across processes.

Bitrix24 refresh tokens work once. Two processes refreshing with the same token would branch the
chain and lose it, so a refresh happens under the portal's row lock, the new pair is stored in
that same transaction, and a process that finds the token already changed uses the stored one.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from timebot.bitrix import InvalidGrant, PortalAuth, refresh_tokens
from timebot.domain.clock import Clock
from timebot.gateway.auth import portal_auth
from timebot.logs import get_logger
from timebot.storage import Database

log = get_logger(__name__)


class DatabaseTokenRefresher:
    """Implements `timebot.bitrix.TokenRefresher` on top of the portals table."""

    def __init__(
        self,
        database: Database,
        http: httpx.AsyncClient,
        *,
        oauth_url: str,
        client_id: str | None,
        client_secret: str | None,
        clock: Clock,
    ) -> None:
        self.database = database
        self.http = http
        self.oauth_url = oauth_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock

    async def refresh(self, member_id: str, stale_access_token: str) -> PortalAuth:
        async with self.database.unit_of_work() as uow:
            found = await uow.portals.by_member_id(member_id)
            if found is None:
                raise InvalidGrant("invalid_grant", f"unknown portal {member_id}", 400)
            portal = await uow.portals.lock(found.id)
            assert portal is not None
            if portal.access_token and portal.access_token != stale_access_token:
                # Another process refreshed while we waited for the lock: reuse its token.
                return portal_auth(portal)
            if not (self.client_id and self.client_secret and portal.refresh_token):
                raise InvalidGrant("invalid_grant", "no OAuth application configured", 400)
            try:
                tokens = await refresh_tokens(
                    self.http,
                    self.oauth_url,
                    self.client_id,
                    self.client_secret,
                    portal.refresh_token,
                    clock=self.clock,
                )
            except InvalidGrant:
                portal.status = "needs_reinstall"
                portal.updated_at = self.clock.now()
                uow.audit.record(
                    portal_id=portal.id,
                    at=self.clock.now(),
                    actor="system",
                    action="oauth.invalid_grant",
                    entity="portal",
                    entity_id=portal.id,
                )
                await uow.commit()
                log.error("oauth.invalid_grant", member_id=member_id, action="reinstall the app")
                raise
            now = self.clock.now()
            portal.access_token = tokens.access_token
            portal.refresh_token = tokens.refresh_token
            portal.access_expires_at = now + timedelta(seconds=tokens.expires_in)
            if tokens.client_endpoint:
                portal.client_endpoint = tokens.client_endpoint
            portal.token_version += 1
            portal.updated_at = now
            await uow.commit()
            log.info("oauth.refreshed", member_id=member_id, version=portal.token_version)
            return portal_auth(portal)
