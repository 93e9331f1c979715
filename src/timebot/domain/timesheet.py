"""The monthly timesheet (form T-13 letter codes): a grid of employees by days with hours and
codes, totals and norms, built in one pass over rows so it scales to many thousand people.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.schedules import Expectation
from timebot.domain.timezones import as_utc
from timebot.domain.workday import WorkDay

__all__ = [
    "NIGHT_END",
    "NIGHT_START",
    "NUMERIC_CODES",
    "Timesheet",
    "TimesheetBuilder",
    "TimesheetCell",
    "TimesheetCode",
    "TimesheetLine",
    "build_timesheet",
    "night_minutes",
]


class TimesheetCode(StrEnum):
    """Letter codes of the unified form T-13 (Goskomstat resolution No. 1 of 05.01.2004)."""

    PRESENT = "Я"  # явка: work in the daytime
    NIGHT = "Н"  # работа в ночное время
    DAY_OFF_WORK = "РВ"  # работа в выходные и нерабочие праздничные дни
    OVERTIME = "С"  # сверхурочная работа
    BUSINESS_TRIP = "К"  # служебная командировка
    TRAINING = "ПК"  # повышение квалификации с отрывом от работы
    VACATION = "ОТ"  # ежегодный основной оплачиваемый отпуск
    EXTRA_VACATION = "ОД"  # ежегодный дополнительный оплачиваемый отпуск
    STUDY_LEAVE = "У"  # учебный отпуск с сохранением заработка
    MATERNITY = "Р"  # отпуск по беременности и родам
    CHILD_CARE = "ОЖ"  # отпуск по уходу за ребёнком до трёх лет
    UNPAID_LEAVE = "ДО"  # отпуск без сохранения заработной платы с разрешения работодателя
    SICK = "Б"  # временная нетрудоспособность с назначением пособия
    SICK_UNPAID = "Т"  # временная нетрудоспособность без назначения пособия
    TRUANCY = "ПР"  # прогул
    DAY_OFF = "В"  # выходные и нерабочие праздничные дни
    UNEXPLAINED = "НН"  # неявка по невыясненным причинам


# The numeric twins of the letter codes on the same form.
NUMERIC_CODES: Mapping[TimesheetCode, str] = {
    TimesheetCode.PRESENT: "01",
    TimesheetCode.NIGHT: "02",
    TimesheetCode.DAY_OFF_WORK: "03",
    TimesheetCode.OVERTIME: "04",
    TimesheetCode.BUSINESS_TRIP: "06",
    TimesheetCode.TRAINING: "07",
    TimesheetCode.VACATION: "09",
    TimesheetCode.EXTRA_VACATION: "10",
    TimesheetCode.STUDY_LEAVE: "11",
    TimesheetCode.MATERNITY: "14",
    TimesheetCode.CHILD_CARE: "15",
    TimesheetCode.UNPAID_LEAVE: "16",
    TimesheetCode.SICK: "19",
    TimesheetCode.SICK_UNPAID: "20",
    TimesheetCode.TRUANCY: "24",
    TimesheetCode.DAY_OFF: "26",
    TimesheetCode.UNEXPLAINED: "30",
}

# Night time by art. 96 of the Labour Code: 22:00 to 06:00 local.
NIGHT_START = time(22)
NIGHT_END = time(6)


def night_minutes(work_day: WorkDay, tz: ZoneInfo) -> int:
    """Whole minutes of `work_day` worked at night (22:00-06:00 local in `tz`), breaks excluded."""
    total = timedelta()
    for interval in work_day.work_intervals:
        first = interval.start.astimezone(tz).date() - timedelta(days=1)
        last = interval.end.astimezone(tz).date()
        d = first
        while d <= last:
            night_from = as_utc(datetime.combine(d, NIGHT_START, tzinfo=tz))
            night_to = as_utc(datetime.combine(d + timedelta(days=1), NIGHT_END, tzinfo=tz))
            overlap = min(interval.end, night_to) - max(interval.start, night_from)
            if overlap > timedelta():
                total += overlap
            d += timedelta(days=1)
    return int(total // timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class TimesheetCell:
    """One employee's day: the code, minutes worked and of them at night. `code` is None for a
    working day still ahead (nothing to mark yet)."""

    code: TimesheetCode | None
    minutes: int = 0
    night_minutes: int = 0

    @property
    def hours(self) -> float:
        """Worked hours, to the hundredth."""
        return round(self.minutes / 60, 2)


@dataclass(frozen=True, slots=True)
class TimesheetLine:
    """One employee's month: the cells (one per day) and the totals."""

    employee_id: Hashable
    cells: tuple[TimesheetCell, ...]
    days_worked: int
    minutes_worked: int
    night_minutes: int
    day_off_work_minutes: int
    norm_hours: float  # the norm of the days the person was planned to work
    codes: Mapping[TimesheetCode, int]  # days per code

    @property
    def hours_worked(self) -> float:
        return round(self.minutes_worked / 60, 2)


