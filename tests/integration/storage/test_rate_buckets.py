"""The shared rate-limit buckets on real SQLite and PostgreSQL: a take fits at once while the
burst lasts, later takes get their turns at the drain rate in the order they were made, a block
holds every turn, and two engines (two processes) never get the same turn."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from timebot.domain.clock import FixedClock
from timebot.storage.database import Database
from timebot.storage.repositories.rate_buckets import RateBucketStore
from timebot.storage.tables import RateBucket

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def store(database: Database, clock: FixedClock) -> RateBucketStore:
    return RateBucketStore(database, clock=clock)


async def takes(store: RateBucketStore, n: int, *, key: str = "p") -> list[float]:
    """`n` takes of 1 from a bucket of 2/s and 5; their waits."""
    return [await store.take(key, 1, 2.0, 5) for _ in range(n)]


async def stored(database: Database, key: str = "p") -> tuple[float, float, float]:
    async with database.unit_of_work() as uow:
        row = (
            await uow.session.execute(
                sa.select(RateBucket.level, RateBucket.updated_at, RateBucket.blocked_until).where(
                    RateBucket.key == key
                )
            )
        ).one()
    return float(row[0]), float(row[1]), float(row[2])


async def test_the_burst_fits_at_once_and_later_takes_get_turns_at_the_drain_rate(
    store: RateBucketStore, database: Database
) -> None:
    assert await takes(store, 5) == [0.0] * 5
    # Full: each further take is counted and gets the next turn, 1 / rate = 0.5 s apart.
    assert await takes(store, 3) == pytest.approx([0.5, 1.0, 1.5])
    level, updated_at, blocked_until = await stored(database)
    assert level == pytest.approx(8.0)  # 5 in the bucket and 3 waiting for their turn
    assert updated_at == pytest.approx(START.timestamp())
    assert blocked_until == 0.0


async def test_the_bucket_drains_at_its_rate(
    store: RateBucketStore, database: Database, clock: FixedClock
) -> None:
    await takes(store, 5)
    clock.advance(timedelta(seconds=1.25))  # 2.5 units drained
    assert await takes(store, 3) == [0.0, 0.0, pytest.approx(0.25)]
    assert (await stored(database))[0] == pytest.approx(5.5)
    clock.advance(timedelta(seconds=60))  # empty again, not below zero
    assert await takes(store, 5) == [0.0] * 5
    assert await store.take("p", 1, 2.0, 5) == pytest.approx(0.5)


async def test_a_clock_behind_the_stored_time_drains_nothing_and_keeps_the_time(
    store: RateBucketStore, database: Database, clock: FixedClock
) -> None:
    await takes(store, 2)
    clock.set(START - timedelta(seconds=30))  # another host's clock, behind ours
    assert await takes(store, 3) == [0.0] * 3
    assert await store.take("p", 1, 2.0, 5) == pytest.approx(0.5)
    level, updated_at, _ = await stored(database)
    assert level == pytest.approx(6.0)
    assert updated_at == pytest.approx(START.timestamp())


async def test_portals_have_separate_buckets(store: RateBucketStore) -> None:
    assert await takes(store, 5, key="a") == [0.0] * 5
    assert await takes(store, 5, key="b") == [0.0] * 5
    assert await store.take("a", 1, 2.0, 5) > 0


async def test_a_cost_above_the_burst_waits_for_an_empty_bucket(
    store: RateBucketStore, clock: FixedClock
) -> None:
    assert await store.take("p", 1, 2.0, 5) == 0.0
    # 1 unit in the bucket: a cost of 8 needs it empty (0.5 s), not 4 units below zero.
    assert await store.take("p", 8, 2.0, 5) == pytest.approx(0.5)
    clock.advance(timedelta(seconds=0.5))
    # Now 8 over a burst of 5: the next unit fits once the level is 4 again (2 s).
    assert await store.take("p", 1, 2.0, 5) == pytest.approx(2.0)


async def test_a_block_holds_every_turn_for_its_seconds_then_the_bucket_is_full(
    store: RateBucketStore, database: Database, clock: FixedClock
) -> None:
    await store.take("p", 1, 2.0, 5)
    await store.block("p", 3.0, 5)
    assert await store.take("p", 1, 2.0, 5) == pytest.approx(3.0)
    # A shorter block does not cut a longer one short.
    await store.block("p", 1.0, 5)
    assert (await stored(database))[2] == pytest.approx(START.timestamp() + 3.0)
    clock.advance(timedelta(seconds=3))
    # Full (5) plus the take held above, 3 s of drain since: 6 - 6 = empty, 5 fit.
    assert await takes(store, 6) == [0.0] * 5 + [pytest.approx(0.5)]


async def test_a_block_keeps_the_turns_already_given(
    store: RateBucketStore, database: Database
) -> None:
    await takes(store, 7)  # 5 in the bucket, 2 waiting their turn (0.5 s and 1 s)
    await store.block("p", 0.2, 5)
    assert (await stored(database))[0] == pytest.approx(7.0)
    assert await store.take("p", 1, 2.0, 5) == pytest.approx(1.5)


async def test_a_block_on_an_unknown_key_creates_a_full_blocked_bucket(
    store: RateBucketStore, clock: FixedClock
) -> None:
    await store.block("new", 0.5, 5)
    assert await store.take("new", 1, 2.0, 5) == pytest.approx(0.5)
    clock.advance(timedelta(seconds=0.5))
    # Full at 5 when the block was set, plus the take above (its turn is now), drained 1
    # unit since: the next turns are 0.5 s apart again.
    assert await takes(store, 2, key="new") == pytest.approx([0.5, 1.0])


async def test_two_processes_taking_at_once_never_get_the_same_turn(
    migrated_url: str, clock: FixedClock
) -> None:
    # Two engines on one database, as two timebot processes have; the clock stands still, so
    # however the 80 concurrent takes interleave, 25 fit now and the other 55 get the turns
    # 0.5 s, 1 s, … 27.5 s, each exactly once.
    first, second = Database.from_url(migrated_url), Database.from_url(migrated_url)
    try:
        stores = [RateBucketStore(first, clock=clock), RateBucketStore(second, clock=clock)]
        waits = await asyncio.gather(*(stores[i % 2].take("p", 1, 2.0, 25) for i in range(80)))
        assert sorted(round(w, 6) for w in waits) == [0.0] * 25 + [0.5 * k for k in range(1, 56)]
        assert (await stored(first))[0] == pytest.approx(80.0)
    finally:
        await first.dispose()
        await second.dispose()
