"""`/api/v1/marks` over real HTTP: listing with filters and pages, recording actions through the
work-day rules with the check-in page's geofence judgement, Work Time mirroring and the chat
answer queued, idempotent retries, and clear 4xx answers for what cannot be done."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.e2e.api.world import INSIDE, NOW, OUTSIDE, World, rows, snapshot
from timebot.storage import Database
from timebot.storage.tables import AuditEntry, Employee, LocationFix, Mark, OutboxMessage, Portal


async def set_portal(world: World, **settings: Any) -> None:
    db = Database.from_url(world.database_url)
    try:
        async with db.unit_of_work() as uow:
            portal = await uow.session.get(Portal, world.a.id)
            assert portal is not None
            portal.settings = {**(portal.settings or {}), **settings}
            await uow.commit()
    finally:
        await db.dispose()


async def set_employee(world: World, employee_id: int, **values: Any) -> None:
    db = Database.from_url(world.database_url)
    try:
        async with db.unit_of_work() as uow:
            employee = await uow.session.get(Employee, employee_id)
            assert employee is not None
            for key, value in values.items():
                setattr(employee, key, value)
            await uow.commit()
    finally:
        await db.dispose()


async def test_marks_are_listed_newest_first_with_filters_and_pages(world: World) -> None:
    anna, boris = world.a.employees["anna"], world.a.employees["boris"]
    async with world.client() as c:
        everything = (await c.get("/api/v1/marks", params={"limit": 500})).json()
        # Seeded: 5 + 2 days of four marks for Anna and Boris, and Anna's check-in today.
        assert everything["total"] == 57
        assert everything["next_offset"] is None
        ats = [m["at"] for m in everything["items"]]
        assert ats == sorted(ats, reverse=True)
        assert {m["employee_id"] for m in everything["items"]} == {anna, boris}

        first = (await c.get("/api/v1/marks", params={"limit": 20})).json()
        second = (await c.get("/api/v1/marks", params={"limit": 20, "offset": 20})).json()
        assert (first["total"], first["limit"], first["offset"], first["next_offset"]) == (
            57,
            20,
            0,
            20,
        )
        assert second["next_offset"] == 40
        assert first["items"] + second["items"] == everything["items"][:40]

        mine = (
            await c.get(
                "/api/v1/marks",
                params={
                    "employee_id": boris,
                    "from": "2026-11-16T00:00:00+03:00",
                    "to": "2026-11-18T00:00:00+03:00",
                    "kind": ["check_in", "check_out"],
                },
            )
        ).json()
        assert mine["total"] == 4
        assert {(m["employee_id"], m["kind"]) for m in mine["items"]} == {
            (boris, "check_in"),
            (boris, "check_out"),
        }
        assert all(m["at"] >= "2026-11-15T21:00:00Z" for m in mine["items"])

        one = await c.get(f"/api/v1/marks/{world.a.mark}")
        assert one.status_code == 200
        assert one.json()["id"] == world.a.mark
        assert one.json()["superseded"] is False


async def test_bad_list_and_read_requests_get_clear_4xx(world: World) -> None:
    async with world.client() as c:
        cases = {
            "/api/v1/marks?from=2026-11-18T00:00:00Z&to=2026-11-17T00:00:00Z": (400, "bad_period"),
            "/api/v1/marks?from=2026-11-18T00:00:00": (422, "validation_failed"),
            "/api/v1/marks?kind=lunch": (422, "validation_failed"),
            "/api/v1/marks?limit=0": (422, "validation_failed"),
            "/api/v1/marks?limit=501": (422, "validation_failed"),
            "/api/v1/marks?employee_id=999999": (404, "not_found"),
            "/api/v1/marks/999999": (404, "not_found"),
            "/api/v1/marks/abc": (422, "validation_failed"),
            f"/api/v1/marks/{2**70}": (422, "validation_failed"),
            "/api/v1/marks/1/extra": (404, "no_such_endpoint"),
        }
        for path, (status, error) in cases.items():
            response = await c.get(path)
            assert response.status_code == status, (path, response.text)
            body = response.json()
            assert body["error"] == error, path
            assert body["detail"], path
        invalid = (await c.get("/api/v1/marks?limit=0")).json()
        assert invalid["errors"][0]["loc"] == ["query", "limit"]


async def test_a_kiosk_records_a_day_with_locations_like_the_checkin_page(world: World) -> None:
    boris = world.a.employees["boris"]
    inside = {"lat": INSIDE.lat, "lon": INSIDE.lon, "accuracy": 15, "consent": True}
    async with world.client() as c:
        response = await c.post(
            "/api/v1/marks", json={"employee_id": boris, "action": "check_in", "location": inside}
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["outcome"] == "recorded"
        assert created["replayed"] is False
        assert created["state"] == "working"
        assert created["flagged"] is False
        mark = created["mark"]
        assert (mark["kind"], mark["source"], mark["employee_id"]) == ("check_in", "api", boris)
        assert mark["at"] == "2026-11-18T09:00:00Z"
        verdict = created["verdict"]
        assert (verdict["kind"], verdict["decision"], verdict["zone_id"]) == (
            "inside",
            "accept",
            world.a.zone,
        )
        assert "Главный офис" in verdict["text"]
        assert mark["location_verdict"] == "inside"
        assert mark["zone_id"] == world.a.zone

        again = await c.post("/api/v1/marks", json={"employee_id": boris, "action": "check_in"})
        assert again.status_code == 409
        assert again.json()["error"] == "not_allowed_now"
        assert again.json()["state"] == "working"

        for action, state in (("break", "on_break"), ("back", "working")):
            step = await c.post("/api/v1/marks", json={"employee_id": boris, "action": action})
            assert step.status_code == 201, step.text
            assert step.json()["state"] == state
            assert step.json()["verdict"] is None
        out = await c.post(
            "/api/v1/marks",
            json={"employee_id": boris, "action": "check_out", "notify": False},
        )
        assert out.status_code == 201
        assert out.json()["state"] == "off"

    marks = await rows(world.database_url, Mark, Mark.employee_id == boris, Mark.source == "api")
    assert [m["kind"] for m in marks] == ["check_in", "break_start", "break_end", "check_out"]
    (fix,) = await rows(world.database_url, LocationFix, LocationFix.employee_id == boris)
    assert fix["mark_id"] == marks[0]["id"]
    assert fix["verdict"] == "inside"
    assert fix["accuracy_m"] == 15
    (employee,) = await rows(world.database_url, Employee, Employee.id == boris)
    assert employee["consented_at"] == NOW
    outbox = await rows(world.database_url, OutboxMessage, OutboxMessage.portal_id == world.a.id)
    timeman = [o for o in outbox if o["kind"] == "timeman"]
    assert [o["method"] for o in timeman] == [
        "timeman.open",
        "timeman.pause",
        "timeman.open",
        "timeman.close",
    ]
    assert timeman[0]["payload"]["params"]["USER_ID"] == 11
    messages = [o for o in outbox if o["kind"] == "message"]
    assert len(messages) == 3  # the check-out asked not to notify
    assert "[timestamp=" in str(messages[0]["payload"])
    audit = await rows(world.database_url, AuditEntry, AuditEntry.entity == "mark")
    assert [a["action"] for a in audit] == [
        "mark.check_in",
        "mark.break_start",
        "mark.break_end",
        "mark.check_out",
    ]
    assert {a["actor"] for a in audit} == {f"api:{world.jtis['a']}"}


async def test_retries_with_an_idempotency_key_record_once(world: World) -> None:
    vera, gleb = world.a.employees["vera"], world.a.employees["gleb"]
    async with world.client() as c:
        first = await c.post(
            "/api/v1/marks",
            json={"employee_id": vera, "action": "check_in"},
            headers={"Idempotency-Key": "turnstile-42"},
        )
        second = await c.post(
            "/api/v1/marks",
            json={"employee_id": vera, "action": "check_in", "idempotency_key": "turnstile-42"},
        )
        other = await c.post(
            "/api/v1/marks",
            json={"employee_id": gleb, "action": "check_in", "idempotency_key": "turnstile-42"},
        )
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["replayed"] is True
    assert second.json()["mark"]["id"] == first.json()["mark"]["id"]
    assert second.json()["state"] == "working"
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_conflict"
    assert len(await rows(world.database_url, Mark, Mark.employee_id == vera)) == 1
    assert await rows(world.database_url, Mark, Mark.employee_id == gleb) == []


async def test_the_portals_location_policy_applies_to_the_api(world: World) -> None:
    gleb = world.a.employees["gleb"]
    await set_portal(world, location_required=True, block_outside=True)
    outside = {"lat": OUTSIDE.lat, "lon": OUTSIDE.lon, "accuracy": 10}
    async with world.client() as c:
        bare = await c.post("/api/v1/marks", json={"employee_id": gleb, "action": "check_in"})
        assert bare.status_code == 422
        assert bare.json()["error"] == "location_required"

        no_consent = await c.post(
            "/api/v1/marks", json={"employee_id": gleb, "action": "check_in", "location": outside}
        )
        assert no_consent.status_code == 422
        assert no_consent.json()["error"] == "consent_required"

        rejected = await c.post(
            "/api/v1/marks",
            json={
                "employee_id": gleb,
                "action": "check_in",
                "location": {**outside, "consent": True},
            },
        )
        assert rejected.status_code == 409
        body = rejected.json()
        assert body["error"] == "location_rejected"
        assert body["verdict"]["kind"] == "outside"
        assert body["verdict"]["decision"] == "reject"
        assert body["verdict"]["distance_m"] > 1900

        # A break needs no location even now; a remote day needs no geofence.
        await set_employee(world, gleb, remote_always=True)
        remote = await c.post("/api/v1/marks", json={"employee_id": gleb, "action": "check_in"})
        assert remote.status_code == 201, remote.text
    assert [m["kind"] for m in await rows(world.database_url, Mark, Mark.employee_id == gleb)] == [
        "check_in"
    ]
    fixes = await rows(world.database_url, LocationFix, LocationFix.employee_id == gleb)
    assert [(f["verdict"], f["mark_id"]) for f in fixes] == [("outside", None)]


async def test_invalid_mark_requests_change_nothing(world: World) -> None:
    boris = world.a.employees["boris"]
    before = await snapshot(world.database_url, world.a.id)
    async with world.client() as c:
        cases: list[tuple[Any, int, str]] = [
            ({"employee_id": boris, "action": "lunch"}, 422, "validation_failed"),
            ({"employee_id": boris}, 422, "validation_failed"),
            ({"employee_id": boris, "action": "check_in", "extra": 1}, 422, "validation_failed"),
            (
                {"employee_id": boris, "action": "check_in", "location": {"lat": 91, "lon": 0}},
                422,
                "validation_failed",
            ),
            ({"employee_id": 999999, "action": "check_in"}, 404, "not_found"),
            ({"employee_id": 0, "action": "check_in"}, 422, "validation_failed"),
            (["not", "an", "object"], 422, "validation_failed"),
            (
                {"employee_id": boris, "action": "check_in", "idempotency_key": "has space"},
                422,
                "validation_failed",
            ),
        ]
        for body, status, error in cases:
            response = await c.post("/api/v1/marks", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"] == error
        broken = await c.post(
            "/api/v1/marks",
            content=b'{"employee_id": 2, "action": ',
            headers={"Content-Type": "application/json"},
        )
        assert broken.status_code == 400
        assert broken.json()["error"] == "malformed_json"
        nan = await c.post(
            "/api/v1/marks",
            content=b'{"employee_id": 2, "action": "check_in", "location": {"lat": NaN, "lon": 1}}',
            headers={"Content-Type": "application/json"},
        )
        assert nan.status_code == 422
    await set_employee(world, boris, active=False)
    async with world.client() as c:
        gone = await c.post("/api/v1/marks", json={"employee_id": boris, "action": "check_in"})
    assert gone.status_code == 409
    assert gone.json()["error"] == "employee_inactive"
    after = await snapshot(world.database_url, world.a.id)
    for table in after:
        if table not in ("api_tokens", "employees"):
            assert after[table] == before[table], table


async def test_marks_from_the_check_in_page_and_the_api_share_one_day(world: World) -> None:
    """The API sees the same day the chat started: Anna checked in this morning by chat."""
    anna = world.a.employees["anna"]
    async with world.client() as c:
        refused = await c.post("/api/v1/marks", json={"employee_id": anna, "action": "check_in"})
        out = await c.post("/api/v1/marks", json={"employee_id": anna, "action": "check_out"})
    assert refused.status_code == 409
    assert out.status_code == 201
    db = Database.from_url(world.database_url)
    try:
        async with db.unit_of_work() as uow:
            kinds = list(
                await uow.session.scalars(
                    select(Mark.source)
                    .where(Mark.employee_id == anna)
                    .order_by(Mark.at.desc())
                    .limit(2)
                )
            )
    finally:
        await db.dispose()
    assert kinds == ["api", "chat"]
