"""Charts behind signed links: `GET /charts/week/{token}.png`, the «Моя неделя» picture."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from timebot.bootstrap import Container
from timebot.domain.timezones import resolve_zone
from timebot.reports.production_calendar import calendar_for
from timebot.reports.week import Lang
from timebot.reports.week_chart import render_week_chart
from timebot.services.links import BadLink, LinkFailure, read_week_chart
from timebot.services.plans import load_plan
from timebot.services.tracking import Person, summarize_days
from timebot.storage.repositories.people import EmployeeRepository

router = APIRouter(prefix="/charts", tags=["charts"])

CALENDAR_COUNTRY = "RU"
CACHE_CONTROL = "private, max-age=300"
REASONS: dict[LinkFailure | str, str] = {
    "expired": "Ссылка устарела / This link has expired",
    "tampered": "Ссылка повреждена / This link is invalid",
    "malformed": "Ссылка повреждена / This link is invalid",
    "wrong_purpose": "Ссылка не для графика / This link is not a chart link",
    "not_found": "Нет такого графика / No such chart",
}


def _not_found(reason: str) -> PlainTextResponse:
    return PlainTextResponse(
        REASONS.get(reason, REASONS["not_found"]),
        status_code=404,
        headers={"Cache-Control": "no-store"},
    )


def _lang(*choices: str | None) -> Lang:
    for choice in choices:
        if choice:
            return "en" if choice.lower().startswith("en") else "ru"
    return "ru"


def _ids(values: object) -> tuple[int, ...]:
    """Department ids as stored (ints, or digit strings from older syncs)."""
    if not isinstance(values, list):
        return ()
    ids: list[int] = []
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool):
            ids.append(v)
        elif isinstance(v, str) and v.isdigit():
            ids.append(int(v))
    return tuple(ids)


@router.get(
    "/week/{token}.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The two-week chart"},
        404: {"content": {"text/plain": {}}, "description": "Invalid, expired or unknown link"},
    },
)
async def week_chart(token: str, request: Request) -> Response:
    """An employee's previous and current week as a PNG chart (signed link from the bot)."""
    container: Container = request.app.state.container
    now = container.clock.now()
    try:
        link = read_week_chart(container.settings.secret_key.get_secret_value(), token, now)
    except BadLink as bad:
        return _not_found(bad.reason)
    first = link.week - timedelta(days=7)
    last = link.week + timedelta(days=6)
    async with container.database.unit_of_work() as uow:
        portal = await uow.portals.get(link.portal_id)
        employee = await EmployeeRepository(uow.session).get(link.employee_id)
        if (
            portal is None
            or portal.status == "uninstalled"
            or employee is None
            or employee.portal_id != portal.id
        ):
            return _not_found("not_found")
        tz = resolve_zone(employee.timezone, None, portal.timezone)
        departments = _ids(employee.department_ids)
        calendar = calendar_for(CALENDAR_COUNTRY, {first.year, last.year})
        plan = await load_plan(
            uow,
            portal_id=portal.id,
            employee_id=employee.id,
            department_ids=departments,
            tz=tz,
            start=first,
            end=last,
            calendar=calendar,
        )
        person = Person(
            portal_id=portal.id,
            employee_id=employee.id,
            user_id=employee.bitrix_user_id,
            tz=tz,
            department_ids=departments,
        )
        days = await summarize_days(uow, person, plan=plan, first=first, last=last, now=now)
        lang = _lang(employee.language, portal.language)
    # Rendering takes ~0.2 s of CPU: keep it off the event loop.
    png = await run_in_threadpool(render_week_chart, days, lang=lang)
    return Response(png, media_type="image/png", headers={"Cache-Control": CACHE_CONTROL})
