"""Builds production calendars from real sources and renders them for `timebot calendar`.

Russia: our own data (calendar_data/ru.json) for the years it holds, else the `holidays` package
plus the Labour Code rules; other countries: the package's public holidays and weekends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

from timebot.domain.calendar import DayKind, DayRule, ProductionCalendar, pre_holiday_days

__all__ = [
    "WEEK_LENGTHS",
    "CalendarData",
    "calendar_command_output",
    "calendar_for",
    "load_calendar_data",
    "render_year",
    "year_totals",
]

# The week lengths the official Russian calendar publishes norms for.
WEEK_LENGTHS: tuple[int, ...] = (40, 36, 24)

MONTH_NAMES_RU = (
    "Январь",
    "Февраль",
    "Март",
    "Апрель",
    "Май",
    "Июнь",
    "Июль",
    "Август",
    "Сентябрь",
    "Октябрь",
    "Ноябрь",
    "Декабрь",
)

Override = DayRule | tuple[DayKind | str, float | None]


@dataclass(frozen=True, slots=True)
class YearData:
    """One year of our own data: transfers (day off -> where it came from) and shortened days."""

    transfers: Mapping[date, date]
    working_weekends: frozenset[date]
    shortened: frozenset[date]
    expected: Mapping[str, float]
    source: str


@dataclass(frozen=True, slots=True)
class CalendarData:
    """A country's data file: its fixed holidays (month, day) and the years it details."""

    country: str
    weekend: frozenset[int]
    holidays: Mapping[tuple[int, int], str]
    years: Mapping[int, YearData]

    def holiday_dates(self, year: int) -> list[date]:
        """The fixed non-working holidays of `year`."""
        return [date(year, m, d) for (m, d) in self.holidays]


def _md(text: str) -> tuple[int, int]:
    month, day = text.split("-")
    return int(month), int(day)


def _on(year: int, text: str) -> date:
    return date(year, *_md(text))


@cache
def load_calendar_data(country: str) -> CalendarData | None:
    """Our data file for `country` (e.g. "RU"), or None when we ship none."""
    name = f"{country.lower()}.json"
    folder = resources.files("timebot.reports").joinpath("calendar_data")
    path = folder.joinpath(name)
    if not path.is_file():
        return None
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    years: dict[int, YearData] = {}
    for year_text, spec in raw["years"].items():
        year = int(year_text)
        # Every known transfer stays within its year (January weekends move to May or December).
        transfers = {_on(year, to): _on(year, origin) for to, origin in spec["transfers"].items()}
        years[year] = YearData(
            transfers=transfers,
            working_weekends=frozenset(_on(year, d) for d in spec["working_weekends"]),
            shortened=frozenset(_on(year, d) for d in spec["shortened"]),
            expected=dict(spec.get("expected", {})),
            source=str(spec.get("source", "")),
        )
    return CalendarData(
        country=str(raw["country"]).upper(),
        weekend=frozenset(int(w) for w in raw["weekend"]),
        holidays={_md(md): str(title) for md, title in raw["holidays"].items()},
        years=years,
    )


def _rules_from_data(data: CalendarData, year: int) -> dict[date, DayRule]:
    spec = data.years[year]
    rules: dict[date, DayRule] = {d: DayRule(DayKind.HOLIDAY) for d in data.holiday_dates(year)}
    for day_off in spec.transfers:
        rules[day_off] = DayRule(DayKind.TRANSFERRED_DAY_OFF)
    for day in spec.working_weekends:
        rules[day] = DayRule(DayKind.WORKING_WEEKEND)
    for day in spec.shortened:
        kind = DayKind.WORKING_WEEKEND if day in spec.working_weekends else DayKind.SHORTENED
        rules[day] = DayRule(kind, 7.0)
    return rules


def _is_working_by(rules: Mapping[date, DayRule], weekend: frozenset[int], d: date) -> bool:
    rule = rules.get(d)
    if rule is not None:
        return rule.length > 0
    return d.weekday() not in weekend


def _russian_transfers(year: int) -> dict[date, date]:
    """Day off -> origin for `year` from the holidays package's data, when it exposes them."""
    try:
        from holidays.countries.russia import RussiaStaticHolidays
    except ImportError:  # an older or reorganised package: shortened days lose the transfers
        return {}
    table = getattr(RussiaStaticHolidays, "special_public_holidays", {})
    entries = table.get(year, ())
    if entries and isinstance(entries[0], int):  # a single entry is stored unwrapped
        entries = (entries,)
    transfers: dict[date, date] = {}
    for entry in entries:
        if len(entry) >= 4 and all(isinstance(part, int) for part in entry[:4]):
            to_month, to_day, from_month, from_day = entry[:4]
            transfers[date(year, to_month, to_day)] = date(year, from_month, from_day)
    return transfers


