"""Weekly statistics: each active employee's previous week day by day, and each manager's team.

Read in a fixed number of queries per portal (the employees, the departments, the plans and
ONE query for the marks of the two weeks), however many people there are. The week is the
previous Monday-to-Sunday week in the portal's zone; each person's days are their own local
dates. Rendering and queueing: `jobs.weekly`.

A person gets statistics when the week asked something of them or they worked in it (a day
with a norm or with marks); someone with neither — on leave for the whole week, a shift worker
without shifts — gets nothing. A manager is whoever `DepartmentRepository.heads_of` names for
a person (the head of their department, or of the parent when they head it themselves) and
is an active employee of the portal; their team is everyone naming them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.timezones import resolve_zone
from timebot.domain.workday import WorkDay, assemble
from timebot.services.timesheet import (
    PlanBook,
    group_marks,
    late_by,
    load_people,
    load_plans,
    marks_window,
)
from timebot.services.tracking import DaySummary, Person, week_start
from timebot.storage import UnitOfWork
from timebot.storage.repositories.people import managers_of
from timebot.storage.repositories.reporting import ReportingRepository
from timebot.storage.tables import Department, Employee, Portal

__all__ = [
    "TeamWeek",
    "WeeklyDigest",
    "WeeklyPerson",
    "gather_weekly",
    "iso_week",
    "previous_week_key",
    "reporting_week",
    "summaries_from",
    "team_key",
    "week_monday",
    "weekly_enabled",
    "weekly_key",
]


def iso_week(monday: date) -> str:
    """ "2026-W47": the ISO year and week of `monday`."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_key(employee_id: int, monday: date) -> str:
    """The outbox dedupe key of a person's weekly message: `weekly:{employee}:{iso week}`."""
    return f"weekly:{employee_id}:{iso_week(monday)}"


def team_key(manager_user_id: int, monday: date, part: int = 1) -> str:
    """The outbox dedupe key of a manager's team summary (and of its later parts)."""
    key = f"weekly:team:{manager_user_id}:{iso_week(monday)}"
    return key if part == 1 else f"{key}:{part}"


def previous_week_key(local: datetime | date) -> str:
    """The ISO week before the one of `local` (a local date or a datetime in the portal's
    zone): the period a Monday-morning run reports on, "2026-W47"."""
    day = local.date() if isinstance(local, datetime) else local
    return iso_week(week_start(day) - timedelta(days=7))


def week_monday(key: str) -> date:
    """The Monday of an ISO week key such as "2026-W47"."""
    return date.fromisoformat(f"{key}-1")


def reporting_week(now: datetime, tz: ZoneInfo) -> date:
    """The Monday of the week before the one `now` falls in (in `tz`)."""
    return week_start(now.astimezone(tz).date()) - timedelta(days=7)


def weekly_enabled(portal: Portal) -> bool:
    """Weekly statistics are on unless the portal's settings say `"weekly_stats": false`."""
    return (portal.settings or {}).get("weekly_stats", True) is not False


@dataclass(frozen=True, slots=True)
class WeeklyPerson:
    """One person's reporting week and the week after it (as «Моя неделя» shows them)."""

    employee_id: int
    user_id: int
    name: str
    language: str | None
    tz: ZoneInfo
    monday: date  # of the reporting week
    days: tuple[DaySummary, ...]  # 14 days: the reporting week, then the current one

    @property
    def week(self) -> tuple[DaySummary, ...]:
        """The reporting week's seven days."""
        return self.days[:7]

    @property
    def worked(self) -> timedelta:
        return sum((d.worked for d in self.week), timedelta())

    @property
    def norm(self) -> timedelta:
        return sum((d.norm for d in self.week if d.norm is not None), timedelta())

    @property
    def late_days(self) -> int:
        return sum(1 for d in self.week if d.late_by is not None)

    @property
    def has_anything(self) -> bool:
        """Whether the week planned work for the person or they worked."""
        return any(d.norm is not None or d.first_in is not None for d in self.week)


