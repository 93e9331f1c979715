"""The API's rate limit over real HTTP, on both databases: a burst over the limit gets 429 in the
API's error format with `Retry-After` and `RateLimit-*`, changes nothing and passes again after
the wait; tokens have their own budgets; requests without a valid token share their address's
budget (and made-up tokens make no new keys); 0 turns the limit off; the headers are on every
API response and 429 is documented."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from tests.e2e.api.world import World, running_world, snapshot
from timebot.services.api_tokens import signing_key_from_secret

# Three requests at once, then one every two seconds: the tests send their bursts well within
# two seconds, and wait at most two.
RATE = 0.5
BURST = 3
HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


@pytest.fixture
async def tight(database_url: str) -> AsyncIterator[World]:
    async with running_world(database_url, api_rate_per_second=RATE, api_rate_burst=BURST) as world:
        yield world


def forged(world: World) -> str:
    """Token "a"'s claims with a made-up token id, signed with another installation's key."""
    claims = jwt.decode(world.tokens["a"], options={"verify_signature": False})
    claims["jti"] = secrets.token_urlsafe(24)
    return jwt.encode(claims, signing_key_from_secret("another-installation"), algorithm="HS256")


def limiter_of(world: World) -> Any:
    return world.app.state.api_rate_limiter


async def test_a_burst_over_the_limit_gets_429_and_passes_after_retry_after(
    tight: World,
) -> None:
    origin = {"Origin": "https://hr.example.com"}  # allowed by portal A: CORS on the 429 too
    async with tight.client("a", headers=origin) as c:
        passed = [await c.get("/api/v1/token") for _ in range(BURST)]
        refused = await c.post(
            "/api/v1/marks", json={"employee_id": tight.a.employees["boris"], "action": "check_in"}
        )
        assert [r.status_code for r in passed] == [200] * BURST
        assert [r.headers["ratelimit-limit"] for r in passed] == [str(BURST)] * BURST
        assert [r.headers["ratelimit-remaining"] for r in passed] == ["2", "1", "0"]
        assert all(int(r.headers["ratelimit-reset"]) >= 1 for r in passed)
        assert "retry-after" not in passed[0].headers

        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/json"
        body = refused.json()
        assert body["error"] == "rate_limited"
        assert "retry in" in body["detail"]
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 2
        assert refused.headers["ratelimit-limit"] == str(BURST)
        assert refused.headers["ratelimit-remaining"] == "0"
        assert wait <= int(refused.headers["ratelimit-reset"]) <= BURST / RATE
        assert refused.headers["access-control-allow-origin"] == "https://hr.example.com"
        exposed = refused.headers["access-control-expose-headers"]
        assert all(h in exposed for h in ("Retry-After", "RateLimit-Remaining"))
        assert (await c.get("/api/v1/token")).status_code == 429

        await asyncio.sleep(wait)
        again = await c.get("/api/v1/token")
        assert again.status_code == 200, again.text
        assert again.headers["ratelimit-remaining"] == "0"


async def test_a_refused_write_changes_nothing(tight: World) -> None:
    async with tight.client("a") as c:
        for _ in range(BURST):
            assert (await c.get("/api/v1/offices")).status_code == 200
        before = await snapshot(tight.database_url, tight.a.id)
        for _ in range(5):
            refused = await c.post(
                "/api/v1/marks",
                json={"employee_id": tight.a.employees["boris"], "action": "check_in"},
            )
            assert refused.status_code == 429
    assert await snapshot(tight.database_url, tight.a.id) == before


async def test_two_tokens_are_limited_independently(tight: World) -> None:
    async with tight.client("a") as a, tight.client("a_read") as a_read:
        for _ in range(BURST):
            assert (await a.get("/api/v1/offices")).status_code == 200
        assert (await a.get("/api/v1/offices")).status_code == 429
        # Another token of the same portal, from the same address, has its whole burst.
        other = [await a_read.get("/api/v1/offices") for _ in range(BURST)]
        assert [r.status_code for r in other] == [200] * BURST
        assert [r.headers["ratelimit-remaining"] for r in other] == ["2", "1", "0"]
        assert (await a_read.get("/api/v1/offices")).status_code == 429
        assert (await a.get("/api/v1/offices")).status_code == 429
    async with tight.client("b") as b:
        assert (await b.get("/api/v1/offices")).headers["ratelimit-remaining"] == "2"
    assert len(limiter_of(tight)) == 3


async def test_forged_tokens_from_one_address_are_throttled(tight: World) -> None:
    answers = []
    for _ in range(BURST + 3):
        async with tight.client(forged(tight)) as c:
            answers.append(await c.get("/api/v1/marks"))
    assert [r.status_code for r in answers] == [401] * BURST + [429] * 3
    for r in answers[:BURST]:
        assert r.json()["error"] == "invalid_token"
        assert r.headers["ratelimit-limit"] == str(BURST)
    assert answers[-1].json()["error"] == "rate_limited"
    assert int(answers[-1].headers["retry-after"]) >= 1
    # No token, garbage, an expired token: the same address's budget, spent.
    for token in (None, "not.a.token", "a_expired"):
        async with tight.client(token) as c:
            assert (await c.get("/api/v1/token")).status_code == 429, token
    # A valid token from that address still has its own budget.
    async with tight.client("a") as c:
        assert (await c.get("/api/v1/token")).status_code == 200
    assert len(limiter_of(tight)) == 2  # the address and token "a"


async def test_made_up_tokens_add_no_keys(database_url: str) -> None:
    async with running_world(database_url, api_rate_per_second=1, api_rate_burst=20) as world:
        statuses = []
        async with world.client(None) as c:
            for _ in range(200):
                headers = {"Authorization": f"Bearer {forged(world)}"}
                statuses.append((await c.get("/api/v1/token", headers=headers)).status_code)
        assert statuses.count(401) >= 20
        assert statuses.count(429) >= 150
        assert len(limiter_of(world)) == 1


@pytest.mark.parametrize(
    "limit",
    [
        {"api_rate_per_second": 0, "api_rate_burst": 1},
        {"api_rate_per_second": RATE, "api_rate_burst": 0},
    ],
    ids=["rate-0", "burst-0"],
)
async def test_zero_turns_the_limit_off(database_url: str, limit: dict[str, Any]) -> None:
    async with running_world(database_url, **limit) as world:
        async with world.client("a") as c:
            answers = [await c.get("/api/v1/token") for _ in range(20)]
        async with world.client("forged") as c:
            answers += [await c.get("/api/v1/token") for _ in range(10)]
        assert [r.status_code for r in answers] == [200] * 20 + [401] * 10
        assert not any(h in r.headers for r in answers for h in HEADERS)
        assert limiter_of(world) is None


async def test_every_api_response_carries_the_headers(world: World) -> None:
    async with world.client("a") as c:
        answers = {
            "ok": await c.get("/api/v1/token"),
            "not found": await c.get("/api/v1/offices/999999"),
            "no endpoint": await c.get("/api/v1/nowhere"),
            "invalid": await c.get("/api/v1/marks", params={"limit": "lots"}),
            "wrong method": await c.put("/api/v1/token"),
        }
    async with world.client("forged") as c:
        answers["unauthorized"] = await c.get("/api/v1/token")
    for label, response in answers.items():
        assert response.status_code < 500, label
        assert response.headers["ratelimit-limit"] == "100000", label
        assert int(response.headers["ratelimit-remaining"]) >= 99_990, label
        assert int(response.headers["ratelimit-reset"]) >= 1, label
    async with world.client(None) as c:
        assert "ratelimit-limit" not in (await c.get("/health")).headers
        assert "ratelimit-limit" not in (await c.get("/openapi.json")).headers


async def test_429_is_documented_for_every_api_operation(world: World) -> None:
    async with world.client(None) as c:
        document = (await c.get("/openapi.json")).json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]
    assert len(operations) >= 30
    for path, method, operation in operations:
        documented = operation["responses"].get("429")
        assert documented is not None, (method, path)
        assert documented["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ApiError"
        }
        assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
            documented["headers"]
        )
