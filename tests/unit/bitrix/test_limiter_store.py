"""The limiter with a shared bucket store (a scripted fake here; the database store is tested in
tests/integration): it waits for the turn the store gives, tells the store of refusals, keeps
to its own bucket while the store fails, and leaves its headroom unused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from timebot.bitrix.limiter import RateLimiter

from .fake_time import FakeMonotonic
from .test_client import WEBHOOK, FakePortal, error, make_client, ok


@dataclass
class ScriptedStore:
    """Answers takes from `answers` (a float, or an exception to raise), then 0.0; records
    every call."""

    answers: list[float | Exception] = field(default_factory=list)
    delay: float = 0.0  # real seconds each call takes
    takes: list[tuple[str, int, float, int]] = field(default_factory=list)
    blocks: list[tuple[str, float, int]] = field(default_factory=list)
    fail_blocks: bool = False
    on_take: Callable[[], None] | None = None

    async def take(self, key: str, cost: int, rate: float, burst: int) -> float:
        self.takes.append((key, cost, rate, burst))
        if self.on_take is not None:
            self.on_take()
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers.pop(0) if self.answers else 0.0
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def block(self, key: str, seconds: float, burst: int) -> None:
        self.blocks.append((key, seconds, burst))
        if self.fail_blocks:
            raise ConnectionRefusedError("database down")


def limiter(
    clock: FakeMonotonic, store: ScriptedStore, *, burst: int = 5, headroom: int = 0
) -> RateLimiter:
    return RateLimiter(
        2.0, burst, store=store, headroom=headroom, monotonic=clock, sleep=clock.sleep
    )


async def test_a_call_waits_for_the_turn_the_store_gives_and_goes() -> None:
    clock, store = FakeMonotonic(), ScriptedStore([0.0, 0.75])
    bucket = limiter(clock, store)
    await bucket.acquire("p")
    await bucket.acquire("p")
    # The store counted the second call when it gave its turn: it is not asked again.
    assert clock.sleeps == pytest.approx([0.75])
    assert store.takes == [("p", 1, 2.0, 5)] * 2


async def test_a_refusal_seen_while_waiting_for_the_turn_holds_the_call_too() -> None:
    clock = FakeMonotonic()
    bucket: RateLimiter | None = None

    def refused_meanwhile() -> None:  # another call of this process got a 503 just now
        assert bucket is not None
        bucket.penalize("p", 2.0)

    store = ScriptedStore([1.0], on_take=refused_meanwhile)
    bucket = limiter(clock, store)
    await bucket.acquire("p")
    assert clock.sleeps == pytest.approx([1.0, 1.0])


async def test_the_store_gets_the_portals_own_limits_less_the_headroom() -> None:
    clock, store = FakeMonotonic(), ScriptedStore()
    bucket = limiter(clock, store, headroom=1)
    bucket.configure("ent", 5.0, 250)
    await bucket.acquire("ent", cost=3)
    await bucket.acquire("other")
    assert store.takes == [("ent", 3, 5.0, 249), ("other", 1, 2.0, 4)]


async def test_a_store_that_fails_leaves_the_call_to_the_local_bucket_and_is_asked_again() -> None:
    clock = FakeMonotonic()
    store = ScriptedStore([ConnectionRefusedError("down")] * 9)
    bucket = limiter(clock, store, burst=5)
    for _ in range(7):
        await bucket.acquire("p")
    # The local bucket: 5 pass, then 2 per second.
    assert clock.sleeps == pytest.approx([0.5, 0.5])
    assert len(store.takes) == 9  # every try asked the store first
    await bucket.acquire("p")  # the store is back
    assert len(store.takes) == 10
    assert clock.sleeps == pytest.approx([0.5, 0.5])


async def test_a_store_slower_than_its_timeout_counts_as_failed() -> None:
    clock, store = FakeMonotonic(), ScriptedStore(delay=1.0)
    bucket = RateLimiter(
        2.0, 5, store=store, store_timeout=0.05, monotonic=clock, sleep=clock.sleep
    )
    await asyncio.wait_for(bucket.acquire("p"), timeout=0.5)
    assert len(store.takes) == 1
    assert bucket.level("p") == 1.0  # taken from the local bucket


async def test_takes_from_the_store_are_counted_locally_for_the_fallback() -> None:
    clock = FakeMonotonic()
    store = ScriptedStore([0.0] * 5 + [ConnectionRefusedError("down")])
    bucket = limiter(clock, store, burst=5)
    for _ in range(5):
        await bucket.acquire("p")
    assert bucket.level("p") == 5.0
    # The store fails now: this process's own five are still in its bucket.
    await bucket.acquire("p")
    assert clock.sleeps == pytest.approx([0.5])


async def test_a_refusal_holds_this_process_and_is_told_to_the_store() -> None:
    clock, store = FakeMonotonic(), ScriptedStore()
    bucket = limiter(clock, store, burst=5)
    await bucket.hold("p", 3.0)
    assert store.blocks == [("p", 3.0, 5)]
    await bucket.acquire("p")
    # Held 3 s here without asking the store; then the store decides.
    assert clock.sleeps == pytest.approx([3.0])
    assert len(store.takes) == 1


async def test_a_refusal_still_holds_this_process_when_the_store_fails() -> None:
    clock, store = FakeMonotonic(), ScriptedStore(fail_blocks=True)
    bucket = limiter(clock, store, burst=5)
    await bucket.hold("p", 2.0)
    assert store.blocks == [("p", 2.0, 5)]
    await bucket.acquire("p")
    assert clock.sleeps == pytest.approx([2.0])


async def test_headroom_leaves_part_of_the_local_burst_unused() -> None:
    clock = FakeMonotonic()
    bucket = RateLimiter(2.0, 5, headroom=1, monotonic=clock, sleep=clock.sleep)
    for _ in range(5):
        await bucket.acquire("p")
    assert clock.sleeps == pytest.approx([0.5])
    assert bucket.limits("p") == (2.0, 5)  # the portal's limits are still reported whole
    with pytest.raises(ValueError, match="headroom"):
        RateLimiter(headroom=-1)


async def test_a_call_whose_turn_was_taken_is_not_charged_again_but_its_retry_is() -> None:
    clock, store = FakeMonotonic(), ScriptedStore()
    bucket = limiter(clock, store)
    portal = FakePortal(error(503, "QUERY_LIMIT_EXCEEDED"), ok(1))
    client = make_client(portal, clock, limiter=bucket)
    await bucket.acquire(WEBHOOK.member_id)  # the outbox takes the turn, then fills the batch
    assert (await client.call(WEBHOOK, "user.current", turn_taken=True)).result == 1
    assert len(portal.requests) == 2
    # The taken turn, then the retry after the refusal, which every process is told of.
    assert [t[0] for t in store.takes] == ["m1", "m1"]
    assert [b[0] for b in store.blocks] == ["m1"]
