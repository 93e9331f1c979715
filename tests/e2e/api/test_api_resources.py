"""Employees, departments, offices, zones, schedules and assignments over real HTTP: reading
with filters, changing with audit entries, and 4xx answers that change nothing."""

from __future__ import annotations

from typing import Any

from tests.e2e.api.world import FIXED_WEEK, World, rows, snapshot
from timebot.storage.tables import AuditEntry, EmployeeOffice, ScheduleAssignment


async def test_employees_are_listed_filtered_and_read(world: World) -> None:
    a = world.a
    async with world.client() as c:
        page = (await c.get("/api/v1/employees")).json()
        assert page["total"] == 4
        assert [e["name"] for e in page["items"]] == [
            "Анна Петрова",
            "Борис Иванов",
            "Вера Смирнова",
            "Глеб Орлов",
        ]
        anna = page["items"][0]
        assert anna["department_ids"] == [a.departments["sales"]]
        assert anna["bitrix_user_id"] == 10

        dev = (
            await c.get("/api/v1/employees", params={"department_id": a.departments["dev"]})
        ).json()
        assert {e["id"] for e in dev["items"]} == {a.employees["vera"], a.employees["gleb"]}
        found = (await c.get("/api/v1/employees", params={"q": "бОрис"})).json()
        assert [e["id"] for e in found["items"]] == [a.employees["boris"]]
        assert (await c.get("/api/v1/employees", params={"q": "100%_"})).json()["total"] == 0
        paged = (await c.get("/api/v1/employees", params={"limit": 3, "offset": 3})).json()
        assert [e["name"] for e in paged["items"]] == ["Глеб Орлов"]
        assert paged["next_offset"] is None

        one = await c.get(f"/api/v1/employees/{a.employees['vera']}")
        assert one.status_code == 200
        assert one.json()["schedule_assignments"] == []

        departments = (await c.get("/api/v1/departments")).json()
        assert [(d["name"], d["parent_id"]) for d in departments] == [
            ("Продажи", None),
            ("Разработка", a.departments["sales"]),
        ]
        for path in (
            "/api/v1/employees/999999",
            "/api/v1/employees?department_id=999999",
        ):
            response = await c.get(path)
            assert response.status_code == 404, path
        assert (await c.get("/api/v1/employees?q=")).status_code == 422


