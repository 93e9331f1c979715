"""The production calendar: what kind of day each date is (working, weekend, holiday, shortened,
transferred day off, working weekend) and the norm of working hours it carries.

Pure data and arithmetic; adapters (reports/production_calendar.py) fill it from real sources.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

__all__ = [
    "FULL_DAY_HOURS",
    "DayKind",
    "DayRule",
    "MonthNorm",
    "ProductionCalendar",
    "pre_holiday_days",
]

# The day length of a 40-hour five-day week; day rules store their length on this scale.
FULL_DAY_HOURS = 8.0


class DayKind(StrEnum):
    """What a date is in the production calendar."""

    WORKING = "working"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # a non-working public holiday (art. 112 of the Russian Labour Code)
    SHORTENED = "shortened"  # a pre-holiday working day, one hour shorter (art. 95)
    TRANSFERRED_DAY_OFF = "transferred_day_off"  # a weekday made a day off by a transfer
    WORKING_WEEKEND = "working_weekend"  # a Saturday/Sunday made a working day by a transfer

    @property
    def is_working(self) -> bool:
        """Whether people on a standard week work on a day of this kind."""
        return self in _WORKING_KINDS


_WORKING_KINDS = frozenset({DayKind.WORKING, DayKind.SHORTENED, DayKind.WORKING_WEEKEND})


@dataclass(frozen=True, slots=True)
class DayRule:
    """An exception to the weekly rhythm for one date.

    `hours` is the day's length on the 40-hour scale (8 = full, 7 = shortened by an hour, 0 for
    days off); None means "as the kind says". Other week lengths keep the same shortening, as the
    Labour Code cuts a pre-holiday day by one hour whatever the week.
    """

    kind: DayKind
    hours: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DayKind(self.kind))
        if self.hours is not None and not 0 <= self.hours <= 24:
            raise ValueError(f"day length must be within 0..24 hours, got {self.hours}")

    @property
    def length(self) -> float:
        """The day's length on the 40-hour scale."""
        if self.hours is not None:
            return float(self.hours) if self.kind.is_working else 0.0
        if self.kind is DayKind.SHORTENED:
            return FULL_DAY_HOURS - 1
        return FULL_DAY_HOURS if self.kind.is_working else 0.0


@dataclass(frozen=True, slots=True)
class MonthNorm:
    """A month of the production calendar for one week length.

    `norm_hours` follows the official method: week_hours / 5 x working days, minus the hours
    cut from shortened days.
    """

    year: int
    month: int
    week_hours: float
    calendar_days: int
    working_days: int
    days_off: int  # weekends, holidays and transferred days off
    holidays: int  # non-working public holidays among the days off
    shortened_days: int
    norm_hours: float


def _round_hours(value: float) -> float:
    # Norms are published to a tenth of an hour; two places absorb float noise in 36/24-hour sums.
    return round(value, 2)


