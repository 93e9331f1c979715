"""`GET /api/v1/token`: what the presented token is (any valid token may ask)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from timebot.web.api.common import READ_ERRORS, ApiContext, ApiRoute, authenticate, not_found

router = APIRouter(tags=["token"], route_class=ApiRoute)


class PortalOut(BaseModel):
    id: int
    member_id: str
    domain: str
    timezone: str
    language: str


class TokenInfo(BaseModel):
    name: str
    jti: str = Field(description="The token's id (for revocation).")
    scopes: list[str]
    expires_at: datetime | None
    portal: PortalOut


@router.get("/token", response_model=TokenInfo, responses=READ_ERRORS)
async def token_info(ctx: Annotated[ApiContext, Depends(authenticate)]) -> TokenInfo:
    """The presented token: its name, scopes, expiry and portal. Any scope."""
    async with ctx.container.database.unit_of_work() as uow:
        portal = await uow.portals.get(ctx.portal_id)
        if portal is None:  # pragma: no cover - verified a moment ago
            raise not_found("portal")
        principal = ctx.principal
        return TokenInfo(
            name=principal.name,
            jti=principal.jti,
            scopes=sorted(principal.scopes),
            expires_at=principal.expires_at,
            portal=PortalOut(
                id=portal.id,
                member_id=portal.member_id,
                domain=portal.domain,
                timezone=portal.timezone,
                language=portal.language,
            ),
        )