@dataclass(frozen=True, slots=True)
class TeamWeek:
    """A manager and the people who report to them, in name order."""

    manager_user_id: int
    manager_employee_id: int
    language: str | None
    members: tuple[WeeklyPerson, ...]


@dataclass(frozen=True, slots=True)
class WeeklyDigest:
    """Everything one portal's weekly run sends."""

    portal_id: int
    monday: date
    people: tuple[WeeklyPerson, ...]
    teams: tuple[TeamWeek, ...]


def summaries_from(
    work_days: Sequence[WorkDay],
    employee_id: int,
    tz: ZoneInfo,
    book: PlanBook,
    *,
    first: date,
    last: date,
) -> list[DaySummary]:
    """`services.tracking.summarize_days` over work days already assembled (no query)."""
    by_date: dict[date, list[WorkDay]] = {}
    for day in work_days:
        by_date.setdefault(day.local_date, []).append(day)
    out: list[DaySummary] = []
    d = first
    while d <= last:
        found = by_date.get(d, [])
        expectation = book.expected(employee_id, d, tz)
        out.append(
            DaySummary(
                local_date=d,
                worked=sum((w.worked for w in found), timedelta()),
                on_break=sum((w.on_break for w in found), timedelta()),
                norm=expectation.minimum if expectation else None,
                first_in=found[0].started_at if found else None,
                last_out=found[-1].ended_at if found else None,
                late_by=late_by(found[0], expectation) if found else None,
                is_open=any(w.is_open for w in found),
                provisional=any(w.provisional for w in found),
            )
        )
        d += timedelta(days=1)
    return out


def _name(employee: Employee) -> str:
    return employee.name or f"#{employee.bitrix_user_id}"


async def gather_weekly(
    uow: UnitOfWork,
    portal: Portal,
    *,
    now: datetime,
    calendar: ProductionCalendar | None,
    monday: date | None = None,
) -> WeeklyDigest:
    """The reporting week (default: the previous one in the portal's zone) of every active
    employee with something in it, and every manager's team."""
    monday = monday or reporting_week(now, resolve_zone(None, None, portal.timezone))
    first, last = monday, monday + timedelta(days=13)
    employees = await uow.employees.active(portal.id)
    people: dict[int, Person] = await load_people(uow, portal, employees)
    since, until = marks_window({p.tz for p in people.values()}, first, last, now)
    rows = await ReportingRepository(uow.session).standing_marks(
        portal.id, since=since, until=until
    )
    marks = group_marks(rows)
    book = await load_plans(
        uow, portal.id, list(people.values()), start=first, end=last, calendar=calendar
    )
    weekly: dict[int, WeeklyPerson] = {}
    for e in employees:
        person = people[e.id]
        days = assemble(marks.get(e.id, []), person.tz, now=now).days
        summary = summaries_from(days, e.id, person.tz, book, first=first, last=last)
        found = WeeklyPerson(
            employee_id=e.id,
            user_id=e.bitrix_user_id,
            name=_name(e),
            language=e.language,
            tz=person.tz,
            monday=monday,
            days=tuple(summary),
        )
        if found.has_anything:
            weekly[e.id] = found
    teams = _teams(
        employees, weekly, {d.bitrix_id: d for d in await uow.departments.all(portal.id)}
    )
    return WeeklyDigest(portal.id, monday, tuple(weekly.values()), teams)


def _teams(
    employees: Sequence[Employee],
    weekly: Mapping[int, WeeklyPerson],
    departments: Mapping[int, Department],
) -> tuple[TeamWeek, ...]:
    by_user = {e.bitrix_user_id: e for e in employees}
    members: dict[int, list[WeeklyPerson]] = {}
    for e in employees:
        found = weekly.get(e.id)
        if found is None:
            continue
        for head in managers_of(e.bitrix_user_id, e.department_ids or [], departments):
            if head in by_user:
                members.setdefault(head, []).append(found)
    teams = []
    for head, team in sorted(members.items()):
        manager = by_user[head]
        team.sort(key=lambda p: (p.name.casefold(), p.user_id))
        teams.append(TeamWeek(head, manager.id, manager.language, tuple(team)))
    return tuple(teams)
