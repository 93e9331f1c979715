"""The portal's leaky bucket: every REST request adds one, the bucket drains `rate` per second,
and a request that would lift it above `burst` is refused (503 QUERY_LIMIT_EXCEEDED)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["LeakyBucket"]


class LeakyBucket:
    """Bitrix24's intensity limit for one portal (docs: limits.md)."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._rate = rate
        self._burst = burst
        self._level = 0.0
        self._at = now()

    @property
    def rate(self) -> float:
        """Drain per second."""
        return self._rate

    @property
    def burst(self) -> int:
        """How many requests may be pending before refusals start."""
        return self._burst

    def configure(self, rate: float | None = None, burst: int | None = None) -> None:
        """Change the drain rate and/or the burst size; the current level is kept."""
        self._drain()
        if rate is not None:
            self._rate = rate
        if burst is not None:
            self._burst = burst

    def level(self) -> float:
        """The number of requests still counted against the portal."""
        self._drain()
        return self._level

    def try_acquire(self) -> bool:
        """Count one request; False (and nothing counted) when the bucket is full."""
        self._drain()
        if self._level + 1 > self._burst:
            return False
        self._level += 1
        return True

    def reset(self) -> None:
        """Empty the bucket."""
        self._level = 0.0
        self._at = self._now()

    def _drain(self) -> None:
        now = self._now()
        self._level = max(0.0, self._level - (now - self._at) * self._rate)
        self._at = now
