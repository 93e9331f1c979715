"""The numbers of a seeded period (`seeded_period`) on the reports page and in
`/api/v1/statistics` and `/api/v1/violations`, pinned: both read one path
(`services.api_reports.gather_period`), so they agree person by person, and a check-in without
work (Maria's 17th, Dmitry's 40 seconds on the 10th) is no day worked on either."""

from __future__ import annotations

import html as html_lib
import re
from collections import Counter
from typing import Any

from sqlalchemy import select

from tests.e2e.admin_ops.seeded_period import NOW, SeededPeriod, seed_period
from tests.support.admin import ADMIN_USER, HEAD_USER, AdminClient, AdminStack, admin_stack
from timebot.domain.clock import FixedClock
from timebot.storage.tables import Department

MONTH = {"month": "2026-11"}
API_MONTH = {"from": "2026-11-01", "to": "2026-11-30"}
WEEK = {"from": "2026-11-09", "to": "2026-11-15"}
NORM = "159:00"  # November 2026 on a 40-hour week: 20 working days, 4 November a holiday
ABSENT = "отсутствие"

# Bitrix user id -> the reports page's cells for November: days worked, worked, difference,
# late days, violations (excused ones left out), and those by kind in the cell's title.
PAGE_MONTH: dict[int, tuple[str, str, str, str, str, str]] = {
    6: ("0", "0:00", "−159:00", "0", "11", f"{ABSENT}: 11"),
    1: ("0", "0:00", "−159:00", "0", "11", f"{ABSENT}: 11"),
    4: (
        "1",
        "8:00",
        "−150:59",  # 8 h and the 40 seconds of the 10th
        "1",
        "12",
        f"{ABSENT}: 9; опоздание: 1; ранний уход: 1; недоработка: 1",
    ),
    5: ("0", "0:00", "−159:00", "0", "11", f"{ABSENT}: 11"),
    2: ("0", "0:00", "−159:00", "0", "11", f"{ABSENT}: 11"),
    3: ("7", "51:00", "−108:00", "1", "6", f"{ABSENT}: 4; ранний уход: 1; недоработка: 1"),
    9: ("0", "0:00", "−159:00", "0", "11", f"{ABSENT}: 11"),
    7: (
        "4",
        "33:30",
        "−125:30",
        "1",
        "11",
        f"{ABSENT}: 7; вне офиса: 1; подозрительная геолокация: 1; переработка: 1; опоздание: 1",
    ),
    10: ("1", "8:00", "−151:00", "0", "10", f"{ABSENT}: 10"),
    8: ("1", "8:00", "−151:00", "1", "11", f"{ABSENT}: 10; опоздание: 1"),
}
# The same for the API (active people only): worked, break, days worked, late days, late
# minutes, absent days, open days, violations, balance to date (norm to date 5,700 minutes).
API_MONTH_ROWS: dict[int, tuple[int, ...]] = {
    6: (0, 0, 0, 0, 0, 11, 0, 11, -5700),
    1: (0, 0, 0, 0, 0, 11, 0, 11, -5700),
    4: (480, 60, 1, 1, 60, 9, 0, 12, -5220),
    5: (0, 0, 0, 0, 0, 11, 0, 11, -5700),
    2: (0, 0, 0, 0, 0, 11, 0, 11, -5700),
    3: (3060, 360, 7, 1, 40, 4, 1, 6, -2640),
    9: (0, 0, 0, 0, 0, 11, 0, 11, -5700),
    7: (2010, 240, 4, 1, 90, 7, 0, 11, -3690),
    8: (480, 0, 1, 1, 660, 10, 0, 11, -5220),
}
API_FIELDS = (
    "worked_minutes",
    "break_minutes",
    "days_worked",
    "late_days",
    "late_minutes",
    "absent_days",
    "open_days",
    "violations",
    "balance_minutes",
)
_ROW = re.compile(r'<tr data-employee="\d+" data-user="(\d+)">(.*?)</tr>', re.S)
_CELL = re.compile(r"<td\b([^>]*)>(.*?)</td>", re.S)
_TITLE = re.compile(r'title="([^"]*)"')


def page_rows(page: str) -> dict[int, tuple[str, ...]]:
    """Bitrix user id -> the statistics table's cells (text) and the violations' title."""
    rows: dict[int, tuple[str, ...]] = {}
    for user, row in _ROW.findall(page):
        cells = _CELL.findall(row)
        texts = [html_lib.unescape(text).strip() for _, text in cells]
        title = _TITLE.search(cells[-1][0])
        rows[int(user)] = (*texts, html_lib.unescape(title.group(1)) if title else "")
    return rows


def totals(page: str) -> list[str]:
    """The figures above the table: period, people, worked, norm, late days, violations."""
    block = page[page.index('id="totals"') : page.index('id="chart"')]
    return [html_lib.unescape(b) for b in re.findall(r"<b>(.*?)</b>", block)]


async def api(stack: AdminStack, seeded: SeededPeriod, path: str, params: dict[str, Any]) -> Any:
    response = await stack.clients[0].get(
        path, params=params, headers={"Authorization": f"Bearer {seeded.token}"}
    )
    assert response.status_code == 200, (path, response.text)
    return response.json()


async def report_page(admin: AdminClient, params: dict[str, Any]) -> str:
    page = await admin.get("/bitrix/app/reports", params=params)
    assert page.status_code == 200, page.text[:500]
    return page.text


