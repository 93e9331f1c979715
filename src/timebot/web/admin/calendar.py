"""Calendar overrides (administrators): `/bitrix/app/calendar`.

The portal's own exceptions on top of the production calendar — an extra holiday, a working
day (a weekend made working, or a holiday worked), a shortened day — one per date. The page
shows them and the year's working days and hour norms with the overrides applied, as the
schedules and timesheets will count them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from timebot.bot.people import portal_calendar
from timebot.reports.production_calendar import render_year, year_totals
from timebot.storage.tables import CalendarOverride
from timebot.web.admin.forms import read_form
from timebot.web.admin.i18n import register
from timebot.web.admin.render import redirect, render
from timebot.web.admin.rows import audit, owned
from timebot.web.admin.session import (
    AdminDenied,
    AdminSession,
    check_csrf,
    container_of,
    require_admin,
)

router = APIRouter(prefix="/bitrix/app", tags=["admin"])

BASE: Final = "/bitrix/app/calendar"
KINDS: Final = ("holiday", "workday", "short")
FIRST_YEAR, LAST_YEAR = 2000, 2100

register(
    {
        "ru": {
            "calendar.title": "Календарь",
            "calendar.lead": (
                "Исключения портала поверх производственного календаря ({country}). "
                "Они действуют на графики, опоздания и табели."
            ),
            "calendar.year": "Год",
            "calendar.show": "Показать",
            "calendar.overrides": "Исключения {year}",
            "calendar.none": "Исключений нет.",
            "calendar.add": "Добавить исключение",
            "calendar.day": "Дата",
            "calendar.kind": "Что это",
            "calendar.kind.holiday": "Выходной / праздник",
            "calendar.kind.workday": "Рабочий день",
            "calendar.kind.short": "Сокращённый день",
            "calendar.hours": "Часов (для рабочего или сокращённого; пусто — по умолчанию)",
            "calendar.note": "Комментарий",
            "calendar.remove": "Удалить",
            "calendar.replaced": "Дата уже была в исключениях — запись заменена.",
            "calendar.hours_for_holiday": "У выходного нет часов.",
            "calendar.norms": "Нормы {year} (с исключениями)",
            "calendar.month": "Месяц",
            "calendar.working_days": "Рабочих дней",
            "calendar.days_off": "Выходных",
            "calendar.shortened": "Сокращённых",
            "calendar.norm": "Норма {hours} ч/нед",
            "calendar.total": "Итого",
            "calendar.unknown_country": "Производственный календарь этой страны неизвестен.",
            "flash.replaced": "Исключение на эту дату заменено.",
        },
        "en": {
            "calendar.title": "Calendar",
            "calendar.lead": (
                "The portal's exceptions on top of the production calendar ({country}). "
                "Schedules, lateness and timesheets follow them."
            ),
            "calendar.year": "Year",
            "calendar.show": "Show",
            "calendar.overrides": "Exceptions in {year}",
            "calendar.none": "No exceptions.",
            "calendar.add": "Add an exception",
            "calendar.day": "Date",
            "calendar.kind": "What it is",
            "calendar.kind.holiday": "Day off / holiday",
            "calendar.kind.workday": "Working day",
            "calendar.kind.short": "Shortened day",
            "calendar.hours": "Hours (working or shortened day; empty: the default)",
            "calendar.note": "Note",
            "calendar.remove": "Delete",
            "calendar.replaced": "The date already had an exception; it was replaced.",
            "calendar.hours_for_holiday": "A day off has no hours.",
            "calendar.norms": "Norms of {year} (with the exceptions)",
            "calendar.month": "Month",
            "calendar.working_days": "Working days",
            "calendar.days_off": "Days off",
            "calendar.shortened": "Shortened",
            "calendar.norm": "Norm, {hours} h/week",
            "calendar.total": "Total",
            "calendar.unknown_country": "The production calendar of this country is unknown.",
            "flash.replaced": "The exception for that date was replaced.",
        },
    }
)


def _year(raw: str | None, default: int) -> int:
    if raw and raw.isdigit() and FIRST_YEAR <= int(raw) <= LAST_YEAR:
        return int(raw)
    return default


async def _page(
    request: Request,
    session: AdminSession,
    year: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        portal = await uow.portals.get(session.portal_id)
        if portal is None:
            raise AdminDenied(401, "denied.portal_gone", lang=session.language)
        country = str((portal.settings or {}).get("country") or container.gateway.bot.country)
        overrides = list(
            await uow.session.scalars(
                select(CalendarOverride)
                .where(
                    CalendarOverride.portal_id == session.portal_id,
                    CalendarOverride.day >= date(year, 1, 1),
                    CalendarOverride.day <= date(year, 12, 31),
                )
                .order_by(CalendarOverride.day)
            )
        )
        calendar = await portal_calendar(
            uow, portal, country=country, start=date(year, 1, 1), end=date(year, 12, 31)
        )
        uow.session.expunge_all()  # read-only: keep the rows readable after the block
    months: list[dict[str, Any]] = render_year(calendar, year) if calendar else []
    return render(
        request,
        session,
        "admin/calendar.html",
        active="calendar",
        status_code=status_code,
        year=year,
        country=country,
        overrides=overrides,
        months=months,
        totals=year_totals(months) if months else None,
        errors=errors or {},
        values=values or {"kind": "holiday", "day": f"{year}-01-01"},
        kinds=KINDS,
    )


@router.get("/calendar", include_in_schema=False)
async def calendar_page(
    request: Request, session: AdminSession = Depends(require_admin)
) -> Response:
    """The portal's calendar exceptions and the year's norms."""
    today = container_of(request).clock.now().date()
    return await _page(request, session, _year(request.query_params.get("year"), today.year))


@router.post("/calendar", include_in_schema=False)
async def add_override(
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Add an exception for a date (replacing the one it had)."""
    form = await read_form(request, session)
    day = form.day("day")
    if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
        form.error("day", "form.range", min=FIRST_YEAR, max=LAST_YEAR)
    kind = form.choice("kind", KINDS)
    hours = form.number("hours", minimum=0.5, maximum=24, required=False)
    if kind == "holiday" and hours is not None:
        form.error("hours", "calendar.hours_for_holiday")
    note = form.text("note", max_length=255)
    container = container_of(request)
    today = container.clock.now().date()
    if form.errors or day is None:
        year = day.year if day and FIRST_YEAR <= day.year <= LAST_YEAR else today.year
        return await _page(
            request, session, year, errors=form.errors, values=form.values, status_code=400
        )
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        existing = (
            await uow.session.scalars(
                select(CalendarOverride).where(
                    CalendarOverride.portal_id == session.portal_id, CalendarOverride.day == day
                )
            )
        ).first()
        details: dict[str, Any] = {
            "day": day.isoformat(),
            "kind": kind,
            "hours": hours,
            "note": note,
        }
        if existing is None:
            row = CalendarOverride(
                portal_id=session.portal_id,
                day=day,
                kind=kind,
                hours=hours,
                note=note,
                created_at=now,
            )
            uow.session.add(row)
            await uow.flush()
            action, flash = "calendar.override_added", "flash.created"
        else:
            details["before"] = {
                "kind": existing.kind,
                "hours": existing.hours,
                "note": existing.note,
            }
            existing.kind, existing.hours, existing.note = kind, hours, note
            row = existing
            action, flash = "calendar.override_replaced", "flash.replaced"
        audit(uow, session, now, action, "calendar_override", row.id, details)
        await uow.commit()
    return redirect(BASE, flash=flash, year=day.year)


@router.post("/calendar/{override_id}/delete", include_in_schema=False)
async def delete_override(
    override_id: int,
    request: Request,
    session: AdminSession = Depends(check_csrf),
    _: AdminSession = Depends(require_admin),
) -> Response:
    """Delete an exception: the date follows the production calendar again."""
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        row = await owned(uow, CalendarOverride, override_id, session)
        year = row.day.year
        details = {"day": row.day.isoformat(), "kind": row.kind, "hours": row.hours}
        await uow.session.delete(row)
        audit(
            uow,
            session,
            now,
            "calendar.override_deleted",
            "calendar_override",
            override_id,
            details,
        )
        await uow.commit()
    return redirect(BASE, flash="flash.deleted", year=year)
