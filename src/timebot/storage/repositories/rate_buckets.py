"""The shared rate-limit buckets (`rate_buckets`): the store behind `timebot.bitrix.RateLimiter`
when several processes call one Bitrix24 portal. Each take is one atomic upsert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import ColumnElement, case, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from timebot.domain.clock import Clock, SystemClock
from timebot.storage.database import Database
from timebot.storage.tables import RateBucket

__all__ = ["RateBucketStore"]

_BUCKETS = RateBucket.__table__


def _float(value: float) -> ColumnElement[float]:
    return literal(float(value), RateBucket.level.type)


def _greatest(a: ColumnElement[float], b: ColumnElement[float]) -> ColumnElement[float]:
    # GREATEST on PostgreSQL is max() on SQLite; CASE is the same on both.
    return case((a > b, a), else_=b)


class RateBucketStore:
    """`take` and `block` (the `timebot.bitrix.limiter.BucketStore` protocol) on the database.

    A take is one `INSERT … ON CONFLICT (key) DO UPDATE … RETURNING` statement. It locks the
    row for the statement (PostgreSQL's row lock, SQLite's single writer), drains it by the
    time since the last take and adds the cost. The level it returns says when that room is
    the caller's. The level may run above the burst by the takes still waiting for their
    turn (at most one per process and portal: the limiter holds a lock per key while it
    waits), so processes are served in the order they asked. On PostgreSQL the statement
    runs in autocommit (no BEGIN/COMMIT round trips); on SQLite in a `BEGIN IMMEDIATE`
    transaction, as every write there.

    Times come from `clock` (the wall clock, never a business clock that may stand still);
    processes on different hosts should keep theirs in sync (NTP): a clock ahead by d seconds
    drains d × rate requests early."""

    def __init__(self, database: Database, *, clock: Clock | None = None) -> None:
        self._database = database
        self._clock: Clock = clock or SystemClock()
        self._insert: Any = sqlite.insert if database.is_sqlite else postgresql.insert

    def _now(self) -> float:
        return self._clock.now().timestamp()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        engine = self._database.engine
        if self._database.is_sqlite:
            async with engine.begin() as connection:
                yield connection
            return
        async with engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    async def take(self, key: str, cost: int, rate: float, burst: int) -> float:
        """Add `cost` to the key's bucket; return the seconds until it fits under `burst`
        (0: now), the time the caller waits before sending."""
        now = self._now()
        # Drained by the time since the last take; a clock behind the stored time drains
        # nothing (another host's clock, or ours stepped back).
        elapsed = _greatest(_float(now) - _BUCKETS.c.updated_at, _float(0.0))
        drained = _greatest(_BUCKETS.c.level - elapsed * _float(rate), _float(0.0))
        stmt = (
            self._insert(_BUCKETS)
            .values(key=key, level=float(cost), updated_at=now, blocked_until=0.0)
            .on_conflict_do_update(
                index_elements=[_BUCKETS.c.key],
                set_={
                    "level": drained + _float(cost),
                    "updated_at": _greatest(_BUCKETS.c.updated_at, _float(now)),
                },
            )
            .returning(_BUCKETS.c.level, _BUCKETS.c.blocked_until)
        )
        async with self._connection() as connection:
            level, blocked_until = (await connection.execute(stmt)).one()
        # The level before this take, as of `now`; the take fits once that has drained to
        # `burst - cost` (a cost above the burst: to empty).
        before = float(level) - cost
        need = min(float(cost), float(burst))
        fits_at = max(float(blocked_until), now + (before + need - burst) / rate)
        # Counted from the clock now, after the statement: a take that waited for another
        # process's row lock must not also wait that long again.
        return max(0.0, fits_at - self._now())

    async def block(self, key: str, seconds: float, burst: int) -> None:
        """Mark the key's bucket full (takes already waiting stay counted) and refuse its room
        for `seconds` (a longer block already set stands)."""
        now = self._now()
        until = now + max(0.0, seconds)
        stmt = (
            self._insert(_BUCKETS)
            .values(key=key, level=float(burst), updated_at=now, blocked_until=until)
            .on_conflict_do_update(
                index_elements=[_BUCKETS.c.key],
                set_={
                    # Undrained since the last take: a little more than full, never less.
                    "level": _greatest(_BUCKETS.c.level, _float(burst)),
                    "updated_at": _greatest(_BUCKETS.c.updated_at, _float(now)),
                    "blocked_until": _greatest(_BUCKETS.c.blocked_until, _float(until)),
                },
            )
        )
        async with self._connection() as connection:
            await connection.execute(stmt)
