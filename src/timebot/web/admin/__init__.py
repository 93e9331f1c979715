"""The admin UI at `/bitrix/app`: opened by Bitrix24 as the application page (placement
DEFAULT, in an iframe) or standalone through a sign-in link from the bot.

`router` holds every admin page (this package's and `timebot.web.admin.ops`'s);
`AdminDenied` is answered by `denied_page` (registered on the app next to the router).
"""

from __future__ import annotations

from fastapi import APIRouter

from timebot.web.admin import calendar, employees, login, offices, ops, rosters, schedules, today
from timebot.web.admin.render import denied_page
from timebot.web.admin.session import AdminDenied

__all__ = ["AdminDenied", "denied_page", "router"]

router = APIRouter()
router.include_router(login.router)
router.include_router(today.router)
router.include_router(employees.router)
router.include_router(offices.router)
router.include_router(schedules.router)
router.include_router(rosters.router)
router.include_router(calendar.router)
router.include_router(ops.router)
