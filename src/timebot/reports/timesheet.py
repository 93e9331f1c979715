"""The monthly timesheet as files: XLSX (a styled sheet per department) and CSV (the same grid).

A day's cell carries T-13 letter codes with hours: "Я 8" (worked in the daytime), "РВ 4"
(worked on a day off), "В" (day off), "НН" (a planned working day passed without work),
absence codes ("ОТ", "Б", ...) as they are. Night hours (22:00-06:00, art. 96 of the Labour
Code) are split off under their own code: a shift 20:00-08:00 with an hour's break is
"Я 3 / Н 8" — the day-time hours under the day's code, the night hours under "Н", so the hours
in a cell always add up to the time worked. A working day still ahead is empty.

Totals per person: days worked, hours worked, of them at night and on days off, the norm of
the days the person was planned to work, the difference, late days and "НН" days.

CSV is the grid, one row per person and department, for Russian-locale Excel: UTF-8 with a
byte-order mark (without it Excel reads the file as Windows-1251 and garbles Cyrillic), `;`
between fields (Excel takes the list separator from the locale, and in Russian locales it is
`;` because `,` is the decimal separator) and decimal commas in numbers ("7,5").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal, cast

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter

from timebot.domain.timesheet import TimesheetCell, TimesheetCode, TimesheetLine
from timebot.reports.production_calendar import MONTH_NAMES_RU
from timebot.reports.week import WEEKDAYS
from timebot.services.timesheet import MonthTimesheet, TimesheetPerson, TimesheetSection

__all__ = [
    "CODE_TITLES",
    "CSV_DELIMITER",
    "TOTAL_HEADERS",
    "LineTotals",
    "TimesheetFormat",
    "cell_text",
    "hours_text",
    "line_totals",
    "render_timesheet",
    "timesheet_csv",
    "timesheet_filename",
    "timesheet_xlsx",
]

TimesheetFormat = Literal["xlsx", "csv"]

CSV_DELIMITER: Final = ";"
XLSX_CELL_SEPARATOR: Final = "\n"
CSV_CELL_SEPARATOR: Final = " / "

# What each code means, for the legend under every sheet (form T-13 wording, shortened).
CODE_TITLES: Final[dict[TimesheetCode, str]] = {
    TimesheetCode.PRESENT: "явка, работа в дневное время",
    TimesheetCode.NIGHT: "работа в ночное время (22:00–06:00)",
    TimesheetCode.DAY_OFF_WORK: "работа в выходной или нерабочий праздничный день",
    TimesheetCode.OVERTIME: "сверхурочная работа",
    TimesheetCode.BUSINESS_TRIP: "служебная командировка",
    TimesheetCode.TRAINING: "повышение квалификации с отрывом от работы",
    TimesheetCode.VACATION: "ежегодный основной оплачиваемый отпуск",
    TimesheetCode.EXTRA_VACATION: "ежегодный дополнительный оплачиваемый отпуск",
    TimesheetCode.STUDY_LEAVE: "учебный отпуск",
    TimesheetCode.MATERNITY: "отпуск по беременности и родам",
    TimesheetCode.CHILD_CARE: "отпуск по уходу за ребёнком",
    TimesheetCode.UNPAID_LEAVE: "отпуск без сохранения заработной платы",
    TimesheetCode.SICK: "временная нетрудоспособность с пособием",
    TimesheetCode.SICK_UNPAID: "временная нетрудоспособность без пособия",
    TimesheetCode.TRUANCY: "прогул",
    TimesheetCode.DAY_OFF: "выходной или нерабочий праздничный день",
    TimesheetCode.UNEXPLAINED: "неявка по невыясненным причинам",
}

LEAD_HEADERS: Final = ("№", "Сотрудник", "Таб. №")
TOTAL_HEADERS: Final = (
    "Дней",
    "Часов",
    "Ночных, ч",
    "В выходные, ч",
    "Норма, ч",
    "Отклонение, ч",
    "Опозданий",
    "НН, дней",
)


def hours_text(minutes: int) -> str:
    """Minutes as hours to the hundredth with a decimal comma: 480 → "8", 450 → "7,5"."""
    return number_text(minutes / 60)


def number_text(value: float) -> str:
    """A number to the hundredth, no trailing zeros, decimal comma: 7.50 → "7,5"."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text.replace(".", ",")


