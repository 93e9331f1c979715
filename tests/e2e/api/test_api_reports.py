"""Statistics, violations and timesheet downloads over real HTTP, checked against the seeded
fortnight: Anna and Boris work 8-hour days (Boris late once, excused), Vera and Gleb never
come, Anna's Wednesday is open at noon."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.e2e.api.world import World

PERIOD = {"from": "2026-11-09", "to": "2026-11-18"}


async def test_statistics_per_employee_and_department(world: World) -> None:
    a = world.a
    async with world.client() as c:
        page = (await c.get("/api/v1/statistics/employees", params=PERIOD)).json()
        by_name = {p["name"]: p for p in page["items"]}
        assert page["total"] == 4
        anna, boris, vera = (
            by_name["Анна Петрова"],
            by_name["Борис Иванов"],
            by_name["Вера Смирнова"],
        )
        assert anna["worked_minutes"] == 7 * 480 + 180
        assert anna["norm_minutes"] == 8 * 480
        assert anna["open_days"] == 1
        assert anna["days_worked"] == 8
        assert (boris["worked_minutes"], boris["late_days"], boris["late_minutes"]) == (
            7 * 480,
            1,
            40,
        )
        assert boris["violations"] == 0  # the lateness is excused
        assert (vera["absent_days"], vera["worked_minutes"], vera["violations"]) == (7, 0, 7)
        assert vera["balance_minutes"] == -8 * 480
        assert vera["department_ids"] == [a.departments["dev"]]

        only_dev = (
            await c.get(
                "/api/v1/statistics/employees",
                params={**PERIOD, "department_id": a.departments["dev"], "limit": 1},
            )
        ).json()
        assert (only_dev["total"], len(only_dev["items"]), only_dev["next_offset"]) == (2, 1, 1)

        detail = (
            await c.get(f"/api/v1/statistics/employees/{a.employees['boris']}", params=PERIOD)
        ).json()
        assert len(detail["days"]) == 10
        wednesday = detail["days"][2]
        assert (wednesday["date"], wednesday["late_minutes"]) == ("2026-11-11", 40)
        assert wednesday["first_in"] == "2026-11-11T06:40:00Z"
        assert detail["days"][5]["norm_minutes"] is None  # Saturday
        assert detail["worked_minutes"] == boris["worked_minutes"]

        departments = (await c.get("/api/v1/statistics/departments", params=PERIOD)).json()
        sales, dev = departments
        assert (sales["name"], sales["people"], sales["worked_minutes"]) == (
            "Продажи",
            2,
            anna["worked_minutes"] + boris["worked_minutes"],
        )
        assert (sales["late_days"], sales["violations"]) == (1, 0)
        assert (dev["name"], dev["absent_days"], dev["violations"]) == ("Разработка", 14, 14)
        one = (
            await c.get(
                "/api/v1/statistics/departments",
                params={**PERIOD, "department_id": a.departments["sales"]},
            )
        ).json()
        assert [d["department_id"] for d in one] == [a.departments["sales"]]
        year = (
            await c.get(
                "/api/v1/statistics/departments", params={"from": "2026-01-01", "to": "2026-11-18"}
            )
        ).json()
        assert [d["violations"] for d in year] == [None, None]  # counted up to 93 days
        assert year[0]["worked_minutes"] == sales["worked_minutes"]


async def test_violations_of_a_period_with_filters(world: World) -> None:
    a = world.a
    async with world.client() as c:
        everything = (await c.get("/api/v1/violations", params=PERIOD)).json()
        assert everything["total"] == 15
        kinds = [(v["name"], v["kind"]) for v in everything["items"]]
        assert kinds.count(("Вера Смирнова", "absent")) == 7
        assert kinds.count(("Глеб Орлов", "absent")) == 7
        (late,) = [v for v in everything["items"] if v["kind"] == "late_start"]
        assert (late["employee_id"], late["date"], late["minutes"]) == (
            a.employees["boris"],
            "2026-11-11",
            40,
        )
        assert (late["excused"], late["excused_by"]) == (True, "врач")
        assert late["text"].startswith("пришёл в 09:40")
        dates = [v["date"] for v in everything["items"]]
        assert dates == sorted(dates)

        unexcused = (
            await c.get("/api/v1/violations", params={**PERIOD, "include_excused": False})
        ).json()
        assert unexcused["total"] == 14
        only_late = (
            await c.get("/api/v1/violations", params={**PERIOD, "kind": "late_start"})
        ).json()
        assert only_late["total"] == 1
        vera = (
            await c.get(
                "/api/v1/violations",
                params={**PERIOD, "employee_id": a.employees["vera"], "limit": 5, "offset": 5},
            )
        ).json()
        assert (vera["total"], len(vera["items"]), vera["next_offset"]) == (7, 2, None)
        sales = (
            await c.get(
                "/api/v1/violations", params={**PERIOD, "department_id": a.departments["sales"]}
            )
        ).json()
        assert [v["kind"] for v in sales["items"]] == ["late_start"]


async def test_timesheets_download_as_xlsx_and_csv(world: World) -> None:
    async with world.client() as c:
        xlsx = await c.get("/api/v1/reports/timesheet", params={"month": "2026-11"})
        csv = await c.get(
            "/api/v1/reports/timesheet",
            params={
                "month": "2026-11",
                "format": "csv",
                "department_id": world.a.departments["dev"],
            },
        )
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert xlsx.headers["content-disposition"] == 'attachment; filename="timesheet-2026-11.xlsx"'
    book = load_workbook(io.BytesIO(xlsx.content))
    assert {"Продажи", "Разработка"} <= set(book.sheetnames)
    assert csv.status_code == 200
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"] == 'attachment; filename="timesheet-2026-11-dep2.csv"'
    text = csv.content.decode("utf-8")
    assert text.startswith("\ufeffПодразделение;")
    lines = text.strip().splitlines()
    assert [line.split(";")[2] for line in lines[1:]] == ["Вера Смирнова", "Глеб Орлов"]


async def test_bad_report_requests_get_clear_4xx(world: World) -> None:
    async with world.client() as c:
        cases = {
            "/api/v1/statistics/employees?from=2026-11-18&to=2026-11-09": (400, "bad_period"),
            "/api/v1/statistics/employees?from=2025-01-01&to=2026-11-09": (400, "period_too_long"),
            "/api/v1/statistics/employees?from=2026-11-09": (422, "validation_failed"),
            "/api/v1/statistics/employees?from=0001-01-01&to=2026-11-09": (
                422,
                "validation_failed",
            ),
            "/api/v1/statistics/employees/999999?from=2026-11-09&to=2026-11-10": (404, "not_found"),
            "/api/v1/statistics/departments?from=2026-11-09&to=2026-11-10&department_id=999999": (
                404,
                "not_found",
            ),
            "/api/v1/violations?from=2026-01-01&to=2026-11-10": (400, "period_too_long"),
            "/api/v1/violations?from=2026-11-09&to=2026-11-10&kind=napping": (
                422,
                "validation_failed",
            ),
            "/api/v1/reports/timesheet?month=2026-13": (422, "validation_failed"),
            "/api/v1/reports/timesheet?month=1999-01": (400, "bad_month"),
            "/api/v1/reports/timesheet?month=2026-11&format=pdf": (422, "validation_failed"),
            "/api/v1/reports/timesheet?month=2026-11&department_id=999999": (404, "not_found"),
        }
        for path, (status, error) in cases.items():
            response = await c.get(path)
            assert response.status_code == status, (path, response.text)
            assert response.json()["error"] == error, path


async def test_the_openapi_document_says_what_a_day_worked_is(world: World) -> None:
    async with world.client() as c:
        schemas = (await c.get("/openapi.json")).json()["components"]["schemas"]
    for model in ("EmployeeStats", "EmployeeStatsDetail", "DepartmentStats"):
        fields = schemas[model]["properties"]
        assert "at least one whole minute worked" in fields["days_worked"]["description"], model
        assert "not a day worked" in fields["days_worked"]["description"], model
        assert fields["absent_days"]["description"] == "Planned days past without a check-in."
