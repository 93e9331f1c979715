"""Bearer tokens over real HTTP: missing, malformed, forged, expired, revoked and under-scoped
tokens are refused with 401/403 in the API's error format and change nothing; a revocation
takes effect on the next request; use is recorded."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.api.world import NOW, World, rows, snapshot
from timebot.domain.clock import FixedClock
from timebot.services.api_tokens import revoke_token
from timebot.storage import Database
from timebot.storage.tables import ApiToken


async def test_requests_without_a_valid_token_are_refused(world: World) -> None:
    before = await snapshot(world.database_url, world.a.id)
    cases = {
        "missing": None,
        "forged": "forged",
        "expired": "a_expired",
        "revoked": "a_revoked",
        "garbage": "not.a.token",
    }
    for label, token in cases.items():
        async with world.client(token) as c:
            read = await c.get("/api/v1/marks")
            write = await c.post(
                "/api/v1/marks",
                json={"employee_id": world.a.employees["boris"], "action": "check_in"},
            )
        for response in (read, write):
            assert response.status_code == 401, (label, response.text)
            body = response.json()
            assert body["error"] == (
                "expired_token"
                if label == "expired"
                else ("missing_token" if label == "missing" else "invalid_token")
            ), label
            assert body["detail"]
            assert response.headers["www-authenticate"].startswith("Bearer")
    async with world.client(None, headers={"Authorization": "Basic dXNlcjpwYXNz"}) as c:
        assert (await c.get("/api/v1/token")).status_code == 401
    # Nothing was recorded, and the refused tokens were not marked as used.
    assert await snapshot(world.database_url, world.a.id) == before


async def test_the_error_says_why_a_token_is_refused(world: World) -> None:
    details = {}
    for token in ("a_expired", "a_revoked", "forged"):
        async with world.client(token) as c:
            details[token] = (await c.get("/api/v1/token")).json()["detail"]
    assert "expired" in details["a_expired"]
    assert "revoked" in details["a_revoked"]
    assert "signature" in details["forged"]


async def test_a_token_without_the_scope_gets_403(world: World) -> None:
    before = await snapshot(world.database_url, world.a.id)
    async with world.client("a_read") as c:
        assert (await c.get("/api/v1/marks")).status_code == 200
        assert (await c.get("/api/v1/offices")).status_code == 200
        attempts = [
            await c.post(
                "/api/v1/marks",
                json={"employee_id": world.a.employees["boris"], "action": "check_in"},
            ),
            await c.patch(
                f"/api/v1/employees/{world.a.employees['boris']}", json={"language": "en"}
            ),
            await c.post("/api/v1/offices", json={"name": "New"}),
            await c.delete(f"/api/v1/zones/{world.a.zone}"),
            await c.delete(f"/api/v1/schedules/{world.a.schedule}"),
        ]
    for response in attempts:
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "insufficient_scope"
    after = await snapshot(world.database_url, world.a.id)
    # Only the token's last use moved.
    for table in after:
        if table != "api_tokens":
            assert after[table] == before[table], table


async def test_the_token_tells_who_it_is_and_its_use_is_recorded(world: World) -> None:
    async with world.client("a_read") as c:
        response = await c.get("/api/v1/token")
    assert response.status_code == 200
    info = response.json()
    assert info["portal"]["member_id"] == "api-a"
    assert info["jti"] == world.jtis["a_read"]
    assert info["expires_at"] is None
    assert set(info["scopes"]) == {
        "marks:read",
        "employees:read",
        "offices:read",
        "schedules:read",
        "reports:read",
    }
    (row,) = await rows(world.database_url, ApiToken, ApiToken.jti == world.jtis["a_read"])
    assert row["last_used_at"] == NOW


async def test_a_revocation_takes_effect_on_the_next_request(world: World) -> None:
    async with world.client("a") as c:
        assert (await c.get("/api/v1/token")).status_code == 200
        db = Database.from_url(world.database_url)
        try:
            async with db.unit_of_work() as uow:
                await revoke_token(
                    uow, clock=FixedClock(NOW + timedelta(seconds=1)), jti=world.jtis["a"]
                )
                await uow.commit()
        finally:
            await db.dispose()
        response = await c.get("/api/v1/token")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
