"""Rate limiting for `/api/v1`: a token bucket per API token (per client address for requests
without a valid token), kept in this process's memory, answered with 429 before any database
work, and told on every API response in the IETF draft `RateLimit-*` headers.

The bucket is GCRA (the generic cell rate algorithm, a token bucket kept as one number): per key
the "theoretical arrival time" `tat`, the instant at which the bucket would be full again. A
request is allowed when, after adding one request's worth of time, `tat` stays within `burst`
requests of now. A key whose `tat` has passed is in the same state as a key never seen, so it is
forgotten: keys are held in least-recently-used order and the idle ones are dropped from the front
as requests come; a hard cap evicts the least recently used key even if it is not idle yet (that
key then starts afresh: it may get more, never less, than its share).

The key of a request is its token's `jti` once the token's signature holds (an HMAC check,
~30 us, no database), so nobody can spend another token's budget or invent new keys by making
up token ids. Anything else — no token, a malformed, forged or expired one — is counted against
the client's address (an IPv6 address by its /64, which one client usually holds whole).
A revoked or unknown token with a good signature is counted by its `jti`: only we can sign them.

Hand-written (the bucket is ~40 lines) rather than `limits`/`slowapi`: their in-memory stores
keep counters or timestamp lists per key, expire them on a timer and cap no key count, and the
key must be chosen here, before routing, from the token's signature.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timebot.bootstrap import Container
from timebot.logs import get_logger
from timebot.services.api_tokens import TokenError, decode_claims, signing_key_from_secret
from timebot.web.api.common import DECODED_CLAIMS, ApiProblem

log = get_logger(__name__)

__all__ = ["MAX_KEYS", "ApiRateLimitMiddleware", "RateLimiter", "Verdict", "client_key"]

# About 200 bytes a key: 10,000 keys are ~2 MB. Real tokens and real clients are far fewer.
MAX_KEYS: Final = 10_000
# A microsecond: float drift in `tat` (monotonic seconds since boot, summed `1/rate` steps)
# must not refuse the burst's last request nor round a wait up by a whole second.
_EPSILON: Final = 1e-6


@dataclass(frozen=True, slots=True)
class Verdict:
    """One request's outcome, with what the `RateLimit-*` headers say."""

    allowed: bool
    limit: int  # requests allowed at once (the burst)
    remaining: int  # requests that would be allowed right now, after this one
    reset_after: float  # seconds until the bucket is full again
    retry_after: float  # seconds until one more request would be allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        """`RateLimit-Limit/-Remaining/-Reset` (whole seconds), and `Retry-After` (≥ 1) on a
        refusal."""
        found = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_after - _EPSILON)),
        }
        if not self.allowed:
            found["Retry-After"] = str(max(1, math.ceil(self.retry_after - _EPSILON)))
        return found


class RateLimiter:
    """GCRA buckets by key, at most `max_keys` of them; `rate` requests a second after a burst
    of `burst`. Not thread-safe: one event loop calls it."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = MAX_KEYS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rate > 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be positive, burst and max_keys at least 1")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate  # what one request adds to `tat`
        self._span = burst * self._interval  # how far ahead of now `tat` may run
        self._max_keys = max_keys
        self._monotonic = monotonic
        self._tats: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        """How many keys are held."""
        return len(self._tats)

    def take(self, key: str) -> Verdict:
        """Count one request of `key` if the bucket has room; say so either way."""
        now = self._monotonic()
        self._forget_idle(now)
        tat = max(self._tats.get(key, now), now)
        after = tat + self._interval
        if after - now > self._span + _EPSILON:
            return Verdict(
                allowed=False,
                limit=self.burst,
                remaining=0,
                reset_after=tat - now,
                retry_after=after - self._span - now,
            )
        if key in self._tats:
            self._tats.move_to_end(key)
        elif len(self._tats) >= self._max_keys:
            self._tats.popitem(last=False)
        self._tats[key] = after
        return Verdict(
            allowed=True,
            limit=self.burst,
            remaining=int((self._span - (after - now) + _EPSILON) / self._interval),
            reset_after=after - now,
            retry_after=0.0,
        )

    def _forget_idle(self, now: float) -> None:
        # Keys are in the order of their last allowed request; each is dropped once, so this is
        # O(1) a request on average.
        while self._tats:
            key, tat = next(iter(self._tats.items()))
            if tat > now:
                return
            del self._tats[key]


def client_key(scope: Scope) -> str:
    """The key of a request without a valid token: its client's address, an IPv6 one by /64
    (uvicorn puts the proxy's `X-Forwarded-For` there for trusted proxies)."""
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"ip:{host or 'unknown'}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Address(int(address) >> 64 << 64)}/64"
    return f"ip:{address}"


@dataclass(frozen=True, slots=True)
class _Config:
    limiter: RateLimiter | None
    container: Container
    signing_key: bytes


class ApiRateLimitMiddleware:
    """Pure ASGI middleware for requests under `prefix`. Sits inside the CORS middleware, so a
    preflight is not counted and a 429 still carries CORS headers. The limiter is built from the
    container's settings on the first request and published as `app.state.api_rate_limiter`
    (None when the limit is off)."""

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/v1") -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")
        self._config: _Config | None = None

    def _applies(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def _configure(self, scope: Scope) -> _Config | None:
        if self._config is not None:
            return self._config
        state = getattr(scope.get("app"), "state", None)
        container: Container | None = getattr(state, "container", None)
        if state is None or container is None:  # no lifespan ran: no settings to read
            return None
        settings = container.settings
        rate, burst = settings.api_rate_per_second, settings.api_rate_burst
        limiter = RateLimiter(rate, burst) if rate > 0 and burst > 0 else None
        key = signing_key_from_secret(settings.secret_key.get_secret_value())
        self._config = _Config(limiter, container, key)
        state.api_rate_limiter = limiter
        log.info("api.rate_limit", per_second=rate if limiter else 0, burst=burst)
        return self._config

    def _key(self, scope: Scope, config: _Config) -> str:
        authorization = Headers(scope=scope).get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            try:
                claims = decode_claims(
                    token.strip(), signing_key=config.signing_key, now=config.container.clock.now()
                )
            except TokenError:
                pass
            else:
                # `authenticate` takes them from here rather than decoding the token again.
                scope.setdefault("state", {})[DECODED_CLAIMS] = (token.strip(), claims)
                return f"token:{claims['jti']}"
        return client_key(scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        config = self._configure(scope)
        if config is None or config.limiter is None:
            await self.app(scope, receive, send)
            return
        verdict = config.limiter.take(self._key(scope, config))
        headers = verdict.headers()
        if not verdict.allowed:
            wait = headers["Retry-After"]
            problem = ApiProblem(
                429,
                "rate_limited",
                f"too many requests: up to {config.limiter.burst} at once, then "
                f"{config.limiter.rate:g} a second; retry in {wait} s",
                headers=headers,
            )
            await problem.response()(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
