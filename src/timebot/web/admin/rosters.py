"""`/bitrix/app/rosters`: the menu's way to the rosters of shift schedules.

A department head has no schedules page, yet may read the rosters (their own people's rows):
this lists the portal's active shift schedules, each linking to its roster, and goes straight
to the roster when there is only one. Administrators reach the same rosters from Schedules.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from timebot.storage.tables import Schedule
from timebot.web.admin.i18n import register
from timebot.web.admin.render import redirect, render
from timebot.web.admin.roster_page import path_of
from timebot.web.admin.session import AdminSession, container_of, require_manager

__all__ = ["router"]

router = APIRouter(prefix="/bitrix/app", tags=["admin"])

register(
    {
        "ru": {
            "rosters.title": "Расписание смен",
            "rosters.lead": (
                "Сменные графики портала. В расписании вы видите своих сотрудников; "
                "менять смены могут администраторы портала."
            ),
            "rosters.none": "В портале нет сменных графиков.",
        },
        "en": {
            "rosters.title": "Shift rosters",
            "rosters.lead": (
                "The portal's shift schedules. A roster shows your own people; portal "
                "administrators change the shifts."
            ),
            "rosters.none": "The portal has no shift schedules.",
        },
    }
)


@router.get("/rosters", include_in_schema=False)
async def rosters_page(
    request: Request, session: AdminSession = Depends(require_manager)
) -> Response:
    """The portal's shift schedules with links to their rosters (straight to the only one)."""
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        query = (
            select(Schedule.id, Schedule.name)
            .where(
                Schedule.portal_id == session.portal_id,
                Schedule.kind == "shift",
                Schedule.active.is_(True),
            )
            .order_by(Schedule.name, Schedule.id)
        )
        schedules = [(int(i), str(n)) for i, n in (await uow.session.execute(query)).all()]
    if len(schedules) == 1:
        return redirect(path_of(schedules[0][0]))
    return render(
        request,
        session,
        "admin/rosters.html",
        active="rosters",
        schedules=[{"id": i, "name": n, "path": path_of(i)} for i, n in schedules],
    )
