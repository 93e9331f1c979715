"""`/bitrix/app/reports` over real HTTP: statistics per person (worked against the norm, late
days, violations), the PNG chart and the month's timesheet as XLSX and CSV, scoped to what the
viewer may see; bad periods are 400 with a reason."""

from __future__ import annotations

import io
from datetime import date, time, timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from tests.e2e.admin_ops.helpers import add_work_days, msk
from tests.support.admin import ADMIN_USER, EMPLOYEE_USER, HEAD_USER, admin_stack
from timebot.domain.clock import FixedClock
from timebot.reports.production_calendar import calendar_for
from timebot.storage.tables import AuditEntry, Department

DECEMBER_1 = msk(date(2026, 12, 1), time(9, 0))
WEEK = [date(2026, 11, 9) + timedelta(days=i) for i in range(5)]  # Mon 9 – Fri 13 November
LATE_DAY = date(2026, 11, 16)


def stats_row(html: str, user_id: int) -> dict[str, str]:
    """The statistics table's cells (by class) of one person."""
    start = html.index(f'data-user="{user_id}"')
    row = html[start : html.index("</tr>", start)]
    cells: dict[str, str] = {}
    for name in ("worked", "norm", "late-days", "violations"):
        at = row.index(f'class="num {name}"') if f'class="num {name}"' in row else -1
        assert at >= 0, (name, row)
        cell = row[row.index(">", at) + 1 :]
        cells[name] = cell[: cell.index("<")].strip()
    return cells


def sheet_cells(body: bytes) -> dict[str, Any]:
    """sheet title -> {person name: {header: value}} of a timesheet workbook."""
    workbook = load_workbook(io.BytesIO(body))
    found: dict[str, Any] = {}
    for ws in workbook.worksheets:
        header_row = next(r for r in range(1, 15) if ws.cell(r, 2).value == "Сотрудник")
        headers = {ws.cell(header_row, c).value: c for c in range(1, ws.max_column + 1)}
        people: dict[str, dict[str, Any]] = {}
        for r in range(header_row + 1, ws.max_row + 1):
            name = ws.cell(r, 2).value
            if isinstance(name, str) and name and isinstance(ws.cell(r, 1).value, int):
                people[name] = {h: ws.cell(r, c).value for h, c in headers.items() if h}
        found[ws.title] = people
    return found


async def department_id(stack: Any, bitrix_id: int) -> int:
    rows = await stack.rows(select(Department).where(Department.bitrix_id == bitrix_id))
    return int(rows[0].id)


