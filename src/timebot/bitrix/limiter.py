"""A per-portal leaky bucket mirroring Bitrix24's own: every request adds its cost, the level drains
at `rate` per second, and a request waits while it would lift the level above `burst`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_LIMITS", "ENTERPRISE_LIMITS", "RateLimiter", "plan_limits"]

DEFAULT_LIMITS: tuple[float, int] = (2.0, 50)
ENTERPRISE_LIMITS: tuple[float, int] = (5.0, 250)
_EPSILON = 1e-9  # float drift after sleeping exactly the computed time must not cost a loop


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
    """Leaky buckets keyed by portal (member_id). Waiters on one key go first come, first served;
    different keys never wait for each other."""

    def __init__(
        self,
        rate: float = DEFAULT_LIMITS[0],
        burst: int = DEFAULT_LIMITS[1],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = burst
        self._monotonic = monotonic
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}

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
        applications share it): treat the bucket as full and hold everyone for `seconds`."""
        bucket = self._bucket(key)
        now = self._monotonic()
        bucket.drain(now)
        bucket.level = max(bucket.level, float(bucket.burst))
        bucket.blocked_until = max(bucket.blocked_until, now + max(0.0, seconds))

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
                # A cost above the burst can never fit; let it through an empty bucket.
                room_needed = min(float(cost), float(bucket.burst))
                if bucket.level + room_needed <= bucket.burst + _EPSILON:
                    bucket.level += cost
                    return
                await self._sleep((bucket.level + room_needed - bucket.burst) / bucket.rate)