@dataclass(frozen=True, slots=True)
class ProductionCalendar:
    """A country's calendar of working days, indexed by year.

    Dates without a rule follow the weekly rhythm (`weekend` holds the weekday numbers of the
    weekend, Monday = 0). `years` names the years the rules were built for; `covers` tells
    whether a date falls in one of them (elsewhere only the weekly rhythm is known).
    """

    country: str
    years: frozenset[int]
    rules: Mapping[int, Mapping[date, DayRule]] = field(default_factory=dict)
    weekend: frozenset[int] = frozenset({5, 6})

    @classmethod
    def build(
        cls,
        country: str,
        years: Iterable[int],
        rules: Mapping[date, DayRule],
        *,
        weekend: Iterable[int] = (5, 6),
    ) -> ProductionCalendar:
        """A calendar for `years` from date rules (rules outside those years are kept too)."""
        by_year: dict[int, dict[date, DayRule]] = {}
        for day, rule in rules.items():
            by_year.setdefault(day.year, {})[day] = rule
        return cls(
            country=country.upper(),
            years=frozenset(years),
            rules=by_year,
            weekend=frozenset(weekend),
        )

    def covers(self, d: date) -> bool:
        """Whether `d` lies in a year this calendar was built for."""
        return d.year in self.years

    def rule(self, d: date) -> DayRule:
        """The rule for `d`: its exception, or the weekly rhythm."""
        found = self.rules.get(d.year, {}).get(d)
        if found is not None:
            return found
        return DayRule(DayKind.WEEKEND if d.weekday() in self.weekend else DayKind.WORKING)

    def kind(self, d: date) -> DayKind:
        """What kind of day `d` is."""
        return self.rule(d).kind

    def is_working(self, d: date) -> bool:
        """Whether `d` is a working day for people on a standard week."""
        return self.rule(d).length > 0

    def is_shortened(self, d: date) -> bool:
        """Whether `d` is a working day shorter than a full one (pre-holiday)."""
        length = self.rule(d).length
        return 0 < length < FULL_DAY_HOURS

    def cut_hours(self, d: date) -> float:
        """How many hours a working day `d` is shorter than a full day (0 on days off)."""
        length = self.rule(d).length
        return FULL_DAY_HOURS - length if length > 0 else 0.0

    def norm_hours(self, d: date, week_hours: float = 40) -> float:
        """The norm of working hours on `d` for a five-day week of `week_hours` hours."""
        if week_hours <= 0:
            raise ValueError(f"week_hours must be positive, got {week_hours}")
        if not self.is_working(d):
            return 0.0
        return _round_hours(max(week_hours / 5 - self.cut_hours(d), 0.0))

    def month_days(self, year: int, month: int) -> list[date]:
        """Every date of the month, in order."""
        count = _stdlib_calendar.monthrange(year, month)[1]
        first = date(year, month, 1)
        return [first + timedelta(days=i) for i in range(count)]

    def month_summary(self, year: int, month: int, week_hours: float = 40) -> MonthNorm:
        """Working days, days off and the norm of hours for a month."""
        if week_hours <= 0:
            raise ValueError(f"week_hours must be positive, got {week_hours}")
        days = self.month_days(year, month)
        working = shortened = holidays = 0
        cut = 0.0
        for d in days:
            rule = self.rule(d)
            if rule.kind is DayKind.HOLIDAY:
                holidays += 1
            if rule.length > 0:
                working += 1
                day_cut = FULL_DAY_HOURS - rule.length
                if day_cut > 0:
                    shortened += 1
                    # A day cannot be cut below nothing, whatever the week length.
                    cut += min(day_cut, week_hours / 5)
        return MonthNorm(
            year=year,
            month=month,
            week_hours=week_hours,
            calendar_days=len(days),
            working_days=working,
            days_off=len(days) - working,
            holidays=holidays,
            shortened_days=shortened,
            norm_hours=_round_hours(week_hours / 5 * working - cut),
        )

    def year_summary(self, year: int, week_hours: float = 40) -> list[MonthNorm]:
        """`month_summary` for every month of `year`."""
        return [self.month_summary(year, m, week_hours) for m in range(1, 13)]

    def with_overrides(
        self, overrides: Mapping[date, DayRule | tuple[DayKind | str, float | None]]
    ) -> ProductionCalendar:
        """A copy in which the given dates follow the portal's own rules.

        A value is a DayRule or a `(kind, hours)` pair; hours None means "as the kind says".
        """
        by_year = {year: dict(days) for year, days in self.rules.items()}
        for day, value in overrides.items():
            rule = value if isinstance(value, DayRule) else DayRule(DayKind(value[0]), value[1])
            by_year.setdefault(day.year, {})[day] = rule
        return ProductionCalendar(
            country=self.country, years=self.years, rules=by_year, weekend=self.weekend
        )


def pre_holiday_days(
    holidays: Iterable[date],
    is_working: Callable[[date], bool],
    transfers: Mapping[date, date],
) -> frozenset[date]:
    """The working days shortened by an hour before non-working holidays (Russian rules).

    Art. 95 of the Labour Code shortens the working day immediately before a holiday. When that
    day was itself made a day off by a transfer from a weekend day (`transfers` maps the day off
    to the day it came from), the weekend day that now works in its place is shortened instead,
    as in the official calendars (1 November 2025, 2 November 2024). A day off that came from a
    holiday (the New Year weekends) passes nothing on.
    """
    shortened: set[date] = set()
    for holiday in holidays:
        before = holiday - timedelta(days=1)
        if is_working(before):
            shortened.add(before)
            continue
        origin = transfers.get(before)
        if origin is not None and is_working(origin):
            shortened.add(origin)
    return frozenset(shortened)