def cell_parts(cell: TimesheetCell) -> list[str]:
    """The codes with hours of one day: ["Я 8"], ["Я 3", "Н 8"], ["В"], [] (a day ahead)."""
    if cell.code is None:
        return []
    if cell.minutes <= 0:
        return [cell.code.value]
    parts: list[str] = []
    day_minutes = cell.minutes - cell.night_minutes
    if day_minutes > 0:
        parts.append(f"{cell.code.value} {hours_text(day_minutes)}")
    if cell.night_minutes > 0:
        parts.append(f"{TimesheetCode.NIGHT.value} {hours_text(cell.night_minutes)}")
    return parts


def cell_text(cell: TimesheetCell, separator: str = CSV_CELL_SEPARATOR) -> str:
    """One day as text: "Я 8", "Я 3 / Н 8", "РВ 4", "В", "НН", or "" for a day ahead."""
    return separator.join(cell_parts(cell))


@dataclass(frozen=True, slots=True)
class LineTotals:
    """A person's month in numbers (hours to the hundredth)."""

    days: int
    hours: float
    night_hours: float
    day_off_hours: float
    norm_hours: float
    late_days: int
    unexplained_days: int

    @property
    def difference(self) -> float:
        return round(self.hours - self.norm_hours, 2)

    def values(self) -> tuple[float, ...]:
        """In the order of TOTAL_HEADERS."""
        return (
            self.days,
            self.hours,
            self.night_hours,
            self.day_off_hours,
            self.norm_hours,
            self.difference,
            self.late_days,
            self.unexplained_days,
        )


def line_totals(line: TimesheetLine, person: TimesheetPerson) -> LineTotals:
    return LineTotals(
        days=line.days_worked,
        hours=line.hours_worked,
        night_hours=round(line.night_minutes / 60, 2),
        day_off_hours=round(line.day_off_work_minutes / 60, 2),
        norm_hours=line.norm_hours,
        late_days=person.late_days,
        unexplained_days=line.codes.get(TimesheetCode.UNEXPLAINED, 0),
    )


def _sum_totals(totals: Iterable[LineTotals]) -> LineTotals:
    items = list(totals)
    return LineTotals(
        days=sum(t.days for t in items),
        hours=round(sum(t.hours for t in items), 2),
        night_hours=round(sum(t.night_hours for t in items), 2),
        day_off_hours=round(sum(t.day_off_hours for t in items), 2),
        norm_hours=round(sum(t.norm_hours for t in items), 2),
        late_days=sum(t.late_days for t in items),
        unexplained_days=sum(t.unexplained_days for t in items),
    )


def month_title(year: int, month: int) -> str:
    """ "Ноябрь 2026"."""
    return f"{MONTH_NAMES_RU[month - 1]} {year}"


def timesheet_filename(report: MonthTimesheet, fmt: TimesheetFormat) -> str:
    """ "timesheet-2026-11.xlsx", "timesheet-2026-11-dep7.csv" for one department."""
    only = (
        f"-dep{report.sections[0].department_id}"
        if len(report.sections) == 1 and report.sections[0].department_id is not None
        else ""
    )
    return f"timesheet-{report.year:04d}-{report.month:02d}{only}.{fmt}"


def render_timesheet(report: MonthTimesheet, fmt: TimesheetFormat) -> bytes:
    """The file's bytes in `fmt`."""
    if fmt == "xlsx":
        return timesheet_xlsx(report)
    if fmt == "csv":
        return timesheet_csv(report)
    raise ValueError(f"unknown timesheet format {fmt!r} (xlsx or csv)")


def _day_headers(days: Sequence[date]) -> list[str]:
    return [f"{d.day:02d}" for d in days]


# --- CSV --------------------------------------------------------------------------------------


