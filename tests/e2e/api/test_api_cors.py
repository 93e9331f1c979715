"""CORS for `/api/v1` over real HTTP: only origins a portal lists in `cors_origins` get CORS
headers (preflight and actual requests, errors included); none by default, and never outside
the API."""

from __future__ import annotations

import httpx

from tests.e2e.api.world import World

ALLOWED = "https://hr.example.com"  # portal A's settings list it
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_a_preflight_from_an_allowed_origin_is_answered(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.base) as c:
        response = await c.options("/api/v1/marks", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]
    assert int(response.headers["access-control-max-age"]) > 0
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers


async def test_other_origins_get_no_cors_headers(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.base) as c:
        for origin in ("https://evil.example", "http://hr.example.com", "null"):
            preflight = await c.options("/api/v1/marks", headers={"Origin": origin, **PREFLIGHT})
            assert preflight.status_code == 403, origin
            assert "access-control-allow-origin" not in preflight.headers
        actual = await c.get(
            "/api/v1/token",
            headers={
                "Origin": "https://evil.example",
                "Authorization": f"Bearer {world.tokens['a']}",
            },
        )
    assert actual.status_code == 200  # the server answers; the browser withholds it
    assert "access-control-allow-origin" not in actual.headers
    assert "Origin" in actual.headers["vary"]


async def test_actual_requests_and_errors_carry_the_allowed_origin(world: World) -> None:
    async with world.client("a", headers={"Origin": ALLOWED}) as c:
        ok = await c.get("/api/v1/offices")
        csv = await c.get("/api/v1/reports/timesheet", params={"month": "2026-11", "format": "csv"})
    async with httpx.AsyncClient(base_url=world.base, headers={"Origin": ALLOWED}) as c:
        unauthorized = await c.get("/api/v1/offices")
        unknown = await c.get("/api/v1/nothing-here")
        health = await c.get("/health")
    for response in (ok, csv, unauthorized, unknown):
        assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "Content-Disposition" in csv.headers["access-control-expose-headers"]
    assert unauthorized.status_code == 401
    assert unknown.status_code == 404
    assert "access-control-allow-origin" not in health.headers


async def test_no_origin_is_allowed_by_default(world: World) -> None:
    """Portal B lists no origins; its own token does not make its front-end's origin allowed."""
    async with world.client("b", headers={"Origin": "https://b.example.org"}) as c:
        response = await c.get("/api/v1/offices")
        preflight = await c.options("/api/v1/offices", headers=PREFLIGHT)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert preflight.status_code == 403
