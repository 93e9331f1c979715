"""The timesheet files: the XLSX opens in openpyxl with the header, codes, totals and legend in
their cells; the CSV is what Russian-locale Excel reads (BOM, `;`, decimal commas)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from timebot.domain.timesheet import TimesheetBuilder, TimesheetCell, TimesheetCode
from timebot.reports.production_calendar import calendar_for
from timebot.reports.timesheet import (
    TOTAL_HEADERS,
    cell_text,
    hours_text,
    render_timesheet,
    sheet_title,
    timesheet_csv,
    timesheet_filename,
    timesheet_xlsx,
)
from timebot.services.timesheet import MonthTimesheet, TimesheetPerson, TimesheetSection

NOV = [date(2026, 11, d) for d in range(1, 31)]
HOLIDAY = date(2026, 11, 4)  # National Unity Day, a Wednesday
SHORT = date(2026, 11, 3)  # the day before it, an hour shorter
NIGHT = date(2026, 11, 10)
MISSED = date(2026, 11, 2)
VACATION = (date(2026, 11, 16), date(2026, 11, 20))
ANNA, PETR = 11, 12


def _report() -> MonthTimesheet:
    calendar = calendar_for("RU", 2026)
    builder = TimesheetBuilder(2026, 11, calendar, today=date(2026, 12, 1))
    working = [d for d in NOV if calendar.is_working(d)]
    assert len(working) == 20  # the official November 2026
    for d in working:
        minutes = 420 if d == SHORT else 480
        if d == NIGHT:  # 20:00-07:00 with an hour's break: 2 h by day, 8 h at night
            builder.add_work(ANNA, d, 600, 480)
        else:
            builder.add_work(ANNA, d, minutes)
        if d != MISSED and not VACATION[0] <= d <= VACATION[1]:
            builder.add_work(PETR, d, minutes)
    builder.add_work(ANNA, HOLIDAY, 240)
    builder.add_absence(PETR, *VACATION, TimesheetCode.VACATION)
    sheet = builder.build()
    by_id = {line.employee_id: line for line in sheet.lines}
    people = {
        ANNA: TimesheetPerson(ANNA, 101, "Анна Смирнова", (5,), late_days=0),
        PETR: TimesheetPerson(PETR, 102, "Пётр Иванов", (5, 6), late_days=2),
    }
    sections = (
        TimesheetSection(
            5, "Бухгалтерия", sheet.__class__(2026, 11, sheet.days, (by_id[ANNA], by_id[PETR]), 159)
        ),
        TimesheetSection(
            6, "Склад: смена [А]", sheet.__class__(2026, 11, sheet.days, (by_id[PETR],), 159)
        ),
    )
    return MonthTimesheet(
        portal_id=1,
        organisation="ООО «Ромашка»",
        year=2026,
        month=11,
        working_days=20,
        calendar_norm_hours=159,
        days_off=frozenset(d for d in NOV if not calendar.is_working(d)),
        shortened=frozenset({SHORT}),
        sections=sections,
        people=people,
        generated_at=datetime(2026, 12, 1, 7, 30, tzinfo=UTC),
    )


def _column(d: date) -> int:
    return 3 + d.day  # №, name, personnel number, then the days


def test_cell_texts_carry_codes_and_hours() -> None:
    assert cell_text(TimesheetCell(TimesheetCode.PRESENT, 480)) == "Я 8"
    assert cell_text(TimesheetCell(TimesheetCode.PRESENT, 450)) == "Я 7,5"
    assert cell_text(TimesheetCell(TimesheetCode.PRESENT, 600, 480)) == "Я 2 / Н 8"
    assert cell_text(TimesheetCell(TimesheetCode.PRESENT, 420, 420)) == "Н 7"
    assert cell_text(TimesheetCell(TimesheetCode.DAY_OFF_WORK, 245)) == "РВ 4,08"
    assert cell_text(TimesheetCell(TimesheetCode.UNEXPLAINED)) == "НН"
    assert cell_text(TimesheetCell(None)) == ""
    assert hours_text(0) == "0"


def test_xlsx_has_a_sheet_per_department_with_header_grid_and_totals() -> None:
    book = load_workbook(io.BytesIO(timesheet_xlsx(_report())))
    # "[", "]" and ":" are not allowed in sheet names.
    assert book.sheetnames == ["Бухгалтерия", "Склад_ смена _А_"]
    ws = book["Бухгалтерия"]
    assert ws["A1"].value == "Табель учёта рабочего времени"
    assert ws["C2"].value == "ООО «Ромашка»"
    assert ws["C3"].value == "Бухгалтерия"
    assert ws["C4"].value == "Ноябрь 2026 (01.11.2026 – 30.11.2026)"
    assert ws["C5"].value.startswith("159 ч, рабочих дней: 20")
    # Headings: the days with weekdays; the shortened day starred, then the totals.
    assert [ws.cell(7, _column(d)).value for d in NOV] == list(range(1, 31))
    assert ws.cell(8, _column(date(2026, 11, 2))).value == "Пн"
    assert ws.cell(8, _column(SHORT)).value == "Вт*"
    totals_at = _column(NOV[-1]) + 1
    assert [ws.cell(7, totals_at + i).value for i in range(len(TOTAL_HEADERS))] == list(
        TOTAL_HEADERS
    )
    assert ws.freeze_panes == "D9"

    anna, petr = 9, 10
    assert (ws.cell(anna, 2).value, ws.cell(anna, 3).value) == ("Анна Смирнова", 101)
    assert ws.cell(anna, _column(date(2026, 11, 2))).value == "Я 8"
    assert ws.cell(anna, _column(SHORT)).value == "Я 7"
    assert ws.cell(anna, _column(HOLIDAY)).value == "РВ 4"
    assert ws.cell(anna, _column(NIGHT)).value == "Я 2\nН 8"
    assert ws.cell(anna, _column(date(2026, 11, 1))).value == "В"
    assert ws.cell(petr, _column(MISSED)).value == "НН"
    assert ws.cell(petr, _column(HOLIDAY)).value == "В"
    assert ws.cell(petr, _column(date(2026, 11, 18))).value == "ОТ"
    assert ws.cell(petr, _column(MISSED)).fill.fgColor.rgb.endswith("FFC7CE")

    def totals(row: int) -> list[float]:
        return [ws.cell(row, totals_at + i).value for i in range(len(TOTAL_HEADERS))]

    # Anna: 19 days x 8 h + 7 h (159) + 2 h extra on the night + 4 h on the holiday.
    assert totals(anna) == [21, 165, 8, 4, 159, 6, 0, 0]
    # Petr: 20 working days less one missed and five on vacation; 13 x 8 h + 7 h.
    assert totals(petr) == [14, 111, 0, 0, 159, -48, 2, 1]
    assert ws.cell(petr, totals_at + 5).font.color.rgb.endswith("C00000")
    assert ws.cell(11, 2).value == "Итого: 2 чел."
    assert totals(11) == [35, 276, 8, 4, 318, -42, 2, 1]
    legend = [ws.cell(r, 2).value for r in range(13, ws.max_row + 1)]
    assert legend[0] == "Условные обозначения:"
    for code in ("Я", "Н", "РВ", "ОТ", "В", "НН"):
        assert any(str(text).startswith(f"{code} — ") for text in legend), code

    other = book["Склад_ смена _А_"]
    assert other["C3"].value == "Склад: смена [А]"
    assert other.cell(9, 2).value == "Пётр Иванов"
    assert other.cell(10, 2).value == "Итого: 1 чел."


def test_csv_is_a_semicolon_grid_with_a_bom_for_excel() -> None:
    data = timesheet_csv(_report())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    assert header[:3] == ["Подразделение", "Таб. №", "Сотрудник"]
    assert header[3:33] == [f"{d:02d}" for d in range(1, 31)]
    assert header[33:] == list(TOTAL_HEADERS)
    body = {(r[0], r[2]): r for r in rows[1:]}
    assert list(body) == [
        ("Бухгалтерия", "Анна Смирнова"),
        ("Бухгалтерия", "Пётр Иванов"),
        ("Склад: смена [А]", "Пётр Иванов"),
    ]
    anna = body[("Бухгалтерия", "Анна Смирнова")]
    assert anna[1] == "101"
    assert anna[2 + NIGHT.day] == "Я 2 / Н 8"
    assert anna[2 + HOLIDAY.day] == "РВ 4"
    assert anna[33:] == ["21", "165", "8", "4", "159", "6", "0", "0"]
    petr = body[("Склад: смена [А]", "Пётр Иванов")]
    assert petr[2 + MISSED.day] == "НН"
    assert petr[33:] == ["14", "111", "0", "0", "159", "-48", "2", "1"]


def test_fractional_hours_use_a_decimal_comma_in_csv() -> None:
    report = _report()
    builder = TimesheetBuilder(2026, 11, calendar_for("RU", 2026), today=date(2026, 11, 3))
    builder.add_work(ANNA, date(2026, 11, 2), timedelta(hours=7, minutes=45))
    sheet = builder.build()
    section = TimesheetSection(5, "Бухгалтерия", sheet)
    report = replace(report, sections=(section,))
    row = list(csv.reader(io.StringIO(timesheet_csv(report).decode("utf-8-sig")), delimiter=";"))[1]
    assert row[2 + 2] == "Я 7,75"
    assert row[2 + 3] == ""  # today and later: nothing to mark yet
    assert row[33:36] == ["1", "7,75", "0"]
    assert row[37] == "159"  # the month's norm counts the days ahead too
    assert row[38] == "-151,25"


def test_sheet_titles_are_valid_and_unique() -> None:
    taken: set[str] = set()
    assert sheet_title("Отдел продаж", taken) == "Отдел продаж"
    assert sheet_title("отдел продаж", taken) == "отдел продаж (2)"
    long = sheet_title("Очень длинное название подразделения компании", taken)
    assert len(long) == 31
    assert sheet_title("", taken) == "Лист"


def test_render_and_filename() -> None:
    report = _report()
    assert render_timesheet(report, "csv") == timesheet_csv(report)
    assert render_timesheet(report, "xlsx")[:2] == b"PK"  # a zip container
    assert timesheet_filename(report, "xlsx") == "timesheet-2026-11.xlsx"
    with pytest.raises(ValueError, match="unknown timesheet format"):
        render_timesheet(report, "pdf")  # type: ignore[arg-type]
