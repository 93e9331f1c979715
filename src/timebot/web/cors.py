"""CORS for the REST API: other front-ends may call `/api/v1` from the origins an admin allows.

An origin is allowed when some active portal lists it in `portals.settings["cors_origins"]`
(a list like `["https://hr.example.com"]`, edited on the admin rules page). None is allowed by
default, `*` is never honoured, and nothing outside `/api/v1` gets CORS headers. The union of
the lists is read from the database at most every `ttl` seconds per process. Credentials are
bearer tokens in the `Authorization` header (no cookies), so the browser's preflight is
answered with that header allowed; a preflight from an origin not allowed gets 403 without CORS
headers, and the browser blocks the call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timebot.logs import get_logger

log = get_logger(__name__)

__all__ = ["ApiCorsMiddleware", "normalize_origin"]

ALLOW_METHODS = "GET, POST, PATCH, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, Accept, Accept-Language"
EXPOSE_HEADERS = (
    "Content-Disposition, WWW-Authenticate, Retry-After, "
    "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
)


def normalize_origin(value: Any) -> str | None:
    """`scheme://host[:port]` in lower case without a default port or trailing slash; None for
    anything that is no http(s) origin (`null`, `*`, paths, garbage)."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    default = 443 if scheme == "https" else 80
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}" + (f":{port}" if port and port != default else "")


def origins_of(settings_list: Iterable[Any]) -> frozenset[str]:
    """The normalized origins the portals' settings allow."""
    found: set[str] = set()
    for settings in settings_list:
        listed = (settings or {}).get("cors_origins") if isinstance(settings, dict) else None
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list):
            continue
        for item in listed:
            origin = normalize_origin(item)
            if origin is not None:
                found.add(origin)
    return frozenset(found)


class ApiCorsMiddleware:
    """Pure ASGI middleware; only requests under `prefix` with an `Origin` header are touched."""

    def __init__(
        self, app: ASGIApp, *, prefix: str = "/api/v1", ttl: float = 30.0, max_age: int = 600
    ) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")
        self.ttl = ttl
        self.max_age = max_age
        self._cached: frozenset[str] = frozenset()
        self._until = 0.0

    def _applies(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def _allowed(self, scope: Scope) -> frozenset[str]:
        now = time.monotonic()
        if now < self._until:
            return self._cached
        container = getattr(getattr(scope.get("app"), "state", None), "container", None)
        if container is None:
            return frozenset()
        try:
            async with container.database.unit_of_work() as uow:
                portals = await uow.portals.active()
                allowed = origins_of(p.settings for p in portals)
        except Exception:
            log.exception("cors.origins_unreadable")
            return self._cached  # keep the last known list; retry on the next request
        self._cached, self._until = allowed, now + self.ttl
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        raw_origin = headers.get("origin")
        if raw_origin is None:
            await self.app(scope, receive, send)
            return
        origin = normalize_origin(raw_origin)
        allowed = origin is not None and origin in await self._allowed(scope)
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        if preflight:
            response = self._preflight(raw_origin if allowed else None)
            await response(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra: list[tuple[bytes, bytes]] = [(b"vary", b"Origin")]
                if allowed:
                    extra += [
                        (b"access-control-allow-origin", raw_origin.encode("latin-1")),
                        (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
                    ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(self, origin: str | None) -> Response:
        if origin is None:
            return PlainTextResponse(
                "CORS: this origin is not allowed", status_code=403, headers={"Vary": "Origin"}
            )
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": str(self.max_age),
                "Vary": "Origin",
            },
        )