@dataclass(frozen=True, slots=True)
class Timesheet:
    """The month's grid: `days` are the columns, `lines` the employees in order of first sight."""

    year: int
    month: int
    days: tuple[date, ...]
    lines: tuple[TimesheetLine, ...]
    calendar_norm_hours: float  # the month's norm for the default week


@dataclass(slots=True)
class _Draft:
    worked: list[int]
    night: list[int]
    absence: list[TimesheetCode | None]
    plan: list[float | None]  # the day's norm when planned by a schedule; -1.0 = day off
    week_hours: float


_DAY_OFF_PLAN = -1.0


@dataclass(slots=True)
class TimesheetBuilder:
    """Collects rows for one month and builds the Timesheet; every `add_*` is O(1) per day.

    Without a schedule plan a person works the calendar's working days (norms for their
    `week_hours`); `add_expectation` replaces that plan date by date. The cell of a day is, in
    order: worked time (Я on planned days, РВ on days off), an absence code, НН for a planned
    working day already past without work, В for a day off; a planned day not yet past is empty.
    """

    year: int
    month: int
    calendar: ProductionCalendar
    today: date | None = None
    week_hours: float = 40
    _days: tuple[date, ...] = field(init=False)
    _index: dict[date, int] = field(init=False)
    _drafts: dict[Hashable, _Draft] = field(init=False)
    _base: dict[float, tuple[list[bool], list[float]]] = field(init=False)

    def __post_init__(self) -> None:
        self._days = tuple(self.calendar.month_days(self.year, self.month))
        self._index = {d: i for i, d in enumerate(self._days)}
        self._drafts = {}
        self._base = {}

    def _base_for(self, week_hours: float) -> tuple[list[bool], list[float]]:
        # The calendar plan is shared by everyone with the same week: computed once per month.
        found = self._base.get(week_hours)
        if found is None:
            working = [self.calendar.is_working(d) for d in self._days]
            norms = [self.calendar.norm_hours(d, week_hours) for d in self._days]
            found = self._base[week_hours] = (working, norms)
        return found

    def _draft(self, employee_id: Hashable) -> _Draft:
        draft = self._drafts.get(employee_id)
        if draft is None:
            n = len(self._days)
            draft = self._drafts[employee_id] = _Draft(
                [0] * n, [0] * n, [None] * n, [None] * n, self.week_hours
            )
        return draft

    def add_employee(self, employee_id: Hashable, *, week_hours: float | None = None) -> None:
        """Make sure the employee has a line (even with no rows) and set their week length."""
        draft = self._draft(employee_id)
        if week_hours is not None:
            draft.week_hours = week_hours

    def add_work(
        self,
        employee_id: Hashable,
        local_date: date,
        minutes: int | timedelta,
        night_minutes: int | timedelta = 0,
    ) -> None:
        """Add worked time counted for `local_date` (several rows per day add up)."""
        i = self._index.get(local_date)
        draft = self._draft(employee_id)
        if i is None:
            return
        draft.worked[i] += _as_minutes(minutes)
        draft.night[i] += _as_minutes(night_minutes)

    def add_day_totals(
        self, employee_id: Hashable, totals: Iterable[tuple[date, int, int, int]]
    ) -> None:
        """Add work days as `domain.tally` gives them: (local date, start, minutes worked,
        night minutes); days outside the month are left out."""
        draft = self._draft(employee_id)
        index, worked, night = self._index, draft.worked, draft.night
        for local_date, _, minutes, night_minutes in totals:
            i = index.get(local_date)
            if i is not None:
                worked[i] += minutes
                night[i] += night_minutes

    def add_work_day(self, employee_id: Hashable, work_day: WorkDay, tz: ZoneInfo) -> None:
        """Add a closed or open work day (its worked time and night minutes)."""
        self.add_work(
            employee_id, work_day.local_date, work_day.worked, night_minutes(work_day, tz)
        )

    def add_absence(
        self, employee_id: Hashable, first_day: date, last_day: date, code: TimesheetCode
    ) -> None:
        """Mark an absence (vacation, sick leave, trip...) on the days of the month it covers."""
        draft = self._draft(employee_id)
        start = max(first_day, self._days[0])
        end = min(last_day, self._days[-1])
        d = start
        while d <= end:
            draft.absence[self._index[d]] = TimesheetCode(code)
            d += timedelta(days=1)

    def add_expectation(
        self, employee_id: Hashable, local_date: date, expectation: Expectation | None
    ) -> None:
        """Plan `local_date` by the person's schedule (None: a day off by the schedule)."""
        i = self._index.get(local_date)
        draft = self._draft(employee_id)
        if i is None:
            return
        draft.plan[i] = _DAY_OFF_PLAN if expectation is None else expectation.norm_hours

    def add_expectations(
        self, employee_id: Hashable, expectations: Mapping[date, Expectation | None]
    ) -> None:
        """`add_expectation` for many dates at once (a month's plan, often shared by many)."""
        draft = self._draft(employee_id)
        index = self._index
        for local_date, expectation in expectations.items():
            i = index.get(local_date)
            if i is not None:
                draft.plan[i] = _DAY_OFF_PLAN if expectation is None else expectation.norm_hours

    def build(self) -> Timesheet:
        """The grid and totals for everyone seen so far."""
        cells: dict[tuple[TimesheetCode | None, int, int], TimesheetCell] = {}
        plans: dict[tuple[float, tuple[float | None, ...]], _Plan] = {}
        lines = [self._line(key, draft, cells, plans) for key, draft in self._drafts.items()]
        norm = self.calendar.month_summary(self.year, self.month, self.week_hours).norm_hours
        return Timesheet(self.year, self.month, self._days, tuple(lines), norm)

    def _plan(
        self,
        week_hours: float,
        plan: tuple[float | None, ...],
        shared: dict[tuple[TimesheetCode | None, int, int], TimesheetCell],
    ) -> _Plan:
        """Which days a plan expects work on, its norm, and the cell of each day not worked
        (without an absence): shared by every line with the same plan."""
        base_working, base_norms = self._base_for(week_hours)
        planned: list[bool] = []
        idle: list[TimesheetCell] = []
        norm = 0.0
        for i, d in enumerate(self._days):
            day_plan = plan[i]
            if day_plan is None:
                expected, day_norm = base_working[i], base_norms[i]
            else:
                expected, day_norm = day_plan != _DAY_OFF_PLAN, max(day_plan, 0.0)
            planned.append(expected)
            code: TimesheetCode | None = TimesheetCode.DAY_OFF
            if expected:
                norm += day_norm
                past = self.today is None or d < self.today
                code = TimesheetCode.UNEXPLAINED if past else None
            cell = shared.get((code, 0, 0))
            if cell is None:
                cell = shared[(code, 0, 0)] = TimesheetCell(code)
            idle.append(cell)
        return _Plan(tuple(planned), round(norm, 2), tuple(idle))

    def _line(
        self,
        employee_id: Hashable,
        draft: _Draft,
        shared: dict[tuple[TimesheetCode | None, int, int], TimesheetCell],
        plans: dict[tuple[float, tuple[float | None, ...]], _Plan],
    ) -> TimesheetLine:
        plan_key = (draft.week_hours, tuple(draft.plan))
        plan = plans.get(plan_key)
        if plan is None:
            plan = plans[plan_key] = self._plan(*plan_key, shared)
        cells: list[TimesheetCell] = []
        append = cells.append
        days_worked = minutes = night = day_off_work = 0
        present, day_off_work_code = TimesheetCode.PRESENT, TimesheetCode.DAY_OFF_WORK
        absences = draft.absence if any(draft.absence) else None
        rows = zip(draft.worked, plan.planned, plan.idle, strict=True)
        key: tuple[TimesheetCode | None, int, int]
        for i, (worked, planned, idle) in enumerate(rows):
            if worked > 0:
                days_worked += 1
                minutes += worked
                night_worked = draft.night[i]
                night += night_worked
                if planned:
                    key = (present, worked, night_worked)
                else:
                    day_off_work += worked
                    key = (day_off_work_code, worked, night_worked)
            elif absences is not None and absences[i] is not None:
                key = (absences[i], worked, 0)
            elif worked == 0:
                append(idle)
                continue
            else:  # negative time added by hand: the idle code, the minutes as given
                key = (idle.code, worked, 0)
            # Cells are immutable values: equal ones are shared across the whole grid.
            cell = shared.get(key)
            if cell is None:
                cell = shared[key] = TimesheetCell(*key)
            append(cell)
        codes: dict[TimesheetCode, int] = {}
        for cell in cells:
            if cell.code is not None:
                codes[cell.code] = codes.get(cell.code, 0) + 1
        return TimesheetLine(
            employee_id=employee_id,
            cells=tuple(cells),
            days_worked=days_worked,
            minutes_worked=minutes,
            night_minutes=night,
            day_off_work_minutes=day_off_work,
            norm_hours=plan.norm_hours,
            codes=codes,
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    planned: tuple[bool, ...]  # by day of the month
    norm_hours: float
    idle: tuple[TimesheetCell, ...]  # the cell of each day without work or absence


def _as_minutes(value: int | timedelta) -> int:
    if isinstance(value, timedelta):
        return int(value // timedelta(minutes=1))
    return int(value)


def build_timesheet(
    year: int,
    month: int,
    calendar: ProductionCalendar,
    work: Iterable[tuple[Hashable, date, int]],
    *,
    today: date | None = None,
) -> Timesheet:
    """A timesheet from (employee, date, minutes) rows only; see TimesheetBuilder for more."""
    builder = TimesheetBuilder(year, month, calendar, today=today)
    for employee_id, local_date, worked in work:
        builder.add_work(employee_id, local_date, worked)
    return builder.build()
