"""REST API tokens: the server-side record of each issued JWT (revocation, expiry, last use)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import ApiToken

__all__ = ["ApiTokenRepository"]


class ApiTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, token: ApiToken) -> ApiToken:
        self.session.add(token)
        return token

    async def get(self, token_id: int) -> ApiToken | None:
        return await self.session.get(ApiToken, token_id)

    async def by_jti(self, jti: str) -> ApiToken | None:
        """The token's row as the database has it now (a revocation in another process shows)."""
        query = (
            select(ApiToken).where(ApiToken.jti == jti).execution_options(populate_existing=True)
        )
        return (await self.session.scalars(query)).one_or_none()

    async def of_portal(self, portal_id: int) -> list[ApiToken]:
        """Every token of the portal, newest first."""
        query = (
            select(ApiToken)
            .where(ApiToken.portal_id == portal_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
        return list(await self.session.scalars(query))

    async def revoke(self, token_id: int, now: datetime) -> bool:
        """Set `revoked_at` unless already set; True when this call revoked the token."""
        result = await self.session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def touch(self, token_id: int, now: datetime, *, unless_since: datetime) -> bool:
        """Record a use at `now` unless one was recorded after `unless_since` (so a busy
        client costs one write a minute, not one per request); True when written."""
        result = await self.session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= unless_since),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]
