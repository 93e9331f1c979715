"""The admin UI's navigation: every page with its path, the roles that see it and its label key.

`render()` passes the items the signed-in role may see as `nav`; `active` names the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from timebot.web.admin.i18n import register
from timebot.web.admin.session import AdminSession, Role

__all__ = ["NAV", "NavItem", "visible"]

BASE: Final = "/bitrix/app"


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    path: str
    roles: frozenset[Role]
    label_key: str


_ALL: Final[frozenset[Role]] = frozenset({"admin", "head", "employee"})
_MANAGERS: Final[frozenset[Role]] = frozenset({"admin", "head"})
_ADMINS: Final[frozenset[Role]] = frozenset({"admin"})
# Heads read the rosters of shift schedules there; administrators reach them from Schedules.
_HEADS: Final[frozenset[Role]] = frozenset({"head"})

NAV: Final[tuple[NavItem, ...]] = (
    NavItem("today", BASE, _ALL, "nav.today"),
    NavItem("employees", f"{BASE}/employees", _MANAGERS, "nav.employees"),
    NavItem("offices", f"{BASE}/offices", _ADMINS, "nav.offices"),
    NavItem("schedules", f"{BASE}/schedules", _ADMINS, "nav.schedules"),
    NavItem("rosters", f"{BASE}/rosters", _HEADS, "nav.rosters"),
    NavItem("calendar", f"{BASE}/calendar", _ADMINS, "nav.calendar"),
    NavItem("rules", f"{BASE}/rules", _ADMINS, "nav.rules"),
    NavItem("queue", f"{BASE}/queue", _MANAGERS, "nav.queue"),
    NavItem("reports", f"{BASE}/reports", _MANAGERS, "nav.reports"),
    NavItem("audit", f"{BASE}/audit", _ADMINS, "nav.audit"),
    NavItem("health", f"{BASE}/health", _ADMINS, "nav.health"),
    NavItem("tokens", f"{BASE}/tokens", _ADMINS, "nav.tokens"),
)

register({"ru": {"nav.rosters": "Смены"}, "en": {"nav.rosters": "Shifts"}})


def visible(session: AdminSession) -> list[NavItem]:
    """The items the session's role may open, in menu order."""
    return [item for item in NAV if session.role in item.roles]