def _rules_from_package(
    country: str, year: int, data: CalendarData | None
) -> tuple[dict[date, DayRule], frozenset[int]]:
    """Rules and weekend for a year we hold no data for: the `holidays` package, plus the
    Russian pre-holiday rule for RU. Unknown countries raise ValueError."""
    import holidays as holidays_package

    try:
        found = holidays_package.country_holidays(country, years=year)
    except NotImplementedError as error:
        raise ValueError(f"no production calendar for country {country!r}") from error
    weekend = frozenset(getattr(found, "weekend", None) or {5, 6})
    # For RU the package lists transfers among holidays; our list of fixed holidays tells them
    # apart. Elsewhere every listed date counts as a holiday.
    fixed = {d for d in found if data is None or (d.month, d.day) in data.holidays}
    rules: dict[date, DayRule] = {}
    for day in found:
        if day.year != year:
            continue
        kind = DayKind.HOLIDAY if day in fixed else DayKind.TRANSFERRED_DAY_OFF
        rules[day] = DayRule(kind)
    for day in getattr(found, "weekend_workdays", ()):
        if day.year == year:
            rules[day] = DayRule(DayKind.WORKING_WEEKEND)
    if data is None:
        return rules, weekend
    # Russia: the pre-holiday days. New Year's Day of the next year is a holiday too, so that
    # 31 December is shortened when it works.
    holidays_seen = [*sorted(fixed), date(year + 1, 1, 1)]
    transfers = _russian_transfers(year)
    shortened = pre_holiday_days(
        holidays_seen, lambda d: _is_working_by(rules, weekend, d), transfers
    )
    for day in shortened:
        if day.year == year:
            kind = rules[day].kind if day in rules else DayKind.SHORTENED
            rules[day] = DayRule(kind, 7.0)
    return rules, weekend


def calendar_for(
    country: str,
    years: int | Iterable[int],
    overrides: Mapping[date, Override] | None = None,
) -> ProductionCalendar:
    """The production calendar of `country` (ISO code) for `years`, with portal overrides.

    Raises ValueError for a country neither our data nor the `holidays` package knows.
    """
    code = country.strip().upper()
    wanted = sorted({years} if isinstance(years, int) else set(years))
    data = load_calendar_data(code)
    rules: dict[date, DayRule] = {}
    weekend: frozenset[int] = data.weekend if data is not None else frozenset({5, 6})
    for year in wanted:
        if data is not None and year in data.years:
            rules.update(_rules_from_data(data, year))
        else:
            year_rules, weekend = _rules_from_package(code, year, data)
            rules.update(year_rules)
    calendar = ProductionCalendar.build(code, wanted, rules, weekend=weekend)
    return calendar.with_overrides(overrides) if overrides else calendar


def render_year(calendar: ProductionCalendar, year: int) -> list[dict[str, Any]]:
    """One row per month: calendar, working and off days, shortened days, norms per week."""
    rows: list[dict[str, Any]] = []
    for month in range(1, 13):
        base = calendar.month_summary(year, month, WEEK_LENGTHS[0])
        row: dict[str, Any] = {
            "month": month,
            "name": MONTH_NAMES_RU[month - 1],
            "calendar_days": base.calendar_days,
            "working_days": base.working_days,
            "days_off": base.days_off,
            "holidays": base.holidays,
            "shortened_days": base.shortened_days,
        }
        for hours in WEEK_LENGTHS:
            row[f"norm_{hours}"] = calendar.month_summary(year, month, hours).norm_hours
        rows.append(row)
    return rows


def year_totals(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The sums of `render_year` rows (norms rounded as the official tables print them)."""
    keys = ("calendar_days", "working_days", "days_off", "holidays", "shortened_days")
    totals: dict[str, Any] = {key: 0 for key in keys}
    norms = {f"norm_{hours}": 0.0 for hours in WEEK_LENGTHS}
    for row in rows:
        for key in keys:
            totals[key] += row[key]
        for key in norms:
            norms[key] += row[key]
    totals.update({key: round(value, 2) for key, value in norms.items()})
    return totals


def _hours_text(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def calendar_command_output(country: str, year: int, as_json: bool = False) -> str:
    """The text `timebot calendar --country RU --year 2025 [--json]` prints."""
    calendar = calendar_for(country, year)
    rows = render_year(calendar, year)
    totals = year_totals(rows)
    if as_json:
        payload = {"country": calendar.country, "year": year, "months": rows, "total": totals}
        return json.dumps(payload, ensure_ascii=False, indent=2)
    header = ("Месяц", "Дней", "Раб.", "Вых.", "Сокр.", "40 ч", "36 ч", "24 ч")
    lines = [f"Производственный календарь {calendar.country} {year}", ""]
    table: list[tuple[str, ...]] = [header]
    for row in [*rows, {**totals, "name": "Итого"}]:
        table.append(
            (
                str(row["name"]),
                str(row["calendar_days"]),
                str(row["working_days"]),
                str(row["days_off"]),
                str(row["shortened_days"]),
                *(_hours_text(row[f"norm_{hours}"]) for hours in WEEK_LENGTHS),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        cells = [line[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    special = _special_days(calendar, year)
    if special:
        lines.append("")
        lines.extend(special)
    return "\n".join(lines) + "\n"


_SHORTENED_TITLE = "Сокращённые дни"
_KIND_TITLES = {
    DayKind.HOLIDAY: "Праздничные дни",
    DayKind.TRANSFERRED_DAY_OFF: "Перенесённые выходные",
    DayKind.WORKING_WEEKEND: "Рабочие выходные",
}


def _special_days(calendar: ProductionCalendar, year: int) -> list[str]:
    """Lines listing holidays, transfers, working weekends and shortened days of the year."""
    titles = (*_KIND_TITLES.values(), _SHORTENED_TITLE)
    found: dict[str, list[str]] = {title: [] for title in titles}
    day = date(year, 1, 1)
    while day.year == year:
        kind = calendar.kind(day)
        if kind in _KIND_TITLES:
            found[_KIND_TITLES[kind]].append(day.strftime("%d.%m"))
        if calendar.is_shortened(day):
            found[_SHORTENED_TITLE].append(day.strftime("%d.%m"))
        day += timedelta(days=1)
    return [f"{title}: {', '.join(days)}" for title, days in found.items() if days]
