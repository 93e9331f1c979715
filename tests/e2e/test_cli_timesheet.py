"""`timebot timesheet` as a user runs it: a separate process on a SQLite file, writing the file.

The data is November 2025, a month in the past whenever this runs (the command reads the
real clock): 19 working days and 151 hours — Saturday the 1st worked an hour short, the 3rd a
transferred day off, the 4th a public holiday.
"""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.e2e.test_cli import TIMEBOT, _env
from tests.integration.services.test_timesheet import at, make_org

DAYS = [date(2025, 11, d) for d in range(1, 31)]
WORKING = [date(2025, 11, 1)] + [d for d in DAYS if d.weekday() < 5 and d.day not in (3, 4)]
MISSED = date(2025, 11, 5)


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tb.sqlite3'}"
    org = await make_org(url)
    try:
        await org.department(5, "Бухгалтерия", head=900)
        await org.department(8, "Склад")
        anna = await org.employee("Анна Смирнова", [5], user_id=101)
        boris = await org.employee("Борис Петров", [5], user_id=102)
        oleg = await org.employee("Олег Складской", [8], user_id=103)
        for d in WORKING:
            end = (17, 0) if d.day == 1 else (18, 0)
            await org.office_day(anna, d, (9, 0), end)
            if d != MISSED:
                await org.office_day(boris, d, (9, 0), end)
        await org.marks(oleg, (at(date(2025, 11, 6), 8), at(date(2025, 11, 6), 20)))
    finally:
        await org.db.dispose()
    return url


def timebot(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TIMEBOT, "timesheet", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path, TIMEBOT_DATABASE_URL=url),
        cwd=tmp_path,
        timeout=120,
    )


def test_xlsx_for_the_portal_is_written_with_a_sheet_per_department(
    tmp_path: Path, database: str
) -> None:
    done = timebot(tmp_path, database, "--month", "2025-11")
    assert done.returncode == 0, done.stderr
    path = tmp_path / "timesheet-2025-11.xlsx"
    assert done.stdout.strip() == f"{path.name}: 3 row(s) on 2 sheet(s)"
    book = load_workbook(path)
    assert book.sheetnames == ["Бухгалтерия", "Склад"]
    ws = book["Бухгалтерия"]
    assert ws["C2"].value == "ООО «Ромашка»"
    assert ws["C4"].value == "Ноябрь 2025 (01.11.2025 – 30.11.2025)"
    assert ws["C5"].value.startswith("151 ч, рабочих дней: 19")
    assert [ws.cell(9, 2).value, ws.cell(10, 2).value] == ["Анна Смирнова", "Борис Петров"]

    def day(row: int, d: int) -> str | None:
        return ws.cell(row, 3 + d).value  # type: ignore[no-any-return]

    assert [day(9, 1), day(9, 2), day(9, 3), day(9, 4), day(9, 5)] == ["Я 7", "В", "В", "В", "Я 8"]
    assert day(10, 5) == "НН"
    totals = [ws.cell(9, 34 + i).value for i in range(8)]
    assert totals == [19, 151, 0, 0, 151, 0, 0, 0]
    assert [ws.cell(10, 34 + i).value for i in range(8)] == [18, 143, 0, 0, 151, -8, 0, 1]
    assert book["Склад"].cell(9, 3 + 6).value == "Я 12"  # 08:00-20:00 without a break


def test_csv_for_one_department(tmp_path: Path, database: str) -> None:
    out = tmp_path / "out" / "nov.csv"
    out.parent.mkdir()
    done = timebot(
        tmp_path, database, "--month", "2025-11", "--department", "5", "--format", "csv",
        "--output", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert [r[2] for r in rows[1:]] == ["Анна Смирнова", "Борис Петров"]
    assert rows[2][2 + MISSED.day] == "НН"
    assert rows[1][33:] == ["19", "151", "0", "0", "151", "0", "0", "0"]


def test_bad_arguments_are_refused(tmp_path: Path, database: str) -> None:
    bad_month = timebot(tmp_path, database, "--month", "2025-13")
    assert bad_month.returncode == 2
    assert "YYYY-MM" in bad_month.stderr
    no_department = timebot(tmp_path, database, "--month", "2025-11", "--department", "77")
    assert no_department.returncode != 0
    assert "no department 77" in no_department.stderr
    assert not list(tmp_path.glob("timesheet-*"))
