"""The OAuth server, like `https://oauth.bitrix.info/oauth/token/` (GET or POST):
`grant_type=refresh_token` with the application's client id and secret returns a new pair and
retires the refresh token. Docs: settings/oauth/{index,auto-renewal,error-codes}.md."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from timebot.sandbox.errors import RestError
from timebot.sandbox.methods.context import Params
from timebot.sandbox.portal import Portal
from timebot.sandbox.rest import read_params

__all__ = ["TokenEndpoint"]


class TokenEndpoint:
    """Serves `/oauth/token/` for one portal."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def handle(self, request: Request) -> Response:
        """Exchange a refresh token."""
        try:
            params = Params(await read_params(request))
            return JSONResponse(self._grant(params))
        except RestError as exc:
            return JSONResponse(exc.body(), exc.status)

    def _grant(self, params: Params) -> dict[str, object]:
        portal = self.portal
        config = portal.config
        grant = params.text("grant_type")
        if not grant or not params.text("client_id"):
            raise RestError("invalid_request", "Invalid request")
        if (
            params.text("client_id") != config.client_id
            or params.text("client_secret") != config.client_secret
        ):
            raise RestError("invalid_client", "Invalid client", 401)
        if grant != "refresh_token":
            raise RestError("invalid_request", f"Unsupported grant type {grant!r}")
        token = params.text("refresh_token")
        if not token:
            raise RestError("invalid_request", "refresh_token is required")
        pair = portal.tokens.refresh(token, config.client_id)
        portal.stats.oauth_refreshes += 1
        return {
            "access_token": pair.access_token,
            "expires": int(pair.expires_at.timestamp()),
            "expires_in": pair.expires_in,
            "scope": "app",
            "domain": "oauth.bitrix.info",
            "server_endpoint": portal.server_endpoint,
            "status": "L",
            "client_endpoint": portal.client_endpoint,
            "member_id": portal.member_id,
            "user_id": pair.user_id,
            "refresh_token": pair.refresh_token,
        }