def timesheet_csv(report: MonthTimesheet) -> bytes:
    """The grid as CSV for Excel: a header row, then one row per person and department."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    days = report.sections[0].timesheet.days if report.sections else ()
    writer.writerow(["Подразделение", "Таб. №", "Сотрудник", *_day_headers(days), *TOTAL_HEADERS])
    for section in report.sections:
        for line in section.timesheet.lines:
            person = report.people[_employee_id(line)]
            totals = line_totals(line, person)
            writer.writerow(
                [
                    section.name,
                    person.user_id,
                    person.name,
                    *(cell_text(cell) for cell in line.cells),
                    *(number_text(v) for v in totals.values()),
                ]
            )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _employee_id(line: TimesheetLine) -> int:
    return cast(int, line.employee_id)  # the service keys lines by employees.id


# --- XLSX -------------------------------------------------------------------------------------

_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=False)
_RIGHT = Alignment(horizontal="right", vertical="center")
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_MUTED = Font(color="595959")
_RED = Font(color="C00000")
_RED_BOLD = Font(color="9C0006", bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_DAY_OFF_HEADER_FILL = PatternFill("solid", fgColor="BFBFBF")
_SHORT_HEADER_FILL = PatternFill("solid", fgColor="FFF2CC")
_TOTAL_FILL = PatternFill("solid", fgColor="EDEDED")
_CODE_FILLS: Final = {
    TimesheetCode.DAY_OFF: PatternFill("solid", fgColor="F2F2F2"),
    TimesheetCode.UNEXPLAINED: PatternFill("solid", fgColor="FFC7CE"),
    TimesheetCode.DAY_OFF_WORK: PatternFill("solid", fgColor="FFEB9C"),
    TimesheetCode.TRUANCY: PatternFill("solid", fgColor="FFC7CE"),
}
_ABSENCE_FILL = PatternFill("solid", fgColor="E2EFDA")  # vacations, sick leave, trips
_NIGHT_FILL = PatternFill("solid", fgColor="DDEBF7")
_CELL: Final = {"alignment": _CENTER, "border": _BORDER}
_NUMBER: Final = {"alignment": _RIGHT, "border": _BORDER}
_SUM: Final = {**_NUMBER, "fill": _TOTAL_FILL}
# The grid's cells use named styles: assigning one copies a prepared style record, while
# setting font/fill/border per cell makes openpyxl hash style objects (4× slower at 10k rows).
_NAMED_STYLES: Final[dict[str, dict[str, Any]]] = {
    "tb-cell": _CELL,
    "tb-name": {"alignment": _LEFT, "border": _BORDER},
    "tb-number": _NUMBER,
    "tb-number-red": {**_NUMBER, "font": _RED},
    "tb-number-alert": {**_NUMBER, "font": _RED_BOLD},
    "tb-sum": {**_SUM, "font": _BOLD},
    "tb-sum-red": {**_SUM, "font": Font(color="C00000", bold=True)},
    "tb-sum-alert": {**_SUM, "font": _RED_BOLD},
    "tb-sum-label": {"border": _BORDER, "fill": _TOTAL_FILL, "font": _BOLD},
    "tb-day-off": {**_CELL, "fill": _CODE_FILLS[TimesheetCode.DAY_OFF]},
    "tb-day-unexplained": {
        **_CELL,
        "fill": _CODE_FILLS[TimesheetCode.UNEXPLAINED],
        "font": _RED_BOLD,
    },
    "tb-day-truancy": {**_CELL, "fill": _CODE_FILLS[TimesheetCode.TRUANCY], "font": _RED_BOLD},
    "tb-day-off-work": {**_CELL, "fill": _CODE_FILLS[TimesheetCode.DAY_OFF_WORK]},
    "tb-day-absence": {**_CELL, "fill": _ABSENCE_FILL},
    "tb-day-night": {**_CELL, "fill": _NIGHT_FILL},
}
_ABSENCES: Final = frozenset(TimesheetCode) - {
    TimesheetCode.PRESENT,
    TimesheetCode.NIGHT,
    TimesheetCode.DAY_OFF_WORK,
    TimesheetCode.OVERTIME,
    TimesheetCode.DAY_OFF,
    TimesheetCode.UNEXPLAINED,
    TimesheetCode.TRUANCY,
}
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_SHEET_NAME_MAX = 31
HEADER_ROW: Final = 7  # the column headings; the weekdays are in the row below


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique worksheet name (≤ 31 characters, none of []:*?/\\)."""
    base = _SHEET_NAME_BAD.sub("_", name).strip().strip("'") or "Лист"
    base = base[:_SHEET_NAME_MAX]
    title, n = base, 1
    while title.casefold() in taken:
        n += 1
        suffix = f" ({n})"
        title = base[: _SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(title.casefold())
    return title


def timesheet_xlsx(report: MonthTimesheet) -> bytes:
    """The workbook: a sheet per department with the header, the grid, totals and a legend."""
    workbook = Workbook()
    default = workbook.active
    if default is not None:
        workbook.remove(default)
    for name, parts in _NAMED_STYLES.items():
        workbook.add_named_style(NamedStyle(name=name, **parts))
    workbook.properties.creator = "timebot"
    workbook.properties.title = (
        f"Табель учёта рабочего времени, {month_title(report.year, report.month)}"
    )
    taken: set[str] = set()
    for section in report.sections or ():
        _write_sheet(workbook, report, section, sheet_title(section.name, taken))
    if not report.sections:
        _write_sheet(
            workbook,
            report,
            None,
            sheet_title(month_title(report.year, report.month), taken),
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _put(ws: Any, row: int, column: int, value: Any, **style: Any) -> Any:
    cell = ws.cell(row=row, column=column, value=value)
    for key, item in style.items():
        setattr(cell, key, item)
    return cell


def _styled(ws: Any, row: int, column: int, value: Any, style: str) -> None:
    ws.cell(row=row, column=column, value=value).style = style


def _write_sheet(
    workbook: Workbook, report: MonthTimesheet, section: TimesheetSection | None, title: str
) -> None:
    ws = workbook.create_sheet(title)
    days: tuple[date, ...] = section.timesheet.days if section is not None else ()
    lead = len(LEAD_HEADERS)
    day_col = lead + 1
    total_col = day_col + len(days)
    last_col = total_col + len(TOTAL_HEADERS) - 1

    # The header: what, whose, when, and the norm.
    _put(ws, 1, 1, "Табель учёта рабочего времени", font=_TITLE)
    _put(ws, 2, 1, "Организация:", font=_MUTED)
    _put(ws, 2, 3, report.organisation, font=_BOLD)
    _put(ws, 3, 1, "Подразделение:", font=_MUTED)
    _put(ws, 3, 3, section.name if section is not None else "—", font=_BOLD)
    _put(ws, 4, 1, "Период:", font=_MUTED)
    period = month_title(report.year, report.month)
    if days:
        period += f" ({days[0]:%d.%m.%Y} – {days[-1]:%d.%m.%Y})"
    _put(ws, 4, 3, period, font=_BOLD)
    _put(ws, 5, 1, "Норма:", font=_MUTED)
    _put(
        ws,
        5,
        3,
        f"{number_text(report.calendar_norm_hours)} ч, рабочих дней: {report.working_days} "
        "(производственный календарь, 40-часовая неделя)",
        font=_BOLD,
    )
    generated = report.generated_at.strftime("%d.%m.%Y %H:%M UTC")
    _put(ws, 5, total_col, f"Сформирован {generated}", font=_MUTED)

    # Column headings: lead columns and totals span two rows; days show number and weekday.
    head, sub = HEADER_ROW, HEADER_ROW + 1
    for i, text in enumerate(LEAD_HEADERS, start=1):
        _put(ws, head, i, text, font=_BOLD, fill=_HEADER_FILL, alignment=_CENTER, border=_BORDER)
        _put(ws, sub, i, None, fill=_HEADER_FILL, border=_BORDER)
        ws.merge_cells(start_row=head, start_column=i, end_row=sub, end_column=i)
    weekdays = WEEKDAYS["ru"]
    for offset, d in enumerate(days):
        column = day_col + offset
        fill = (
            _DAY_OFF_HEADER_FILL
            if d in report.days_off
            else _SHORT_HEADER_FILL
            if d in report.shortened
            else _HEADER_FILL
        )
        _put(ws, head, column, d.day, font=_BOLD, fill=fill, alignment=_CENTER, border=_BORDER)
        label = weekdays[d.weekday()] + ("*" if d in report.shortened else "")
        _put(ws, sub, column, label, fill=fill, alignment=_CENTER, border=_BORDER)
    for offset, text in enumerate(TOTAL_HEADERS):
        column = total_col + offset
        _put(
            ws, head, column, text, font=_BOLD, fill=_HEADER_FILL, alignment=_CENTER, border=_BORDER
        )
        _put(ws, sub, column, None, fill=_HEADER_FILL, border=_BORDER)
        ws.merge_cells(start_row=head, start_column=column, end_row=sub, end_column=column)

    # One row per person.
    row = sub + 1
    totals: list[LineTotals] = []
    used: set[TimesheetCode] = {
        TimesheetCode.PRESENT,
        TimesheetCode.DAY_OFF,
        TimesheetCode.UNEXPLAINED,
    }
    lines: Sequence[TimesheetLine] = section.timesheet.lines if section is not None else ()
    for number, line in enumerate(lines, start=1):
        person = report.people[_employee_id(line)]
        _styled(ws, row, 1, number, "tb-cell")
        _styled(ws, row, 2, person.name, "tb-name")
        _styled(ws, row, 3, person.user_id, "tb-cell")
        tall = False
        for offset, cell in enumerate(line.cells):
            parts = cell_parts(cell)
            shown = XLSX_CELL_SEPARATOR.join(parts) or None
            _styled(ws, row, day_col + offset, shown, _day_style(cell))
            if cell.code is not None:
                used.add(cell.code)
            if cell.night_minutes > 0:
                used.add(TimesheetCode.NIGHT)
            tall = tall or len(parts) > 1
        line_total = line_totals(line, person)
        totals.append(line_total)
        _write_totals(ws, row, total_col, line_total, prefix="tb-number")
        if tall:
            ws.row_dimensions[row].height = 30
        row += 1

    # The sheet's sum.
    for column in range(1, total_col):
        _styled(ws, row, column, None, "tb-sum-label")
    ws.cell(row=row, column=2).value = f"Итого: {len(lines)} чел."
    _write_totals(ws, row, total_col, _sum_totals(totals), prefix="tb-sum")

    # The legend: the codes this sheet uses.
    row += 2
    _put(ws, row, 2, "Условные обозначения:", font=_BOLD)
    for code in TimesheetCode:
        if code in used:
            row += 1
            _put(ws, row, 2, f"{code.value} — {CODE_TITLES[code]}")
    row += 1
    _put(
        ws,
        row,
        2,
        "Часы ночной работы указаны отдельно под кодом Н; * — предпраздничный сокращённый день; "
        "пустая клетка — рабочий день ещё не наступил.",
        font=_MUTED,
    )

    # Widths, frozen headings, printing.
    ws.column_dimensions["A"].width = 5
    ws.column_dimensions["B"].width = 32
    ws.column_dimensions["C"].width = 9
    for offset in range(len(days)):
        ws.column_dimensions[get_column_letter(day_col + offset)].width = 6.5
    for offset in range(len(TOTAL_HEADERS)):
        ws.column_dimensions[get_column_letter(total_col + offset)].width = 11
    ws.row_dimensions[head].height = 30
    ws.freeze_panes = ws.cell(row=sub + 1, column=day_col)
    ws.print_title_rows = f"{head}:{sub}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_area = f"A1:{get_column_letter(last_col)}{row}"


def _day_style(cell: TimesheetCell) -> str:
    code = cell.code
    if code is TimesheetCode.DAY_OFF:
        return "tb-day-off"
    if code is TimesheetCode.UNEXPLAINED:
        return "tb-day-unexplained"
    if code is TimesheetCode.TRUANCY:
        return "tb-day-truancy"
    if code is TimesheetCode.DAY_OFF_WORK:
        return "tb-day-off-work"
    if code in _ABSENCES:
        return "tb-day-absence"
    if cell.night_minutes > 0:
        return "tb-day-night"
    return "tb-cell"


def _write_totals(ws: Any, row: int, column: int, totals: LineTotals, *, prefix: str) -> None:
    """The totals columns; `prefix` is "tb-number" for a person, "tb-sum" for the sum row."""
    for offset, value in enumerate(totals.values()):
        style = prefix
        if TOTAL_HEADERS[offset] == "Отклонение, ч" and value < 0:
            style = f"{prefix}-red"
        elif TOTAL_HEADERS[offset] == "НН, дней" and value > 0:
            style = f"{prefix}-alert"
        _styled(ws, row, column + offset, value, style)
