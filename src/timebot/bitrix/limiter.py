"""A per-portal leaky bucket mirroring Bitrix24's own: every request adds its cost, the level drains
at `rate` per second, and a request waits while it would lift the level above `burst`.

The bucket lives in this process unless a `BucketStore` is given: then every process that uses
the same store meters one shared bucket per portal, as Bitrix24 does (the composition root
passes one backed by the database). The local bucket still orders waiters within the process
and stands in for a call when the store cannot be reached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from timebot.logs import get_logger

__all__ = ["DEFAULT_LIMITS", "ENTERPRISE_LIMITS", "BucketStore", "RateLimiter", "plan_limits"]

log = get_logger(__name__)

DEFAULT_LIMITS: tuple[float, int] = (2.0, 50)
ENTERPRISE_LIMITS: tuple[float, int] = (5.0, 250)
_EPSILON = 1e-9  # float drift after sleeping exactly the computed time must not cost a loop
# How long a take from the shared store may last before this call uses the local bucket.
STORE_TIMEOUT_S = 5.0


class BucketStore(Protocol):
    """Leaky buckets shared by every process that uses the same store, keyed like the limiter.

    Both methods are atomic per key: no two callers can take the same room."""

    async def take(self, key: str, cost: int, rate: float, burst: int) -> float:
        """Drain the bucket by the time elapsed × `rate` and add `cost`; return the seconds
        until that fits under `burst` (0: it fits now; a `cost` above `burst` needs an empty
        bucket). The room is the caller's from then on: it waits that long and sends.
        Callers are served in the order they take."""
        ...

    async def block(self, key: str, seconds: float, burst: int) -> None:
        """The portal refused with its limit: mark the bucket full (`burst`) and refuse every
        take for `seconds`."""
        ...


def plan_limits(app_info: Mapping[str, Any]) -> tuple[float, int]:
    """(rate, burst) for a portal from its `app.info` result: Enterprise plans (LICENSE_FAMILY
    "ent", or LICENSE like "de_ent250") get 5/s and 250, every other plan 2/s and 50."""
    family = str(app_info.get("LICENSE_FAMILY") or "").lower()
    license_code = str(app_info.get("LICENSE") or "").lower()
    plan = license_code.split("_", 1)[-1]
    if family in ("ent", "enterprise") or plan.startswith("ent") or "enterprise" in license_code:
        return ENTERPRISE_LIMITS
    return DEFAULT_LIMITS


@dataclass(slots=True)
class _Bucket:
    rate: float
    burst: int
    level: float = 0.0
    updated: float | None = None
    blocked_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def drain(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            self.level = max(0.0, self.level - (now - self.updated) * self.rate)
        if self.updated is None or now > self.updated:
            self.updated = now


class RateLimiter:
    """Leaky buckets keyed by portal (member_id). Waiters on one key in this process go first
    come, first served; different keys never wait for each other.

    With a `store`, the room is taken from the store's bucket, shared with every other process
    on the same store: one waiter per process at a time takes its turn there, and processes
    are served in the order they asked. The local bucket keeps this process's own share,
    which is what a call falls back to when the store fails or takes longer than
    `store_timeout` seconds.

    `headroom` requests of the burst are left unused. Our bucket counts a request when it is
    taken, the portal's when it arrives; when an earlier request took longer to get there
    than a later one (a new connection, a busy event loop), the portal sees them closer
    together than we did and its level runs up to rate × that difference above ours. One
    request of headroom absorbs 0.5 s of such jitter at 2 requests/s, 0.2 s at 5/s."""

    def __init__(
        self,
        rate: float = DEFAULT_LIMITS[0],
        burst: int = DEFAULT_LIMITS[1],
        *,
        store: BucketStore | None = None,
        store_timeout: float = STORE_TIMEOUT_S,
        headroom: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        if headroom < 0:
            raise ValueError("headroom cannot be negative")
        self._rate = rate
        self._burst = burst
        self._headroom = headroom
        self._store = store
        self._store_timeout = store_timeout
        self._store_down = False
        self._monotonic = monotonic
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}

    @property
    def store(self) -> BucketStore | None:
        """The shared store of buckets, None when this process meters portals alone."""
        return self._store

    def _limit(self, bucket: _Bucket) -> int:
        """The level a take may reach: the burst less the headroom (at least 1)."""
        return max(1, bucket.burst - self._headroom)

    def _bucket(self, key: str) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._rate, self._burst)
        return bucket

    def configure(self, key: str, rate: float, burst: int) -> None:
        """Set the portal's own limits (e.g. from `plan_limits(app.info)`)."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        bucket = self._bucket(key)
        bucket.drain(self._monotonic())
        bucket.rate = rate
        bucket.burst = burst

    def limits(self, key: str) -> tuple[float, int]:
        """The (rate, burst) in force for `key`."""
        bucket = self._buckets.get(key)
        return (bucket.rate, bucket.burst) if bucket else (self._rate, self._burst)

    def level(self, key: str) -> float:
        """The bucket's current level (for metrics and tests)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        bucket.drain(self._monotonic())
        return bucket.level

    def penalize(self, key: str, seconds: float) -> None:
        """The portal refused with its limit although our bucket had room (other processes or
        applications share it): treat this process's bucket as full and hold its callers for
        `seconds`. `hold` does the same and tells the shared store."""
        bucket = self._bucket(key)
        now = self._monotonic()
        bucket.drain(now)
        bucket.level = max(bucket.level, float(bucket.burst))
        bucket.blocked_until = max(bucket.blocked_until, now + max(0.0, seconds))

    async def hold(self, key: str, seconds: float) -> None:
        """The portal refused with its limit: hold this portal's callers for `seconds`, here
        and, through the store, in every process that shares it."""
        self.penalize(key, seconds)
        if self._store is None:
            return
        try:
            async with asyncio.timeout(self._store_timeout):
                await self._store.block(key, max(0.0, seconds), self._bucket(key).burst)
        except Exception as exc:  # the local hold above still stands
            self._store_failed(key, exc)
        else:
            self._store_back(key)

    async def acquire(self, key: str, cost: int = 1) -> None:
        """Wait until a request of `cost` fits in the portal's bucket, then take the room."""
        if cost < 1:
            raise ValueError("cost must be at least 1")
        bucket = self._bucket(key)
        async with bucket.lock:
            while True:
                now = self._monotonic()
                bucket.drain(now)
                if now < bucket.blocked_until:
                    await self._sleep(bucket.blocked_until - now)
                    continue
                if self._store is not None:
                    wait = await self._take_shared(key, cost, bucket)
                    if wait is not None:
                        # This process's share, for the fallback when the store is away.
                        bucket.level += cost
                        if wait > 0:
                            await self._sleep(wait)
                            # A refusal this process saw meanwhile holds this call too.
                            held = bucket.blocked_until - self._monotonic()
                            if held > 0:
                                await self._sleep(held)
                        return
                # A cost above the burst can never fit; let it through an empty bucket.
                limit = self._limit(bucket)
                room_needed = min(float(cost), float(limit))
                if bucket.level + room_needed <= limit + _EPSILON:
                    bucket.level += cost
                    return
                await self._sleep((bucket.level + room_needed - limit) / bucket.rate)

    async def _take_shared(self, key: str, cost: int, bucket: _Bucket) -> float | None:
        """The store's answer to a take: the seconds until the room taken is this call's
        (0: now); None when the store failed and this call must use the local bucket."""
        assert self._store is not None
        try:
            async with asyncio.timeout(self._store_timeout):
                wait = await self._store.take(key, cost, bucket.rate, self._limit(bucket))
        except Exception as exc:  # a database outage must not stop every REST call
            self._store_failed(key, exc)
            return None
        self._store_back(key)
        return wait

    def _store_failed(self, key: str, exc: Exception) -> None:
        # Once per outage: during one, every call of every portal would repeat it.
        if not self._store_down:
            self._store_down = True
            log.warning(
                "rate_limit.shared_bucket_unavailable",
                key=key,
                error=f"{type(exc).__name__}: {exc}"[:300],
                fallback="this process's own bucket",
            )

    def _store_back(self, key: str) -> None:
        if self._store_down:
            self._store_down = False
            log.info("rate_limit.shared_bucket_back", key=key)
