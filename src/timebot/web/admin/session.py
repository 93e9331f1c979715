"""The admin session: who is signed in, in which portal and role, carried in a signed cookie.

The cookie `timebot_admin` holds the session fields sealed with HMAC (`services.links.sign`,
with a key derived from TIMEBOT_SECRET_KEY for this purpose only) and lives 8 hours. On an https
public URL it is `Secure; SameSite=None; Partitioned`, so that it works inside the Bitrix24
iframe; on plain http (development, tests) it is `SameSite=Lax`.

FastAPI dependencies: `current_session` (401 page when none or expired), `require_admin`,
`require_manager` (403 page for others) and `check_csrf` (403 unless the form field
`csrf_token` or the header `X-CSRF-Token` matches the session's token).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from fastapi import Depends, Request
from fastapi.responses import Response

from timebot.bootstrap import Container
from timebot.services.links import BadLink, sign, verify
from timebot.storage.tables import Portal

__all__ = [
    "COOKIE_NAME",
    "LIFETIME",
    "AdminDenied",
    "AdminSession",
    "Role",
    "check_csrf",
    "clear_cookie",
    "container_of",
    "current_session",
    "decode_session",
    "encode_session",
    "new_session",
    "require_admin",
    "require_manager",
    "set_cookie",
]

Role = Literal["admin", "head", "employee"]
ROLES: Final[tuple[Role, ...]] = ("admin", "head", "employee")

COOKIE_NAME: Final = "timebot_admin"
COOKIE_PATH: Final = "/bitrix/app"
LIFETIME: Final = timedelta(hours=8)
PURPOSE: Final = "admin-session"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
# Forms of the admin UI are small; anything bigger is refused before it is parsed.
MAX_FORM_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class AdminSession:
    """A signed-in person: portal, Bitrix24 user, role and what they may manage."""

    portal_id: int
    user_id: int  # Bitrix24 user id
    employee_id: int | None  # employees.id, when the person is synced
    role: Role
    department_ids: frozenset[int]  # departments.id the person heads, with all sub-departments
    language: str  # "ru" | "en"
    csrf_token: str
    expires_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_manager(self) -> bool:
        """An administrator or a department head."""
        return self.role in ("admin", "head")

    @property
    def actor(self) -> str:
        """How audit entries name this person."""
        return f"user:{self.user_id}"

    def may_manage(self, department_id: int | None) -> bool:
        """Administrators manage everything; heads their departments (`departments.id`)."""
        if self.is_admin:
            return True
        if self.role != "head" or department_id is None:
            return False
        return department_id in self.department_ids

    def with_language(self, language: str) -> AdminSession:
        return replace(self, language="en" if language == "en" else "ru")


class AdminDenied(Exception):
    """Answered with an HTML page (see `timebot.web.admin.denied_page`): 400, 401, 403, 404,
    502. `reason` is an i18n key; `lang` the page's language."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        lang: str = "ru",
        frame_host: str = "",
        detail: str = "",
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.lang = lang
        self.detail = detail
        # The portal's origin that may frame the page (login errors show inside Bitrix24).
        self.frame_host = frame_host


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _key(container: Container) -> str:
    """The cookie's own key, derived from TIMEBOT_SECRET_KEY (no other token verifies with it)."""
    secret = container.settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, b"timebot.admin-session.v1", hashlib.sha256).hexdigest()


def new_session(
    *,
    portal_id: int,
    user_id: int,
    employee_id: int | None,
    role: Role,
    department_ids: frozenset[int],
    language: str,
    now: datetime,
) -> AdminSession:
    """A fresh session with its own CSRF token, valid for `LIFETIME` (whole seconds)."""
    return AdminSession(
        portal_id=portal_id,
        user_id=user_id,
        employee_id=employee_id,
        role=role,
        department_ids=department_ids,
        language="en" if language == "en" else "ru",
        csrf_token=secrets.token_urlsafe(24),
        expires_at=(now + LIFETIME).replace(microsecond=0),
    )


def encode_session(key: str, session: AdminSession) -> str:
    payload: dict[str, str | int] = {
        "p": session.portal_id,
        "u": session.user_id,
        "e": session.employee_id or 0,
        "r": session.role,
        "d": ",".join(str(d) for d in sorted(session.department_ids)),
        "l": session.language,
        "c": session.csrf_token,
        "t": int(session.expires_at.timestamp()),
    }
    return sign(key, PURPOSE, payload, session.expires_at)