async def test_reports_show_statistics_chart_and_timesheets(database_url: str) -> None:
    clock = FixedClock(DECEMBER_1)
    async with admin_stack(database_url, clock=clock) as stack:
        await add_work_days(stack, 3, WEEK, time(9, 0))  # Maria: 5 days of 8 h
        await add_work_days(stack, 3, [LATE_DAY], time(9, 40))  # and one late day
        await add_work_days(stack, 7, WEEK[:2], time(9, 0))  # Olga (Backend): 2 days
        admin = await stack.login(ADMIN_USER)
        head = await stack.login(HEAD_USER)
        employee = await stack.login(EMPLOYEE_USER)
        sales = await department_id(stack, 2)
        development = await department_id(stack, 3)
        backend = await department_id(stack, 4)

        november = calendar_for("RU", 2026).month_summary(2026, 11, 40)
        page = await admin.get("/bitrix/app/reports", params={"month": "2026-11"})
        assert page.status_code == 200
        maria = stats_row(page.text, 3)
        assert maria["worked"] == "48:00"
        assert maria["norm"] == f"{int(november.norm_hours)}:00"
        assert maria["late-days"] == "1"
        # Absent on every other working day, late once.
        assert maria["violations"] == str(november.working_days - 6 + 1)
        assert stats_row(page.text, 7)["worked"] == "16:00"
        assert 'src="/bitrix/app/reports/chart.png?month=2026-11"' in page.text
        assert 'href="/bitrix/app/reports/timesheet.xlsx?month=2026-11"' in page.text

        # A week: the norm is the week's, nothing missed.
        week = await admin.get(
            "/bitrix/app/reports", params={"from": "2026-11-09", "to": "2026-11-13"}
        )
        assert week.status_code == 200
        assert stats_row(week.text, 3) == {
            "worked": "40:00",
            "norm": "40:00",
            "late-days": "0",
            "violations": "0",
        }

        # The head sees Sales only; another department is a 404; the employee nothing.
        own = await head.get("/bitrix/app/reports", params={"month": "2026-11"})
        assert own.status_code == 200
        assert 'data-user="3"' in own.text
        assert 'data-user="7"' not in own.text
        assert f'<option value="{backend}"' not in own.text
        foreign = await head.get(
            "/bitrix/app/reports", params={"month": "2026-11", "department": backend}
        )
        assert foreign.status_code == 404
        assert (
            await head.get("/bitrix/app/reports/timesheet.xlsx", params={"department": backend})
        ).status_code == 404
        for path in ("", "/chart.png", "/timesheet.xlsx", "/timesheet.csv"):
            refused = await employee.get(f"/bitrix/app/reports{path}", params={"month": "2026-11"})
            assert refused.status_code == 403, path

        # The chart.
        chart = await admin.get("/bitrix/app/reports/chart.png", params={"month": "2026-11"})
        assert chart.status_code == 200
        assert chart.headers["content-type"] == "image/png"
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")

        # Timesheets: the head's (Sales), the admin's of Development (with Backend under it).
        xlsx = await head.get("/bitrix/app/reports/timesheet.xlsx", params={"month": "2026-11"})
        assert xlsx.status_code == 200
        assert "attachment" in xlsx.headers["content-disposition"]
        sheets = sheet_cells(xlsx.content)
        assert list(sheets) == ["Отдел продаж"]
        assert sheets["Отдел продаж"]["Мария Иванова"]["Часов"] == 48
        assert sheets["Отдел продаж"]["Мария Иванова"]["Опозданий"] == 1
        assert "Ольга Лебедева" not in str(sheets)
        dev = await admin.get(
            "/bitrix/app/reports/timesheet.xlsx",
            params={"month": "2026-11", "department": development},
        )
        assert dev.status_code == 200
        dev_sheets = sheet_cells(dev.content)
        assert set(dev_sheets) == {"Разработка", "Бэкенд"}
        assert dev_sheets["Бэкенд"]["Ольга Лебедева"]["Часов"] == 16
        assert "Мария Иванова" not in str(dev_sheets)
        csv = await admin.get(
            "/bitrix/app/reports/timesheet.csv", params={"month": "2026-11", "department": sales}
        )
        assert csv.status_code == 200
        text = csv.content.decode("utf-8")
        assert text.startswith("\ufeffПодразделение;")
        assert any(line.startswith("Отдел продаж;3;Мария Иванова;") for line in text.splitlines())
        downloads = await stack.rows(
            select(AuditEntry).where(AuditEntry.action == "report.timesheet")
        )
        assert len(downloads) == 3
        assert {d.actor for d in downloads} == {f"user:{ADMIN_USER}", f"user:{HEAD_USER}"}


async def test_bad_periods_are_explained_never_an_error(sqlite_url: str) -> None:
    clock = FixedClock(DECEMBER_1)
    async with admin_stack(sqlite_url, clock=clock) as stack:
        admin = await stack.login(ADMIN_USER)
        cases = [
            ({"month": "2026-13"}, "ГГГГ-ММ"),
            ({"month": "november"}, "ГГГГ-ММ"),
            ({"from": "2026-11-10", "to": "2026-11-01"}, "раньше"),
            ({"from": "2026-01-01", "to": "2026-12-31"}, "93"),
            ({"from": "2026-11-31", "to": "2026-12-01"}, "ГГГГ-ММ-ДД"),
            ({"department": "abc"}, "подразделение"),
        ]
        for params, words in cases:
            page = await admin.get("/bitrix/app/reports", params=params)
            assert page.status_code == 400, params
            assert 'id="reports-error"' in page.text, params
            assert words in page.text, params
            chart = await admin.get("/bitrix/app/reports/chart.png", params=params)
            assert chart.status_code == 400, params
        ranged = await admin.get(
            "/bitrix/app/reports/timesheet.xlsx", params={"from": "2026-11-01", "to": "2026-11-05"}
        )
        assert ranged.status_code == 400
        assert "month=ГГГГ-ММ" in ranged.text
        unknown = await admin.get(
            "/bitrix/app/reports/timesheet.csv", params={"month": "2026-11", "department": "999999"}
        )
        assert unknown.status_code == 404
        # The default is the current month in the portal's zone.
        default = await admin.get("/bitrix/app/reports")
        assert default.status_code == 200
        assert 'value="2026-12"' in default.text
