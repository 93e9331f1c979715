"""Many shifts at once on a roster: copy a week to the next one (days already planned are
skipped), and bulk entry as text lines or CSV (all lines stored, or none when one is wrong)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import delete

from timebot.storage.tables import Shift
from timebot.web.admin.forms import Form, Invalid, read_form
from timebot.web.admin.i18n import translate
from timebot.web.admin.render import redirect
from timebot.web.admin.roster_bulk import MAX_LINES, LineError, PersonIndex, parse_lines
from timebot.web.admin.roster_data import (
    MAX_PERIOD_DAYS,
    LocalShift,
    check_shifts,
    day_text,
    load_roster,
    monday_of,
)
from timebot.web.admin.roster_page import (
    checked_day,
    details,
    path_of,
    roster_response,
    shift_schedule,
    store,
    view_of,
)
from timebot.web.admin.rows import audit
from timebot.web.admin.session import AdminSession, check_csrf, container_of, require_admin

__all__ = ["router"]

# Included by `roster.router` (prefix /bitrix/app/schedules).
router = APIRouter(tags=["admin"])

MAX_ID: Final = 2**62
SHOWN_LINE_ERRORS: Final = 50


@router.post("/{shift_schedule_id}/roster/copy", include_in_schema=False)
async def copy_week(
    shift_schedule_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Repeat a week's shifts in the next week (skipping days already planned)."""
    form = await read_form(request, session)
    week = checked_day(form, "week")
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            schedule = await shift_schedule(uow, shift_schedule_id, session)
            form.raise_if_invalid()
            assert week is not None
            source = monday_of(week)
            roster = await load_roster(uow, session, schedule)
            found = await roster.shifts(uow, None, source, source + timedelta(days=6))
            mine = [s for s in found if roster.follows(s.employee_id, s.on)]
            if not mine:
                form.error("week", "roster.copy_empty", day=day_text(source))
                raise Invalid
            planned = [
                replace(s, on=s.on + timedelta(days=7), id=None, schedule_id=None) for s in mine
            ]
            skipped = {p.index: p for p in await check_shifts(uow, roster, planned)}
            created = [
                (s, store(uow, roster, s, now)) for i, s in enumerate(planned) if i not in skipped
            ]
            await uow.flush()
            audit(
                uow,
                session,
                now,
                "roster.copied",
                "schedule",
                schedule.id,
                {
                    "from_week": source.isoformat(),
                    "to_week": (source + timedelta(days=7)).isoformat(),
                    "created": [{"id": row.id, **details(roster, s)} for s, row in created],
                    "skipped": [
                        {**details(roster, planned[i]), "reason": p.key}
                        for i, p in sorted(skipped.items())
                    ],
                },
            )
            await uow.commit()
    except Invalid:
        return await roster_response(
            request,
            session,
            shift_schedule_id,
            view=form.values,
            copy=(form.values, form.errors),
            status_code=400,
        )
    # Two weeks from the copied one: both weeks in view.
    return redirect(
        path_of(shift_schedule_id),
        flash="flash.roster_copied",
        period="2weeks",
        first=source.isoformat(),
        copied=len(created),
        skipped=len(skipped),
    )


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line_errors(form: Form, errors: Mapping[int, LineError]) -> None:
    """Name every bad line (the first ones in full) and refuse the whole list."""
    numbers = sorted(errors)
    listed = ", ".join(str(n) for n in numbers[:20]) + (" …" if len(numbers) > 20 else "")
    form.error("lines", "roster.bulk_failed", lines=listed)
    for n in numbers[:SHOWN_LINE_ERRORS]:
        e = errors[n]
        reason = translate(form.lang, e.key, **e.values)
        form.error(f"line{n}", "roster.line", n=n, text=_short(e.text), reason=reason)
    if len(numbers) > SHOWN_LINE_ERRORS:
        form.error("more", "roster.bulk_more", count=len(numbers) - SHOWN_LINE_ERRORS)
    raise Invalid


@router.post("/{shift_schedule_id}/roster/bulk", include_in_schema=False)
async def bulk_entry(
    shift_schedule_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Store many shifts from text lines or CSV: all of them, or none when a line is wrong."""
    form = await read_form(request, session)
    first, last = checked_day(form, "bulk_from"), checked_day(form, "bulk_to")
    if first is not None and last is not None and not 0 <= (last - first).days < MAX_PERIOD_DAYS:
        form.error("bulk_to", "roster.bulk_period", max=MAX_PERIOD_DAYS)
    lines, line_errors = parse_lines(form.raw("lines"))
    if len(lines) + len(line_errors) > MAX_LINES:
        form.error("lines", "roster.bulk_too_many", max=MAX_LINES)
    elif not lines and not line_errors:
        form.error("lines", "roster.bulk_nothing")
    default = form.integer("person", minimum=1, maximum=MAX_ID, required=False)
    container = container_of(request)
    now = container.clock.now()
    try:
        async with container.database.unit_of_work() as uow:
            schedule = await shift_schedule(uow, shift_schedule_id, session)
            form.raise_if_invalid()
            assert first is not None
            assert last is not None
            roster = await load_roster(uow, session, schedule)
            if default is not None and default not in roster.employees:
                form.error("person", "roster.unknown_person")
                raise Invalid
            errors = {e.number: e for e in line_errors}
            index = PersonIndex(roster.employees.values())
            planned: list[LocalShift] = []
            sources = []
            for line in lines:
                employee_id, why = (default, "roster.person_missing")
                if line.who:
                    employee_id, why = index.find(line.who)
                if not first <= line.day <= last:
                    bounds = {"first": day_text(first), "last": day_text(last)}
                    errors[line.number] = LineError(
                        line.number, line.text, "roster.line_outside", bounds
                    )
                elif employee_id is None:
                    errors[line.number] = LineError(line.number, line.text, why)
                else:
                    planned.append(
                        LocalShift(
                            employee_id,
                            line.day,
                            line.start,
                            line.end,
                            break_minutes=line.break_minutes,
                        )
                    )
                    sources.append(line)
            removed: list[LocalShift] = []
            if form.flag("replace") and planned:
                named = {s.employee_id for s in planned}
                removed = await roster.shifts(uow, named, first, last)
            replacing = [s.id for s in removed if s.id is not None]
            for p in await check_shifts(uow, roster, planned, replacing=replacing):
                line = sources[p.index]
                errors[line.number] = LineError(line.number, line.text, p.key, p.values)
            if errors:
                _line_errors(form, errors)
            if replacing:
                await uow.session.execute(
                    delete(Shift).where(
                        Shift.portal_id == session.portal_id, Shift.id.in_(replacing)
                    )
                )
            created = [(s, store(uow, roster, s, now)) for s in planned]
            await uow.flush()
            audit(
                uow,
                session,
                now,
                "roster.imported",
                "schedule",
                schedule.id,
                {
                    "first": first.isoformat(),
                    "last": last.isoformat(),
                    "replace": form.flag("replace"),
                    "created": [{"id": row.id, **details(roster, s)} for s, row in created],
                    "removed": [{"id": s.id, **details(roster, s)} for s in removed],
                },
            )
            await uow.commit()
    except Invalid:
        return await roster_response(
            request,
            session,
            shift_schedule_id,
            view=form.values,
            bulk=(form.values, form.errors),
            status_code=400,
        )
    return redirect(
        path_of(shift_schedule_id),
        flash="flash.roster_imported",
        created=len(created),
        removed=len(removed),
        **view_of(form.values),
    )