def decode_session(key: str, token: str, now: datetime) -> AdminSession | None:
    """The session in a cookie value, None when it is invalid, altered or expired."""
    try:
        payload = verify(key, PURPOSE, token, now)
    except (BadLink, ValueError):
        return None
    p, u, e, r = payload.get("p"), payload.get("u"), payload.get("e"), payload.get("r")
    d, lang, csrf = payload.get("d"), payload.get("l"), payload.get("c")
    expires = payload.get("t")
    if not (
        isinstance(expires, int)
        and isinstance(p, int)
        and isinstance(u, int)
        and isinstance(e, int)
        and r in ROLES
        and isinstance(d, str)
        and isinstance(lang, str)
        and isinstance(csrf, str)
        and csrf
    ):
        return None
    try:
        departments = frozenset(int(x) for x in d.split(",") if x)
    except ValueError:
        return None
    return AdminSession(
        portal_id=p,
        user_id=u,
        employee_id=e or None,
        role=r,
        department_ids=departments,
        language="en" if lang == "en" else "ru",
        csrf_token=csrf,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


def _https(container: Container) -> bool:
    return (container.settings.public_url or "").lower().startswith("https://")


def set_cookie(response: Response, container: Container, session: AdminSession) -> None:
    """Attach the session cookie: iframe-fit on https, Lax on plain http."""
    value = encode_session(_key(container), session)
    max_age = int(LIFETIME.total_seconds())
    if _https(container):
        # Starlette writes `Partitioned` only on Python 3.14+: write the header ourselves.
        response.headers.append(
            "set-cookie",
            f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path={COOKIE_PATH}; "
            "HttpOnly; Secure; SameSite=None; Partitioned",
        )
    else:
        response.set_cookie(
            COOKIE_NAME,
            value,
            max_age=max_age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
        )


def clear_cookie(response: Response, container: Container) -> None:
    if _https(container):
        response.headers.append(
            "set-cookie",
            f"{COOKIE_NAME}=; Max-Age=0; Path={COOKIE_PATH}; "
            "HttpOnly; Secure; SameSite=None; Partitioned",
        )
    else:
        response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="lax")


def _preferred_lang(request: Request) -> str:
    header = request.headers.get("accept-language", "").lower()
    return "en" if header.startswith("en") else "ru"


async def current_session(request: Request) -> AdminSession:
    """The signed-in person (FastAPI dependency); a 401 page when there is none or it expired,
    or when the portal is no longer installed."""
    cached = getattr(request.state, "admin_session", None)
    if isinstance(cached, AdminSession):
        return cached
    container = container_of(request)
    lang = _preferred_lang(request)
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        raise AdminDenied(401, "denied.no_session", lang=lang)
    session = decode_session(_key(container), raw, container.clock.now())
    if session is None:
        raise AdminDenied(401, "denied.expired", lang=lang)
    async with container.database.unit_of_work() as uow:
        portal = await uow.portals.get(session.portal_id)
        if portal is None or portal.status != "active":
            raise AdminDenied(401, "denied.portal_gone", lang=session.language)
        request.state.admin_frame_host = frame_host(portal)
    request.state.admin_session = session
    return session


def frame_host(portal: Portal) -> str:
    """The portal's origin, for `frame-ancestors` (`https://x.bitrix24.ru`)."""
    scheme = "http" if portal.client_endpoint.lower().startswith("http://") else "https"
    return f"{scheme}://{portal.domain}"


async def require_admin(session: AdminSession = Depends(current_session)) -> AdminSession:
    """A portal administrator, else a 403 page."""
    if not session.is_admin:
        raise AdminDenied(403, "denied.admin_only", lang=session.language)
    return session


async def require_manager(session: AdminSession = Depends(current_session)) -> AdminSession:
    """An administrator or a department head, else a 403 page."""
    if not session.is_manager:
        raise AdminDenied(403, "denied.managers_only", lang=session.language)
    return session


async def check_csrf(
    request: Request, session: AdminSession = Depends(current_session)
) -> AdminSession:
    """For every state-changing request: the form field `csrf_token` or the header
    `X-CSRF-Token` must equal the session's token (compared in constant time), else 403."""
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_FORM_BYTES:
            raise AdminDenied(400, "denied.too_large", lang=session.language)
        content_type = request.headers.get("content-type", "")
        if "form" in content_type:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise AdminDenied(403, "denied.csrf", lang=session.language)
    return session
