"""Tenant isolation: every `/api/v1` endpoint, called with portal B's token and portal A's ids,
refuses (404, or 422 for a foreign id inside a body) and changes nothing of portal A; endpoints
without ids show B only its own data. The endpoints are read from the app's routes (as its
OpenAPI document lists them), so a new endpoint without a case here fails the test. The same
requests with A's own token succeed (the refusals are about the portal, not a broken request)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.api.world import World, snapshot
from timebot.web.app import create_app

A_NAMES = ("Анна Петрова", "Борис Иванов", "Главный офис", "Продажи", "Офис 9–18", "api-a", "БЦ")
PERIOD = {"from": "2026-11-09", "to": "2026-11-18"}


@dataclass
class Case:
    """One request with portal B's token. `foreign`: it names portal A's data and must be
    refused; otherwise it is B's own request and must show nothing of A."""

    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    foreign: bool = True
    control: bool = True  # also send it with A's token, expecting success
    path_ids: dict[str, int] = field(default_factory=dict)
    statuses: tuple[int, ...] = (404,)


Cases = Callable[[World], list[Case]]


def api_routes() -> set[tuple[str, str]]:
    """Every operation the app documents under /api/v1 (its OpenAPI is built from its routes)."""
    paths = create_app().openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1")
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def ids(w: World, **names: str) -> dict[str, int]:
    """Path parameters from portal A's rows."""
    a = w.a
    table = {
        "mark_id": a.mark,
        "employee_id": a.employees["anna"],
        "office_id": a.office,
        "zone_id": a.zone,
        "schedule_id": a.schedule,
        "assignment_id": a.assignment,
    }
    return {k: table[v] for k, v in names.items()}


def circle() -> dict[str, Any]:
    return {"kind": "circle", "name": "Z", "lat": 55.0, "lon": 37.0, "radius_m": 50}


