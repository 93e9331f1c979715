"""Small pieces the operations pages share: the path prefix, the portal of a session, refusals."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from timebot.domain.timezones import resolve_zone
from timebot.storage import UnitOfWork
from timebot.storage.tables import Portal
from timebot.web.admin.session import AdminDenied, AdminSession

__all__ = [
    "PREFIX",
    "bad_request",
    "clean_text",
    "load_portal",
    "not_found",
    "parse_date",
    "parse_int",
    "portal_zone",
]

PREFIX = "/bitrix/app"


def not_found(session: AdminSession) -> AdminDenied:
    """404 for an id that is not there or belongs to another portal (no difference shown)."""
    return AdminDenied(404, "denied.not_found", lang=session.language)


def bad_request(session: AdminSession, detail: str) -> AdminDenied:
    return AdminDenied(400, "denied.bad_request", lang=session.language, detail=detail)


async def load_portal(uow: UnitOfWork, session: AdminSession) -> Portal:
    portal = await uow.portals.get(session.portal_id)
    if portal is None:
        raise not_found(session)
    return portal


def portal_zone(portal: Portal) -> ZoneInfo:
    return resolve_zone(None, None, portal.timezone)


def clean_text(text: str, limit: int) -> str:
    """User text fit for storage and queries: control characters (NUL breaks PostgreSQL's text)
    become spaces, runs of white space one space, at most `limit` characters."""
    cleaned = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return " ".join(cleaned.split())[:limit]


def parse_date(text: str | None) -> date | ValueError | None:
    """ "2026-11-23" → a date; "" or None → None; anything else → the ValueError."""
    if not text or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        return exc


def parse_int(text: str | None) -> int | None:
    """A positive whole number, else None."""
    if text is None:
        return None
    text = text.strip()
    if not text.isdigit() or len(text) > 12:
        return None
    value = int(text)
    return value if value > 0 else None