async def test_an_employee_gets_language_zone_offices_and_a_schedule(world: World) -> None:
    a = world.a
    vera = a.employees["vera"]
    async with world.client() as c:
        response = await c.patch(
            f"/api/v1/employees/{vera}",
            json={
                "language": "en",
                "timezone": "Asia/Yekaterinburg",
                "office_ids": [a.office],
                "remote_weekdays": [5, 1, 5],
                "schedule": {"schedule_id": a.schedule, "valid_from": "2026-12-01"},
            },
        )
        assert response.status_code == 200, response.text
        vera_now = response.json()
        assert vera_now["language"] == "en"
        assert vera_now["timezone"] == "Asia/Yekaterinburg"
        assert vera_now["office_ids"] == [a.office]
        assert vera_now["all_offices"] is False
        assert vera_now["remote_weekdays"] == [1, 5]
        (assignment,) = vera_now["schedule_assignments"]
        assert assignment["schedule_id"] == a.schedule
        assert assignment["employee_id"] == vera
        assert assignment["valid_from"] == "2026-12-01"

        cleared = await c.patch(
            f"/api/v1/employees/{vera}", json={"timezone": None, "all_offices": True}
        )
        assert cleared.json()["timezone"] is None
        assert cleared.json()["all_offices"] is True

        before = await snapshot(world.database_url, a.id)
        bad: list[tuple[dict[str, Any], int, str]] = [
            ({"timezone": "Mars/Olympus"}, 422, "validation_failed"),
            ({"timezone": "../../etc/passwd"}, 422, "validation_failed"),
            ({"language": "de"}, 422, "validation_failed"),
            ({"office_ids": [999999]}, 422, "unknown_office"),
            ({"office_ids": [world.b.office]}, 422, "unknown_office"),
            ({"remote_weekdays": [0]}, 422, "validation_failed"),
            (
                {"schedule": {"schedule_id": world.b.schedule, "valid_from": "2026-12-01"}},
                404,
                "not_found",
            ),
            (
                {"schedule": {"schedule_id": a.schedule, "valid_from": "1812-09-07"}},
                422,
                "validation_failed",
            ),
            ({"name": "Renamed"}, 422, "validation_failed"),
            ({"all_offices": None}, 422, "invalid_value"),
        ]
        for body, status, error in bad:
            response = await c.patch(f"/api/v1/employees/{vera}", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"] == error, body
        assert await snapshot(world.database_url, a.id) == before
    links = await rows(world.database_url, EmployeeOffice, EmployeeOffice.employee_id == vera)
    assert [link["office_id"] for link in links] == [a.office]
    audit = await rows(world.database_url, AuditEntry, AuditEntry.action == "employee.updated")
    assert len(audit) == 2
    assert audit[0]["details"]["language"] == "en"


async def test_offices_and_zones_are_created_changed_and_deactivated(world: World) -> None:
    polygon = {
        "type": "Polygon",
        "coordinates": [
            [[37.60, 55.75], [37.61, 55.75], [37.61, 55.76], [37.60, 55.76], [37.60, 55.75]]
        ],
    }
    async with world.client() as c:
        created = await c.post(
            "/api/v1/offices",
            json={"name": " Склад ", "timezone": "Europe/Samara", "ip_ranges": ["192.168.1.0/24"]},
        )
        assert created.status_code == 201, created.text
        office = created.json()
        assert (office["name"], office["timezone"], office["zones"]) == (
            "Склад",
            "Europe/Samara",
            [],
        )
        oid = office["id"]

        circle = await c.post(
            f"/api/v1/offices/{oid}/zones",
            json={"kind": "circle", "name": "Ворота", "lat": 53.2, "lon": 50.1, "radius_m": 75},
        )
        assert circle.status_code == 201, circle.text
        shape = await c.post(
            f"/api/v1/offices/{oid}/zones",
            json={"kind": "polygon", "name": "Двор", "polygon": polygon},
        )
        assert shape.status_code == 201, shape.text
        assert shape.json()["polygon"] == polygon
        zones = (await c.get(f"/api/v1/offices/{oid}/zones")).json()
        assert [z["name"] for z in zones] == ["Ворота", "Двор"]

        moved = await c.patch(f"/api/v1/zones/{circle.json()['id']}", json={"radius_m": 120})
        assert moved.json()["radius_m"] == 120
        renamed = await c.patch(
            f"/api/v1/offices/{oid}", json={"name": "Склад №2", "ip_ranges": []}
        )
        assert (renamed.json()["name"], renamed.json()["ip_ranges"]) == ("Склад №2", [])

        bad: list[tuple[str, str, dict[str, Any], int, str]] = [
            ("post", "/api/v1/offices", {"name": ""}, 422, "validation_failed"),
            (
                "post",
                "/api/v1/offices",
                {"name": "X", "ip_ranges": ["10.0.0.300/8"]},
                422,
                "invalid_ip_range",
            ),
            ("post", "/api/v1/offices", {"name": "X\u0000"}, 422, "validation_failed"),
            (
                "post",
                "/api/v1/offices",
                {"name": "X", "timezone": "Nowhere"},
                422,
                "validation_failed",
            ),
            (
                "post",
                f"/api/v1/offices/{oid}/zones",
                {"kind": "circle", "name": "Z", "lat": 0, "lon": 0, "radius_m": 0.5},
                422,
                "invalid_circle",
            ),
            (
                "post",
                f"/api/v1/offices/{oid}/zones",
                {"kind": "circle", "name": "Z", "lat": 0, "lon": 0, "radius_m": 0},
                422,
                "validation_failed",
            ),
            (
                "post",
                f"/api/v1/offices/{oid}/zones",
                {"kind": "square", "name": "Z"},
                422,
                "validation_failed",
            ),
            (
                "post",
                f"/api/v1/offices/{oid}/zones",
                {
                    "kind": "polygon",
                    "name": "Bowtie",
                    "polygon": {
                        "type": "Polygon",
                        "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                    },
                },
                422,
                "invalid_polygon",
            ),
            (
                "patch",
                f"/api/v1/zones/{circle.json()['id']}",
                {"polygon": polygon},
                422,
                "wrong_shape",
            ),
            ("patch", f"/api/v1/zones/{shape.json()['id']}", {"radius_m": 10}, 422, "wrong_shape"),
            (
                "post",
                "/api/v1/offices/999999/zones",
                {"kind": "circle", "name": "Z", "lat": 0, "lon": 0, "radius_m": 10},
                404,
                "not_found",
            ),
            ("patch", "/api/v1/zones/999999", {"name": "Z"}, 404, "not_found"),
        ]
        before = await snapshot(world.database_url, world.a.id)
        for method, path, body, status, error in bad:
            response = await c.request(method.upper(), path, json=body)
            assert response.status_code == status, (path, body, response.text)
            assert response.json()["error"] == error, (path, body)
        assert await snapshot(world.database_url, world.a.id) == before

        assert (await c.delete(f"/api/v1/zones/{shape.json()['id']}")).status_code == 204
        assert (await c.get(f"/api/v1/zones/{shape.json()['id']}")).json()["active"] is False
        assert (await c.delete(f"/api/v1/offices/{oid}")).status_code == 204
        gone = (await c.get(f"/api/v1/offices/{oid}")).json()
        assert gone["active"] is False
        assert all(not z["active"] for z in gone["zones"])
        active = (await c.get("/api/v1/offices", params={"active": True})).json()
        assert [o["id"] for o in active] == [world.a.office]
    actions = [
        a["action"]
        for a in await rows(
            world.database_url, AuditEntry, AuditEntry.entity.in_(["office", "zone"])
        )
    ]
    assert actions == [
        "office.created",
        "zone.created",
        "zone.created",
        "zone.updated",
        "office.updated",
        "zone.deactivated",
        "office.deactivated",
    ]


async def test_schedules_are_created_changed_assigned_and_deactivated(world: World) -> None:
    a = world.a
    async with world.client() as c:
        flexible = await c.post(
            "/api/v1/schedules",
            json={
                "kind": "flexible",
                "name": "Гибкий",
                "definition": {"minimum_hours": 7, "core_start": "11:00", "core_end": "16:00"},
            },
        )
        assert flexible.status_code == 201, flexible.text
        sid = flexible.json()["id"]
        assert flexible.json()["definition"]["workdays"] == [0, 1, 2, 3, 4]
        fixed = await c.post(
            "/api/v1/schedules",
            json={"kind": "fixed", "name": "Пятидневка", "definition": FIXED_WEEK},
        )
        assert fixed.status_code == 201, fixed.text
        assert fixed.json()["definition"]["week"][0] == {
            "start": "09:00",
            "end": "18:00",
            "break": 60,
        }
        shifts = await c.post("/api/v1/schedules", json={"kind": "shift", "name": "Смены"})
        assert shifts.status_code == 201

        changed = await c.patch(
            f"/api/v1/schedules/{sid}",
            json={
                "late_tolerance_min": 5,
                "definition": {"minimum_hours": 6, "workdays": [0, 2, 4]},
            },
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["late_tolerance_min"] == 5
        assert changed.json()["definition"]["workdays"] == [0, 2, 4]

        to_dev = await c.post(
            f"/api/v1/schedules/{sid}/assignments",
            json={
                "scope": "department",
                "target_id": a.departments["dev"],
                "valid_from": "2026-12-01",
            },
        )
        assert to_dev.status_code == 201, to_dev.text
        assert to_dev.json()["department_id"] == a.departments["dev"]
        to_gleb = await c.post(
            f"/api/v1/schedules/{sid}/assignments",
            json={
                "scope": "employee",
                "target_id": a.employees["gleb"],
                "valid_from": "2026-12-01",
            },
        )
        to_all = await c.post(
            f"/api/v1/schedules/{sid}/assignments",
            json={"scope": "portal", "valid_from": "2027-01-01"},
        )
        listed = (await c.get(f"/api/v1/schedules/{sid}/assignments")).json()
        assert [x["scope"] for x in listed] == ["department", "employee", "portal"]
        gone = await c.delete(f"/api/v1/schedules/{sid}/assignments/{to_all.json()['id']}")
        assert gone.status_code == 204
        assert len((await c.get(f"/api/v1/schedules/{sid}/assignments")).json()) == 2
        assert (await c.get(f"/api/v1/employees/{a.employees['gleb']}")).json()[
            "schedule_assignments"
        ][0]["id"] == to_gleb.json()["id"]

        before = await snapshot(world.database_url, a.id)
        bad: list[tuple[str, str, Any, int, str]] = [
            (
                "post",
                "/api/v1/schedules",
                {"kind": "fixed", "name": "X", "definition": {"week": []}},
                422,
                "validation_failed",
            ),
            (
                "post",
                "/api/v1/schedules",
                {"kind": "fixed", "name": "X", "definition": {"week": [None] * 7}},
                422,
                "invalid_definition",
            ),
            (
                "post",
                "/api/v1/schedules",
                {
                    "kind": "fixed",
                    "name": "X",
                    "definition": {"week": [{"start": "25:00", "end": "18:00"}] * 7},
                },
                422,
                "validation_failed",
            ),
            (
                "post",
                "/api/v1/schedules",
                {"kind": "flexible", "name": "X", "definition": {"core_start": "11:00"}},
                422,
                "invalid_definition",
            ),
            (
                "post",
                "/api/v1/schedules",
                {"kind": "weekly", "name": "X"},
                422,
                "validation_failed",
            ),
            (
                "patch",
                f"/api/v1/schedules/{sid}",
                {"definition": {"week": FIXED_WEEK["week"]}},
                422,
                "invalid_definition",
            ),
            (
                "patch",
                f"/api/v1/schedules/{sid}",
                {"definition": {"minimum_hours": 30}},
                422,
                "invalid_definition",
            ),
            (
                "post",
                f"/api/v1/schedules/{sid}/assignments",
                {"scope": "employee", "valid_from": "2026-12-01"},
                422,
                "missing_target",
            ),
            (
                "post",
                f"/api/v1/schedules/{sid}/assignments",
                {"scope": "portal", "target_id": 1, "valid_from": "2026-12-01"},
                422,
                "unexpected_target",
            ),
            (
                "post",
                f"/api/v1/schedules/{sid}/assignments",
                {
                    "scope": "employee",
                    "target_id": world.b.employees["bob"],
                    "valid_from": "2026-12-01",
                },
                404,
                "not_found",
            ),
            (
                "post",
                f"/api/v1/schedules/{sid}/assignments",
                {
                    "scope": "department",
                    "target_id": world.b.departments["main"],
                    "valid_from": "2026-12-01",
                },
                404,
                "not_found",
            ),
            (
                "delete",
                f"/api/v1/schedules/{sid}/assignments/{a.assignment}",
                None,
                404,
                "not_found",
            ),
            ("get", "/api/v1/schedules/999999", None, 404, "not_found"),
        ]
        for method, path, body, status, error in bad:
            response = await c.request(method.upper(), path, json=body)
            assert response.status_code == status, (path, body, response.text)
            assert response.json()["error"] == error, (path, body)
        assert await snapshot(world.database_url, a.id) == before

        assert (await c.delete(f"/api/v1/schedules/{sid}")).status_code == 204
        inactive = (await c.get("/api/v1/schedules", params={"active": False})).json()
        assert [s["id"] for s in inactive] == [sid]
    kept = await rows(world.database_url, ScheduleAssignment, ScheduleAssignment.schedule_id == sid)
    assert len(kept) == 2
