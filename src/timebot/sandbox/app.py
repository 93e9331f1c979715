"""`create_sandbox_app(config)`: the sandbox portal as an ASGI app. REST at `/rest/`, the OAuth
server at `/oauth/token/`, the web chat and the control endpoint under `/sandbox/`;
`app.state.portal` is the `Portal` behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from timebot.domain.clock import Clock
from timebot.sandbox.chat import ChatPages
from timebot.sandbox.config import SandboxConfig
from timebot.sandbox.oauth import TokenEndpoint
from timebot.sandbox.portal import Portal
from timebot.sandbox.rest import RestEndpoint

__all__ = ["create_sandbox_app"]


class _BindLoop:
    """Tells the portal which loop serves it, also when mounted without lifespan events."""

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.portal.bind_loop()
        await self.app(scope, receive, send)


def create_sandbox_app(config: SandboxConfig, *, clock: Clock | None = None) -> FastAPI:
    """Build the sandbox portal app (nothing is shared between calls)."""
    portal = Portal(config, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        portal.bind_loop()
        yield
        await portal.delivery.drain()

    app = FastAPI(
        title="Bitrix24 sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.portal = portal
    app.add_middleware(_BindLoop, portal=portal)
    rest = RestEndpoint(portal)
    oauth = TokenEndpoint(portal)
    pages = ChatPages(portal)

    async def to_chat(request: Request) -> Response:
        return RedirectResponse(url=str(request.url.path) + "/")

    app.add_route("/rest/{path:path}", rest.handle, methods=["GET", "POST"])
    app.add_route("/oauth/token/", oauth.handle, methods=["GET", "POST"])
    app.add_route("/oauth/token", oauth.handle, methods=["GET", "POST"])
    app.add_route("/sandbox", to_chat, methods=["GET"])
    app.add_route("/sandbox/", pages.index, methods=["GET"])
    app.add_route("/sandbox/app", pages.app_page, methods=["GET"])
    app.add_route("/sandbox/api/state", pages.api_state, methods=["GET"])
    app.add_route("/sandbox/api/messages", pages.api_messages, methods=["GET"])
    app.add_route("/sandbox/api/send", pages.api_send, methods=["POST"])
    app.add_route("/sandbox/api/press", pages.api_press, methods=["POST"])
    app.add_route("/sandbox/api/open", pages.api_open, methods=["POST"])
    app.add_route("/sandbox/control", pages.control, methods=["GET", "POST"])
    static = Path(__file__).parent / "static"
    app.mount("/sandbox/static", StaticFiles(directory=static), name="sandbox-static")
    return app
