"""`GET /bitrix/app`: today, live.

Administrators see everyone, heads the people of their departments: who is in, on a break, gone
for the day, not in yet (late when past their start), and whose check-in was outside the
office. The page refreshes its table every 30 seconds (`?partial=1` returns the table alone).
An employee sees their own day and week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from timebot.bot.people import person_for, plan_for, portal_calendar
from timebot.domain.marks import Mark as DomainMark
from timebot.domain.marks import WorkState
from timebot.domain.workday import WorkDay, assemble
from timebot.services.presence import remote_reason
from timebot.services.timesheet import late_by, load_people, load_plans
from timebot.services.tracking import day_view, summarize_days, week_start
from timebot.storage import UnitOfWork
from timebot.storage.repositories.reporting import ReportingRepository
from timebot.storage.tables import Employee, Mark, Portal
from timebot.web.admin.i18n import register
from timebot.web.admin.render import render
from timebot.web.admin.scope import employee_visible, managed_bitrix_ids
from timebot.web.admin.session import AdminDenied, AdminSession, container_of, current_session

router = APIRouter(prefix="/bitrix/app", tags=["admin"])

REFRESH_SECONDS = 30
LOOKBACK = timedelta(days=3)

register(
    {
        "ru": {
            "today.title": "Сегодня",
            "today.updated": "Обновлено в {time}",
            "today.count.working": "На работе",
            "today.count.on_break": "На перерыве",
            "today.count.done": "Ушли",
            "today.count.absent": "Не пришли",
            "today.count.late": "Опоздали",
            "today.count.outside": "Вне офиса",
            "today.col.name": "Сотрудник",
            "today.col.status": "Статус",
            "today.col.in": "Пришёл",
            "today.col.out": "Ушёл",
            "today.col.worked": "Отработано",
            "today.col.notes": "Отметки",
            "today.status.working": "на работе",
            "today.status.on_break": "на перерыве",
            "today.status.done": "ушёл",
            "today.status.absent": "не пришёл",
            "today.status.day_off": "выходной",
            "today.flag.late": "опоздание {minutes} мин",
            "today.flag.late_absent": "опаздывает",
            "today.flag.outside": "вне офиса",
            "today.flag.uncertain": "место не подтверждено",
            "today.flag.remote": "удалённо",
            "today.flag.provisional": "не подтверждено",
            "today.empty": "Нет сотрудников. Синхронизируйте их на странице «Сотрудники».",
            "today.mine": "Мой день",
            "today.my_week": "Моя неделя",
            "today.not_synced": (
                "Вас ещё нет в списке сотрудников timebot. Напишите боту — и запись появится."
            ),
            "today.col.date": "Дата",
            "today.col.norm": "Норма",
            "today.state": "Сейчас",
        },
        "en": {
            "today.title": "Today",
            "today.updated": "Updated at {time}",
            "today.count.working": "Working",
            "today.count.on_break": "On a break",
            "today.count.done": "Gone",
            "today.count.absent": "Not in",
            "today.count.late": "Late",
            "today.count.outside": "Outside",
            "today.col.name": "Employee",
            "today.col.status": "Status",
            "today.col.in": "In",
            "today.col.out": "Out",
            "today.col.worked": "Worked",
            "today.col.notes": "Notes",
            "today.status.working": "working",
            "today.status.on_break": "on a break",
            "today.status.done": "gone",
            "today.status.absent": "not in",
            "today.status.day_off": "day off",
            "today.flag.late": "late by {minutes} min",
            "today.flag.late_absent": "running late",
            "today.flag.outside": "outside the office",
            "today.flag.uncertain": "location unconfirmed",
            "today.flag.remote": "remote",
            "today.flag.provisional": "unconfirmed",
            "today.empty": "No employees yet. Sync them on the Employees page.",
            "today.mine": "My day",
            "today.my_week": "My week",
            "today.not_synced": (
                "You are not in timebot's list of employees yet. Write to the bot and you will be."
            ),
            "today.col.date": "Date",
            "today.col.norm": "Norm",
            "today.state": "Now",
        },
    }
)


@dataclass(frozen=True, slots=True)
class Line:
    """One person's row on the today page."""

    employee_id: int
    name: str
    status: str  # working | on_break | done | absent | day_off
    started_at: datetime | None
    ended_at: datetime | None
    worked: timedelta
    late_minutes: int | None
    late_absent: bool
    outside: bool
    uncertain: bool
    remote: bool
    provisional: bool
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Board:
    lines: list[Line]
    counts: dict[str, int]
    now: datetime
    tz: ZoneInfo


def _today_day(days: Sequence[WorkDay], today: date, tz: ZoneInfo) -> WorkDay | None:
    """The open day, or the latest one begun (or ended) today — what `view_of` shows."""
    if not days:
        return None
    last = days[-1]
    ended_today = last.ended_at is not None and last.ended_at.astimezone(tz).date() == today
    return last if last.is_open or last.local_date == today or ended_today else None


async def _verdicts(uow: UnitOfWork, mark_ids: Sequence[int]) -> dict[int, str | None]:
    if not mark_ids:
        return {}
    rows = await uow.session.execute(
        select(Mark.id, Mark.location_verdict).where(Mark.id.in_(list(mark_ids)))
    )
    return {int(mid): verdict for mid, verdict in rows}


