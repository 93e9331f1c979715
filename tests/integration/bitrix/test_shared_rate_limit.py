"""One portal, two timebot processes: with the database's shared bucket their calls together keep
to the portal's leaky bucket (the sandbox refuses with 503 QUERY_LIMIT_EXCEEDED beyond it);
each with a bucket of its own, they send twice the allowance and get refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port
from timebot.bitrix import BitrixClient, PortalAuth, RateLimiter
from timebot.sandbox import Portal
from timebot.storage.database import Database
from timebot.storage.migrate import upgrade
from timebot.storage.repositories.rate_buckets import RateBucketStore

from .conftest import StartSandbox

RATE = 10.0  # the portal's drain per second
BURST = 5
HEADROOM = 1  # as `bootstrap.build_container` leaves
PROCESSES = 2
CALLS = 25  # per process


@dataclass
class Hammered:
    seconds: float
    answered: int
    refused: int  # the portal's 503 QUERY_LIMIT_EXCEEDED answers
    requests: int  # every request the portal received, retries included


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def process_client(stack: AsyncExitStack, database_url: str | None) -> BitrixClient:
    """What one timebot process has: its own HTTP client and limiter (with the shared store
    on its own engine when a database is given)."""
    http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
    store = None
    if database_url is not None:
        database = Database.from_url(database_url)
        stack.push_async_callback(database.dispose)
        store = RateBucketStore(database)
    limiter = RateLimiter(RATE, BURST, store=store, headroom=HEADROOM)
    # Refusals are retried quickly, so the unshared run finishes and counts them.
    return BitrixClient(http, limiter, max_retries=20, backoff_base=0.05, backoff_max=0.5)


async def hammer(portal: Portal, clients: list[BitrixClient]) -> Hammered:
    """Every process sends CALLS calls at once; wait for all of them."""
    auth = PortalAuth.webhook(portal.member_id, portal.webhook_url())
    before = (portal.stats.requests, portal.stats.rate_limited)
    started = time.monotonic()
    answers = await asyncio.gather(
        *(client.call(auth, "user.current") for client in clients for _ in range(CALLS))
    )
    return Hammered(
        seconds=time.monotonic() - started,
        answered=sum(1 for a in answers if a.result),
        refused=portal.stats.rate_limited - before[1],
        requests=portal.stats.requests - before[0],
    )


async def test_processes_sharing_the_database_bucket_keep_to_the_portals_rate(
    start_sandbox: StartSandbox, database_url: str, stack: AsyncExitStack
) -> None:
    await upgrade(database_url)
    portal = start_sandbox(rate=RATE, burst=BURST)
    clients = [await process_client(stack, database_url) for _ in range(PROCESSES)]
    result = await hammer(portal, clients)
    total = PROCESSES * CALLS
    assert result.answered == total
    assert result.refused == 0, result
    assert result.requests == total, result
    # The burst (less the headroom) passes at once, the rest at the portal's rate:
    # (50 - 4) / 10 = 4.6 s.
    paced = total - (BURST - HEADROOM)
    floor = paced / RATE
    assert floor - 0.1 <= result.seconds <= floor + 1.0, result
    throughput = paced / result.seconds
    assert throughput == pytest.approx(RATE, rel=0.2), result


async def test_processes_with_buckets_of_their_own_overrun_the_portal(
    start_sandbox: StartSandbox, stack: AsyncExitStack
) -> None:
    # The baseline of the test above: the same processes and calls, no shared store.
    portal = start_sandbox(rate=RATE, burst=BURST)
    clients = [await process_client(stack, None) for _ in range(PROCESSES)]
    result = await hammer(portal, clients)
    assert result.answered == PROCESSES * CALLS
    # Each process alone sends its burst and then RATE per second: twice the allowance.
    assert result.refused >= 5, result


@pytest.mark.parametrize("away", ["sqlite-without-the-table", "postgres-not-listening"])
async def test_when_the_database_is_away_calls_keep_to_the_processs_own_bucket(
    start_sandbox: StartSandbox, stack: AsyncExitStack, tmp_path: Path, away: str
) -> None:
    if away == "sqlite-without-the-table":
        url = f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.sqlite3'}"
    else:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/timebot"
    portal = start_sandbox(rate=RATE, burst=BURST)
    client = await process_client(stack, url)
    result = await hammer(portal, [client])
    # Every take fails at once; each call falls back to the local bucket: nothing is held up
    # and nothing overruns the portal (one process alone keeps to its rate).
    assert result.answered == CALLS
    assert result.refused == 0, result
    floor = (CALLS - (BURST - HEADROOM)) / RATE
    assert floor - 0.1 <= result.seconds <= floor + 1.0, result
