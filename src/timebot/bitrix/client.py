"""The Bitrix24 REST client: one per process, many portals. Every call passes the portal's rate
limiter, is retried with backoff on the portal's limits, 5xx and network errors, and is repeated
once with a refreshed token when an OAuth token has expired.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from timebot.bitrix.credentials import PortalAuth, TokenRefresher
from timebot.bitrix.errors import (
    BitrixError,
    ExpiredToken,
    OperationTimeLimit,
    QueryLimitExceeded,
    ServerError,
    TransportError,
    from_error,
    from_response,
)
from timebot.bitrix.limiter import RateLimiter
from timebot.bitrix.phpform import build_query
from timebot.domain.clock import Clock, SystemClock

__all__ = ["MAX_BATCH", "Attempt", "BatchResponse", "BitrixClient", "RestResponse"]

MAX_BATCH = 50


@dataclass(frozen=True, slots=True)
class RestResponse:
    """A successful REST answer: `result`, and for list methods `total` and `next` (the `start`
    of the following page)."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchResponse:
    """The answer to `batch`: per command key its result or its error."""

    results: Mapping[str, Any]
    errors: Mapping[str, BitrixError]
    totals: Mapping[str, int] = field(default_factory=dict)
    nexts: Mapping[str, int] = field(default_factory=dict)
    time: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no command failed."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt, reported to the optional `on_attempt` hook (metrics, logs)."""

    member_id: str
    method: str
    outcome: str  # "ok" or the error code
    seconds: float
    attempt: int
    retry_in: float | None  # the backoff before the next attempt, None when none follows


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _as_dict(value: Any) -> dict[str, Any]:
    """PHP's json_encode sends an empty (or 0..n-1 keyed) array as a JSON list."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _response(body: Mapping[str, Any]) -> RestResponse:
    timing = body.get("time")
    return RestResponse(
        result=body.get("result"),
        total=_as_int(body.get("total")),
        next=_as_int(body.get("next")),
        time=timing if isinstance(timing, Mapping) else {},
    )


def _page_items(result: Any, items_key: str | None) -> list[Any]:
    if items_key is not None:
        if not isinstance(result, Mapping) or not isinstance(result.get(items_key), list):
            raise ValueError(f"result has no list under {items_key!r}")
        return list(result[items_key])
    if isinstance(result, list):
        return result
    if isinstance(result, Mapping):
        lists = [v for v in result.values() if isinstance(v, list)]
        if len(lists) == 1:  # e.g. tasks.task.list -> {"tasks": [...]}
            return list(lists[0])
    raise ValueError("cannot find the list in this result; pass items_key")


class BitrixClient:
    """Calls Bitrix24 REST methods for any number of portals over one `httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        limiter: RateLimiter,
        *,
        refresher: TokenRefresher | None = None,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        operation_wait_cap: float = 60.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> None:
        self._http = http
        self._limiter = limiter
        self._refresher = refresher
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._operation_wait_cap = operation_wait_cap
        self._sleep = sleep
        self._jitter = jitter
        self._clock: Clock = clock or SystemClock()
        self._monotonic = monotonic
        self._on_attempt = on_attempt

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter every call passes through."""
        return self._limiter

    async def call(
        self,
        auth: PortalAuth,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        turn_taken: bool = False,
    ) -> RestResponse:
        """Call `method` with `params` (sent as a JSON body) and return its result; raises a
        `BitrixError` subclass when the portal refuses or retries run out.

        `turn_taken`: the caller already took this request's room with `limiter.acquire`
        (to fill the request after its turn came); retries take their own."""
        return _response(await self._call_raw(auth, method, params, turn_taken=turn_taken))

    async def batch(
        self,
        auth: PortalAuth,
        commands: Mapping[str, tuple[str, Mapping[str, Any]]],
        *,
        halt: bool = False,
        turn_taken: bool = False,
    ) -> BatchResponse:
        """Run up to 50 commands `{key: (method, params)}` in one request (one unit of the rate
        limit). Later commands may refer to earlier results as `$result[key][FIELD]`."""
        if len(commands) > MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} commands, got {len(commands)}")
        if not commands:
            return BatchResponse(results={}, errors={})
        cmd: dict[str, str] = {}
        for key, (method, params) in commands.items():
            if method.lower() == "batch":
                raise ValueError("batch cannot be nested")
            cmd[str(key)] = f"{method}?{build_query(params)}"
        body = {"halt": 1 if halt else 0, "cmd": cmd}
        response = _response(await self._call_raw(auth, "batch", body, turn_taken=turn_taken))
        inner = response.result if isinstance(response.result, Mapping) else {}
        errors: dict[str, BitrixError] = {}
        for key, err in _as_dict(inner.get("result_error")).items():
            if isinstance(err, Mapping):
                code = str(err.get("error") or "UNKNOWN_ERROR")
                errors[key] = from_error(code, str(err.get("error_description") or ""))
            else:
                errors[key] = from_error(str(err))
        totals = {
            k: n
            for k, v in _as_dict(inner.get("result_total")).items()
            if (n := _as_int(v)) is not None
        }
        nexts = {
            k: n
            for k, v in _as_dict(inner.get("result_next")).items()
            if (n := _as_int(v)) is not None
        }
        return BatchResponse(
            results=_as_dict(inner.get("result")),
            errors=errors,
            totals=totals,
            nexts=nexts,
            time=response.time,
        )

    async def iter_all(
        self,
        auth: PortalAuth,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        items_key: str | None = None,
        max_pages: int | None = None,
    ) -> AsyncIterator[Any]:
        """Yield every row of a list method, following `next` with `start` page by page."""
        start: int | None = 0
        pages = 0
        while start is not None:
            page_params = dict(params or {})
            page_params["start"] = start
            response = await self.call(auth, method, page_params)
            for item in _page_items(response.result, items_key):
                yield item
            pages += 1
            if max_pages is not None and pages >= max_pages:
                return
            start = response.next if response.next and response.next > start else None

    async def call_all(
        self,
        auth: PortalAuth,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        items_key: str | None = None,
        max_pages: int | None = None,
    ) -> list[Any]:
        """Every row of a list method (all pages)."""
        return [
            item
            async for item in self.iter_all(
                auth, method, params, items_key=items_key, max_pages=max_pages
            )
        ]

    async def _call_raw(
        self,
        auth: PortalAuth,
        method: str,
        params: Mapping[str, Any] | None,
        *,
        turn_taken: bool = False,
    ) -> Mapping[str, Any]:
        refreshed = False
        attempt = 0
        while True:
            if not turn_taken:
                await self._limiter.acquire(auth.member_id)
            turn_taken = False  # a repeated request takes its own turn
            started = self._monotonic()
            try:
                body = await self._send(auth, method, params)
            except BitrixError as error:
                seconds = self._monotonic() - started
                refresher = self._refresher
                stale = auth.access_token
                if isinstance(error, ExpiredToken) and refresher and stale and not refreshed:
                    self._report(auth, method, error.code, seconds, attempt, 0.0)
                    auth = await refresher.refresh(auth.member_id, stale)
                    refreshed = True
                    continue
                delay = self._retry_delay(error, attempt)
                self._report(auth, method, error.code, seconds, attempt, delay)
                if delay is None:
                    raise
                if isinstance(error, QueryLimitExceeded):
                    # The portal's bucket is full although ours had room: someone else shares
                    # it. Hold this portal's callers (in every process, with a shared store).
                    await self._limiter.hold(auth.member_id, delay)
                await self._sleep(delay)
                attempt += 1
                continue
            self._report(auth, method, "ok", self._monotonic() - started, attempt, None)
            return body

    async def _send(
        self, auth: PortalAuth, method: str, params: Mapping[str, Any] | None
    ) -> Mapping[str, Any]:
        payload: dict[str, Any] = dict(params or {})
        if auth.is_oauth:
            payload["auth"] = auth.access_token
        try:
            response = await self._http.post(
                auth.method_url(method), json=payload, headers={"Accept": "application/json"}
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", sent=False) from exc
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", sent=True) from exc
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, Mapping) and not body.get("error"):
            return body
        raise from_response(response.status_code, body)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_max, self._backoff_base * float(2**attempt))
        # "Equal jitter": at least half the exponential step, so retries from many processes
        # spread out without collapsing to zero.
        return ceiling / 2 + ceiling / 2 * float(self._jitter())

    def _retry_delay(self, error: BitrixError, attempt: int) -> float | None:
        """Seconds to wait before repeating after `error`, or None when it must not be repeated."""
        if attempt >= self._max_retries:
            return None
        if isinstance(error, OperationTimeLimit):
            if error.reset_at is None:
                return self._backoff(attempt)
            wait = error.reset_at - self._clock.now().timestamp()
            if wait > self._operation_wait_cap:
                return None
            return max(wait, 0.0) + self._backoff(0)
        if isinstance(error, QueryLimitExceeded | ServerError | TransportError):
            return self._backoff(attempt)
        return None

    def _report(
        self,
        auth: PortalAuth,
        method: str,
        outcome: str,
        seconds: float,
        attempt: int,
        retry_in: float | None,
    ) -> None:
        if self._on_attempt is not None:
            self._on_attempt(Attempt(auth.member_id, method, outcome, seconds, attempt, retry_in))
