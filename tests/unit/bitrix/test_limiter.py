"""The per-portal leaky bucket, timed with a fake monotonic clock (no real sleeping)."""

from __future__ import annotations

import asyncio

import pytest

from timebot.bitrix.limiter import RateLimiter, plan_limits

from .fake_time import FakeMonotonic


def limiter(clock: FakeMonotonic, rate: float = 2.0, burst: int = 50) -> RateLimiter:
    return RateLimiter(rate, burst, monotonic=clock, sleep=clock.sleep)


async def test_a_burst_up_to_the_limit_passes_without_waiting() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock)
    for _ in range(50):
        await bucket.acquire("p")
    assert clock.sleeps == []
    assert bucket.level("p") == 50


async def test_beyond_the_burst_requests_wait_for_the_drain_rate() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock)
    start = clock.now
    for _ in range(60):
        await bucket.acquire("p")
    # 10 requests over the burst at 2 per second take 5 seconds, evenly spaced.
    assert clock.now - start == pytest.approx(5.0)
    assert clock.sleeps == pytest.approx([0.5] * 10)


async def test_the_bucket_drains_while_idle() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock)
    for _ in range(50):
        await bucket.acquire("p")
    clock.advance(10)  # 20 units drained
    for _ in range(20):
        await bucket.acquire("p")
    assert clock.sleeps == []
    await bucket.acquire("p")
    assert clock.sleeps == pytest.approx([0.5])


async def test_portals_do_not_share_a_bucket() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock, burst=3)
    for _ in range(3):
        await bucket.acquire("a")
    for _ in range(3):
        await bucket.acquire("b")
    assert clock.sleeps == []


async def test_an_enterprise_portal_gets_its_own_rate_and_burst() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock)
    bucket.configure("ent", *plan_limits({"LICENSE": "de_ent250", "LICENSE_FAMILY": "ent"}))
    assert bucket.limits("ent") == (5.0, 250)
    assert bucket.limits("other") == (2.0, 50)
    start = clock.now
    for _ in range(260):
        await bucket.acquire("ent")
    assert clock.now - start == pytest.approx(10 / 5.0)


async def test_a_batch_costing_more_waits_for_enough_room() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock, burst=10)
    await bucket.acquire("p", cost=8)
    await bucket.acquire("p", cost=4)  # needs 2 units drained: 1 second
    assert clock.sleeps == pytest.approx([1.0])


async def test_a_cost_above_the_burst_still_goes_through_an_empty_bucket() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock, burst=5)
    await bucket.acquire("p", cost=7)
    assert clock.sleeps == []


async def test_penalize_holds_every_caller_of_that_portal() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock)
    await bucket.acquire("p")
    bucket.penalize("p", 3.0)
    start = clock.now
    await bucket.acquire("p")
    # Held for 3 s. The bucket counted as full from the penalty on and drained meanwhile.
    assert clock.now - start == pytest.approx(3.0)
    assert bucket.level("p") == pytest.approx(50 - 3.0 * 2 + 1)
    await bucket.acquire("q")
    assert clock.now - start == pytest.approx(3.0)


async def test_concurrent_callers_are_served_in_order_without_losing_any() -> None:
    clock = FakeMonotonic()
    bucket = limiter(clock, rate=2.0, burst=5)
    served: list[tuple[int, float]] = []

    async def caller(n: int) -> None:
        await bucket.acquire("p")
        served.append((n, clock.now))

    start = clock.now
    await asyncio.gather(*(caller(n) for n in range(15)))
    assert [n for n, _ in served] == list(range(15))
    times = [at - start for _, at in served]
    assert times[:5] == [0.0] * 5
    assert times[5:] == pytest.approx([0.5 * k for k in range(1, 11)])


def test_plan_limits_reads_the_license_family_or_code() -> None:
    assert plan_limits({"LICENSE": "de_ent10000", "LICENSE_FAMILY": "ent"}) == (5.0, 250)
    assert plan_limits({"LICENSE": "ru_ent500"}) == (5.0, 250)
    assert plan_limits({"LICENSE": "de_pro100", "LICENSE_FAMILY": "pro"}) == (2.0, 50)
    assert plan_limits({}) == (2.0, 50)


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0, 10)
    bucket = RateLimiter()
    with pytest.raises(ValueError, match="rate"):
        bucket.configure("p", 1.0, 0)


async def test_a_cost_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="cost"):
        await RateLimiter().acquire("p", cost=0)