async def test_the_reports_page_and_the_api_show_the_pinned_numbers(database_url: str) -> None:
    async with admin_stack(database_url, clock=FixedClock(NOW)) as stack:
        seeded = await seed_period(stack)
        admin = await stack.login(ADMIN_USER)

        month = await report_page(admin, MONTH)
        assert totals(month) == [
            "01.11.2026 – 30.11.2026",
            "10",  # Tatiana left without a mark; Pavel left after working
            "108:30",
            "1590:00",
            "4",
            "105",
        ]
        rows = page_rows(month)
        assert list(rows) == [6, 1, 4, 5, 2, 3, 9, 7, 10, 8]  # by name
        for user, (days, worked, difference, late, violations, kinds) in PAGE_MONTH.items():
            assert rows[user][2:] == (days, worked, NORM, difference, late, violations, kinds), user
        assert rows[7][1] == "Бэкенд"
        assert rows[3][1] == "Отдел продаж"

        week = await report_page(admin, WEEK)
        assert totals(week)[1:] == ["10", "97:30", "400:00", "3", "45"]
        week_rows = page_rows(week)
        assert [week_rows[u][2] for u in (3, 4, 7, 8, 10)] == ["5", "1", "4", "1", "1"]

        # A department is it and everything below it; a head sees their own.
        departments = {d.bitrix_id: d.id for d in await stack.rows(select(Department))}
        development = await report_page(admin, {**MONTH, "department": departments[3]})
        assert list(page_rows(development)) == [6, 5, 7, 8]
        assert totals(development)[1:] == ["4", "41:30", "636:00", "2", "44"]
        head = await stack.login(HEAD_USER)
        sales = page_rows(await report_page(head, MONTH))
        assert {u: r[2:] for u, r in sales.items()} == {
            u: (PAGE_MONTH[u][0], PAGE_MONTH[u][1], NORM, *PAGE_MONTH[u][2:]) for u in (4, 2, 3)
        }
        chart = await admin.get("/bitrix/app/reports/chart.png", params=MONTH)
        assert chart.status_code == 200
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")

        # The API: active people only, the same figures.
        listed = await api(stack, seeded, "/api/v1/statistics/employees", API_MONTH)
        assert listed["total"] == 9
        user_of = {e: u for u, e in seeded.employees.items()}
        by_user = {user_of[p["employee_id"]]: p for p in listed["items"]}
        assert set(by_user) == set(API_MONTH_ROWS)
        for user, expected in API_MONTH_ROWS.items():
            person = by_user[user]
            got = tuple(person[f] for f in API_FIELDS)
            assert got == expected, (user, dict(zip(API_FIELDS, got, strict=True)))
            assert (person["norm_minutes"], person["norm_to_date_minutes"]) == (9540, 5700)
            assert person["planned_days"] == 20
            # One path: the page and the API agree on every person both show.
            page_days, page_worked, _, page_late, page_violations, _ = PAGE_MONTH[user]
            assert person["days_worked"] == int(page_days), user
            assert f"{person['worked_minutes'] // 60}:{person['worked_minutes'] % 60:02d}" == (
                page_worked
            )
            assert (person["late_days"], person["violations"]) == (
                int(page_late),
                int(page_violations),
            )

        maria = await api(
            stack, seeded, f"/api/v1/statistics/employees/{seeded.employees[3]}", API_MONTH
        )
        seventeenth = maria["days"][16]
        assert (seventeenth["date"], seventeenth["worked_minutes"]) == ("2026-11-17", 0)
        assert seventeenth["first_in"] == "2026-11-17T06:00:00Z"
        assert maria["days_worked"] == 7
        pavel = await api(
            stack, seeded, f"/api/v1/statistics/employees/{seeded.employees[10]}", API_MONTH
        )
        assert (pavel["days_worked"], pavel["worked_minutes"], pavel["violations"]) == (1, 480, 10)

        by_department = {
            d["name"]: d
            for d in await api(stack, seeded, "/api/v1/statistics/departments", API_MONTH)
        }
        department_fields = (
            "people",
            "worked_minutes",
            "days_worked",
            "late_days",
            "absent_days",
            "violations",
            "balance_minutes",
        )
        assert {
            name: tuple(d[f] for f in department_fields) for name, d in by_department.items()
        } == {
            "Бэкенд": (3, 2490, 5, 2, 28, 33, -14610),  # direct members only
            "Екатеринбургский филиал": (1, 0, 0, 0, 11, 11, -5700),  # Pavel has left
            "ООО «Ромашка»": (1, 0, 0, 0, 11, 11, -5700),
            "Отдел продаж": (3, 3540, 8, 2, 24, 29, -13560),
            "Разработка": (1, 0, 0, 0, 11, 11, -5700),
        }

        violations = await api(stack, seeded, "/api/v1/violations", {**API_MONTH, "limit": 500})
        assert violations["total"] == 96
        counted = Counter((v["employee_id"], v["kind"], v["excused"]) for v in violations["items"])
        e = seeded.employees
        assert {k: n for k, n in counted.items() if k[1] != "absent"} == {
            (e[3], "late_start", True): 1,
            (e[3], "early_leave", False): 1,
            (e[3], "short_day", False): 1,
            (e[4], "late_start", False): 1,
            (e[4], "early_leave", False): 1,
            (e[4], "short_day", False): 1,
            (e[7], "outside_geofence", False): 1,
            (e[7], "suspicious_location", False): 1,
            (e[7], "overtime", False): 1,
            (e[7], "late_start", False): 1,
            (e[8], "late_start", False): 1,
        }
        assert sum(n for k, n in counted.items() if k[1] == "absent") == 85