CASES: dict[tuple[str, str], Cases] = {
    ("GET", "/api/v1/token"): lambda w: [Case(foreign=False)],
    ("GET", "/api/v1/marks"): lambda w: [
        Case(params={"employee_id": w.a.employees["anna"]}),
        Case(foreign=False),
    ],
    ("POST", "/api/v1/marks"): lambda w: [
        Case(body={"employee_id": w.a.employees["boris"], "action": "check_in"})
    ],
    ("GET", "/api/v1/marks/{mark_id}"): lambda w: [Case(path_ids=ids(w, mark_id="mark_id"))],
    ("GET", "/api/v1/employees"): lambda w: [
        Case(params={"department_id": w.a.departments["sales"]}),
        Case(foreign=False),
    ],
    ("GET", "/api/v1/employees/{employee_id}"): lambda w: [
        Case(path_ids=ids(w, employee_id="employee_id"))
    ],
    ("PATCH", "/api/v1/employees/{employee_id}"): lambda w: [
        Case(path_ids=ids(w, employee_id="employee_id"), body={"language": "en"}),
        # B's own person, given A's office or A's schedule.
        Case(
            path_ids={"employee_id": w.b.employees["bob"]},
            body={"office_ids": [w.a.office]},
            statuses=(422,),
            control=False,
        ),
        Case(
            path_ids={"employee_id": w.b.employees["bob"]},
            body={"schedule": {"schedule_id": w.a.schedule, "valid_from": "2026-12-01"}},
            control=False,
        ),
    ],
    ("GET", "/api/v1/departments"): lambda w: [Case(foreign=False)],
    ("GET", "/api/v1/offices"): lambda w: [Case(foreign=False)],
    ("POST", "/api/v1/offices"): lambda w: [Case(foreign=False, body={"name": "Filial B"})],
    ("GET", "/api/v1/offices/{office_id}"): lambda w: [
        Case(path_ids=ids(w, office_id="office_id"))
    ],
    ("PATCH", "/api/v1/offices/{office_id}"): lambda w: [
        Case(path_ids=ids(w, office_id="office_id"), body={"name": "Hijacked"})
    ],
    ("DELETE", "/api/v1/offices/{office_id}"): lambda w: [
        Case(path_ids=ids(w, office_id="office_id"))
    ],
    ("GET", "/api/v1/offices/{office_id}/zones"): lambda w: [
        Case(path_ids=ids(w, office_id="office_id"))
    ],
    ("POST", "/api/v1/offices/{office_id}/zones"): lambda w: [
        Case(path_ids=ids(w, office_id="office_id"), body=circle())
    ],
    ("GET", "/api/v1/zones/{zone_id}"): lambda w: [Case(path_ids=ids(w, zone_id="zone_id"))],
    ("PATCH", "/api/v1/zones/{zone_id}"): lambda w: [
        Case(path_ids=ids(w, zone_id="zone_id"), body={"radius_m": 5000})
    ],
    ("DELETE", "/api/v1/zones/{zone_id}"): lambda w: [Case(path_ids=ids(w, zone_id="zone_id"))],
    ("GET", "/api/v1/schedules"): lambda w: [Case(foreign=False)],
    ("POST", "/api/v1/schedules"): lambda w: [
        Case(foreign=False, body={"kind": "shift", "name": "B shifts"})
    ],
    ("GET", "/api/v1/schedules/{schedule_id}"): lambda w: [
        Case(path_ids=ids(w, schedule_id="schedule_id"))
    ],
    ("PATCH", "/api/v1/schedules/{schedule_id}"): lambda w: [
        Case(path_ids=ids(w, schedule_id="schedule_id"), body={"late_tolerance_min": 120})
    ],
    ("DELETE", "/api/v1/schedules/{schedule_id}"): lambda w: [
        Case(path_ids=ids(w, schedule_id="schedule_id"))
    ],
    ("GET", "/api/v1/schedules/{schedule_id}/assignments"): lambda w: [
        Case(path_ids=ids(w, schedule_id="schedule_id"))
    ],
    ("POST", "/api/v1/schedules/{schedule_id}/assignments"): lambda w: [
        Case(
            path_ids=ids(w, schedule_id="schedule_id"),
            body={"scope": "portal", "valid_from": "2026-12-01"},
        ),
        # B's own schedule assigned to A's employee or department.
        Case(
            path_ids={"schedule_id": w.b.schedule},
            body={
                "scope": "employee",
                "target_id": w.a.employees["anna"],
                "valid_from": "2026-12-01",
            },
            control=False,
        ),
        Case(
            path_ids={"schedule_id": w.b.schedule},
            body={
                "scope": "department",
                "target_id": w.a.departments["dev"],
                "valid_from": "2026-12-01",
            },
            control=False,
        ),
    ],
    ("DELETE", "/api/v1/schedules/{schedule_id}/assignments/{assignment_id}"): lambda w: [
        Case(
            path_ids={"schedule_id": w.b.schedule, "assignment_id": w.a.assignment}, control=False
        ),
        Case(path_ids=ids(w, schedule_id="schedule_id", assignment_id="assignment_id")),
    ],
    ("GET", "/api/v1/statistics/employees"): lambda w: [
        Case(params={**PERIOD, "employee_id": w.a.employees["anna"]}),
        Case(params={**PERIOD, "department_id": w.a.departments["sales"]}),
        Case(foreign=False, params=PERIOD),
    ],
    ("GET", "/api/v1/statistics/employees/{employee_id}"): lambda w: [
        Case(path_ids=ids(w, employee_id="employee_id"), params=PERIOD)
    ],
    ("GET", "/api/v1/statistics/departments"): lambda w: [
        Case(params={**PERIOD, "department_id": w.a.departments["sales"]}),
        Case(foreign=False, params=PERIOD),
    ],
    ("GET", "/api/v1/violations"): lambda w: [
        Case(params={**PERIOD, "employee_id": w.a.employees["vera"]}),
        Case(params={**PERIOD, "department_id": w.a.departments["dev"]}),
        Case(foreign=False, params=PERIOD),
    ],
    ("GET", "/api/v1/reports/timesheet"): lambda w: [
        Case(params={"month": "2026-11", "department_id": w.a.departments["sales"]}),
        Case(foreign=False, params={"month": "2026-11", "format": "csv"}),
    ],
}


def test_every_api_endpoint_has_isolation_cases() -> None:
    routes = api_routes()
    assert routes, "no API routes found"
    missing = sorted(routes - set(CASES))
    stale = sorted(set(CASES) - routes)
    assert not missing, f"endpoints without an isolation case: {missing}"
    assert not stale, f"cases for endpoints that do not exist: {stale}"


async def test_portal_b_can_neither_read_nor_change_portal_a(world: World) -> None:
    before = await snapshot(world.database_url, world.a.id)
    controls: list[tuple[str, str, Case]] = []
    refused = own = 0
    async with world.client("b") as b:
        for (method, template), make in sorted(CASES.items()):
            for case in make(world):
                path = template.format(**case.path_ids)
                response = await b.request(method, path, params=case.params, json=case.body)
                label = (method, path, case.params, case.body, response.text[:300])
                if case.foreign:
                    assert response.status_code in case.statuses, label
                    assert response.json()["error"] in (
                        "not_found",
                        "unknown_office",
                    ), label
                    refused += 1
                    if case.control:
                        controls.append((method, path, case))
                else:
                    assert response.status_code < 300, label
                    for name in A_NAMES:
                        assert name not in response.text, (label, name)
                    own += 1
    assert await snapshot(world.database_url, world.a.id) == before
    assert refused >= len(CASES) - 6
    assert own >= 10
    async with world.client("a") as a:
        for method, path, case in controls:
            response = await a.request(method, path, params=case.params, json=case.body)
            assert response.status_code < 300, (method, path, response.text[:300])