async def build_board(
    uow: UnitOfWork, portal: Portal, employees: Sequence[Employee], *, now: datetime, country: str
) -> Board:
    """Everyone's state now, from their standing marks of the last days (a few queries in
    all, not per person)."""
    portal_tz = ZoneInfo(portal.timezone) if portal.timezone else ZoneInfo("UTC")
    people = await load_people(uow, portal, employees)
    local_today = now.astimezone(portal_tz).date()
    start, end = local_today - timedelta(days=4), local_today + timedelta(days=1)
    calendar = await portal_calendar(uow, portal, country=country, start=start, end=end)
    plans = await load_plans(
        uow, portal.id, people.values(), start=start, end=end, calendar=calendar
    )
    marks: dict[int, list[DomainMark]] = {}
    if employees:
        marks = await ReportingRepository(uow.session).standing_marks_by_employee(
            portal.id,
            since=now - LOOKBACK,
            until=now + timedelta(seconds=1),
            employee_ids=[e.id for e in employees],
        )
    drafts: list[tuple[Employee, WorkDay | None, WorkState, date]] = []
    check_ins: list[int] = []
    for e in employees:
        tz = people[e.id].tz
        today = now.astimezone(tz).date()
        assembly = assemble(marks.get(e.id, []), tz, now=now)
        day = _today_day(assembly.days, today, tz)
        drafts.append((e, day, assembly.state, today))
        if day is not None and day.marks[0].id is not None:
            check_ins.append(day.marks[0].id)
    verdicts = await _verdicts(uow, check_ins)
    lines: list[Line] = []
    for e, day, state, today in drafts:
        tz = people[e.id].tz
        expectation = plans.expected(e.id, today, tz)
        late_minutes: int | None = None
        late_absent = False
        if day is not None:
            late = late_by(day, plans.expected(e.id, day.local_date, tz))
            late_minutes = int(late.total_seconds() // 60) if late else None
            status = {WorkState.WORKING: "working", WorkState.ON_BREAK: "on_break"}.get(
                state, "done"
            )
        else:
            status = "absent" if expectation is not None else "day_off"
            latest = expectation.latest_start if expectation else None
            late_absent = latest is not None and now > latest
        verdict = verdicts.get(day.marks[0].id or 0) if day is not None else None
        lines.append(
            Line(
                employee_id=e.id,
                name=e.name,
                status=status,
                started_at=day.started_at if day else None,
                ended_at=day.ended_at if day else None,
                worked=day.worked if day else timedelta(),
                late_minutes=late_minutes,
                late_absent=late_absent,
                outside=verdict == "outside",
                uncertain=verdict == "uncertain",
                remote=remote_reason(e, today) is not None,
                provisional=bool(day and day.provisional),
                tz=tz,
            )
        )
    order = {"working": 0, "on_break": 1, "absent": 2, "done": 3, "day_off": 4}
    lines.sort(key=lambda line: (order[line.status], line.name.casefold()))
    counts = {
        "working": sum(1 for x in lines if x.status == "working"),
        "on_break": sum(1 for x in lines if x.status == "on_break"),
        "done": sum(1 for x in lines if x.status == "done"),
        "absent": sum(1 for x in lines if x.status == "absent"),
        "late": sum(1 for x in lines if x.late_minutes or x.late_absent),
        "outside": sum(1 for x in lines if x.outside),
    }
    return Board(lines, counts, now, portal_tz)


async def _portal(uow: UnitOfWork, session: AdminSession) -> Portal:
    portal = await uow.portals.get(session.portal_id)
    if portal is None:
        raise AdminDenied(401, "denied.portal_gone", lang=session.language)
    return portal


@router.get("", include_in_schema=False)
async def today_page(
    request: Request, session: AdminSession = Depends(current_session)
) -> Response:
    """Today: the live board (managers) or the person's own day and week (employees)."""
    container = container_of(request)
    now = container.clock.now()
    country = container.gateway.bot.country
    partial = request.query_params.get("partial") == "1"
    async with container.database.unit_of_work() as uow:
        portal = await _portal(uow, session)
        if not session.is_manager:
            context = await _my_day(uow, portal, session, now=now, country=country)
            return render(request, session, "admin/today_mine.html", active="today", **context)
        managed = await managed_bitrix_ids(uow, session)
        employees = [
            e
            for e in await uow.employees.active(portal.id)
            if employee_visible(e, session, managed)
        ]
        board = await build_board(uow, portal, employees, now=now, country=country)
    template = "admin/_today_board.html" if partial else "admin/today.html"
    return render(request, session, template, active="today", board=board, refresh=REFRESH_SECONDS)


async def _my_day(
    uow: UnitOfWork, portal: Portal, session: AdminSession, *, now: datetime, country: str
) -> dict[str, Any]:
    employee = await uow.employees.get(session.employee_id) if session.employee_id else None
    if employee is None or employee.portal_id != portal.id:
        return {"employee": None, "view": None, "week": [], "tz": None}
    person = await person_for(uow, portal, employee)
    today = now.astimezone(person.tz).date()
    monday = week_start(today)
    plan = await plan_for(
        uow,
        portal,
        person,
        start=monday - timedelta(days=3),
        end=monday + timedelta(days=6),
        country=country,
    )
    view = await day_view(uow, person, plan=plan, now=now)
    week = await summarize_days(
        uow, person, plan=plan, first=monday, last=monday + timedelta(days=6), now=now
    )
    return {"employee": employee, "view": view, "week": week, "tz": person.tz}
