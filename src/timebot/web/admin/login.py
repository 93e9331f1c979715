"""Signing in and out of the admin UI.

- `POST /bitrix/app`: Bitrix24 opens the application page (placement DEFAULT) with the user's
  `AUTH_ID`. The portal named by `member_id` must be installed and active, `DOMAIN` must be
  its domain and `APPLICATION_TOKEN` our application's token there; the user token is then
  checked by calling `user.current` and `user.admin` at the portal's stored REST endpoint
  (never at an address from the request), without any token refresh: a forged or stale
  `AUTH_ID` fails and nothing is issued. On success the session cookie is set and the browser
  is sent on to `GET /bitrix/app`.
- `GET|POST /bitrix/app/login/{token}`: the standalone sign-in link the bot sends on `admin`.
  GET shows a page whose form (sent at once by script) POSTs back; only the POST uses the
  link up, so a link previewer fetching the URL does not burn it.
- `POST /bitrix/app/logout`, `POST /bitrix/app/lang`: end the session, switch the language.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from timebot.bitrix import BitrixClient, BitrixError, MalformedEvent, PortalAuth, parse_app_frame
from timebot.bitrix.errors import QueryLimitExceeded, ServerError, TransportError
from timebot.bot.admin import (
    LINK_TTL,
    AdminLinkError,
    check_admin_link,
    read_admin_token,
    use_admin_link,
)
from timebot.bot.i18n import lang_of
from timebot.logs import get_logger
from timebot.web.admin.i18n import LANGUAGES
from timebot.web.admin.render import redirect, render_bare
from timebot.web.admin.scope import standing_of
from timebot.web.admin.session import (
    AdminDenied,
    AdminSession,
    check_csrf,
    clear_cookie,
    container_of,
    frame_host,
    new_session,
    set_cookie,
)
from timebot.web.bitrix import BadRequest, read_payload

log = get_logger(__name__)

router = APIRouter(prefix="/bitrix/app", tags=["admin"])

BASE = "/bitrix/app"
_TRUE = {"true", "y", "1", "yes"}


def _is_true(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


async def _verify(
    request: Request, portal_id: int, auth: PortalAuth, lang: str, host: str
) -> tuple[int, bool]:
    """(Bitrix user id, is administrator) of the token's owner, asked of the portal itself."""
    container = container_of(request)
    # No refresher: an expired user token must fail, not be swapped for the application's.
    client = BitrixClient(
        container.http,
        container.bitrix.limiter,
        refresher=None,
        max_retries=1,
        backoff_max=2.0,
        clock=container.clock,
    )
    try:
        answer = await client.batch(auth, {"me": ("user.current", {}), "admin": ("user.admin", {})})
    except (TransportError, ServerError, QueryLimitExceeded) as exc:
        log.warning("admin.login.unreachable", portal_id=portal_id, error=str(exc))
        raise AdminDenied(502, "denied.portal_unreachable", lang=lang, frame_host=host) from exc
    except BitrixError as exc:
        log.warning("admin.login.unverified", portal_id=portal_id, error=exc.code)
        raise AdminDenied(403, "denied.unverified", lang=lang, frame_host=host) from exc
    me = answer.results.get("me")
    raw_id = me.get("ID") if isinstance(me, dict) else None
    if answer.errors or raw_id is None or not str(raw_id).isdigit():
        log.warning("admin.login.unverified", portal_id=portal_id, errors=list(answer.errors))
        raise AdminDenied(403, "denied.unverified", lang=lang, frame_host=host)
    return int(str(raw_id)), _is_true(answer.results.get("admin"))


@router.post("", include_in_schema=False)
async def placement(request: Request) -> Response:
    """Bitrix24 opens the application page: verify the user with the portal, start a session."""
    container = container_of(request)
    query_lang = lang_of(request.query_params.get("LANG"))
    try:
        frame = parse_app_frame(await read_payload(request), dict(request.query_params))
    except (BadRequest, MalformedEvent, ValueError) as exc:
        raise AdminDenied(400, "denied.bad_request", lang=query_lang, detail=str(exc)) from exc
    lang = lang_of(frame.language)
    claimed_host = f"{'https' if frame.https else 'http'}://{frame.domain}"
    async with container.database.unit_of_work() as uow:
        portal = await uow.portals.by_member_id(frame.member_id)
        if portal is None or portal.status != "active":
            raise AdminDenied(401, "denied.not_installed", lang=lang, frame_host=claimed_host)
        lang = lang_of(frame.language, portal.language)
        if portal.domain.lower() != frame.domain:
            log.warning("admin.login.domain_mismatch", portal_id=portal.id, domain=frame.domain)
            raise AdminDenied(403, "denied.domain_mismatch", lang=lang, frame_host=claimed_host)
        host = frame_host(portal)
        portal_id = portal.id
        # Our application's token on this portal, which Bitrix24 sends only to us: a user token
        # obtained by another application of the same portal does not come with it.
        stored = (portal.application_token or "").encode()
        if not stored or not hmac.compare_digest(frame.application_token.encode(), stored):
            log.warning("admin.login.foreign_application", portal_id=portal.id)
            raise AdminDenied(403, "denied.unverified", lang=lang, frame_host=host)
        # The stored endpoint, never one from the request: the token goes only to its portal.
        auth = PortalAuth.oauth(portal.member_id, portal.client_endpoint, frame.access_token)
    user_id, is_admin = await _verify(request, portal_id, auth, lang, host)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        standing = await standing_of(uow, portal_id, user_id, is_admin=is_admin)
        if standing.employee_id is not None:
            employee = await uow.employees.get(standing.employee_id)
            if employee is not None and employee.is_admin != is_admin:
                # Bitrix24 tells an application only the caller's own rights: remember them
                # for sign-ins by link and for the bot.
                employee.is_admin = is_admin
        uow.audit.record(
            portal_id=portal_id,
            at=now,
            actor=f"user:{user_id}",
            action="admin.login",
            entity="session",
            details={"via": "placement", "role": standing.role},
        )
        await uow.commit()
    session = new_session(
        portal_id=portal_id,
        user_id=user_id,
        employee_id=standing.employee_id,
        role=standing.role,
        department_ids=standing.department_ids,
        language=lang_of(frame.language, standing.language, lang),
        now=now,
    )
    log.info("admin.login", portal_id=portal_id, user_id=user_id, role=session.role)
    response = RedirectResponse(BASE, status_code=303)
    set_cookie(response, container, session)
    return response


def _link_lang(request: Request) -> str:
    header = request.headers.get("accept-language", "")
    return lang_of(*(part.split(";")[0] for part in header.split(",")))


@router.get("/login/{token}", include_in_schema=False)
async def login_link_page(token: str, request: Request) -> Response:
    """The standalone sign-in link: a page whose form signs in (sent at once by script)."""
    container = container_of(request)
    secret = container.settings.secret_key.get_secret_value()
    now = container.clock.now()
    lang = _link_lang(request)
    try:
        claim = read_admin_token(secret, token, now)
        async with container.database.unit_of_work() as uow:
            await check_admin_link(uow, claim, now)
            employee = await uow.employees.get(claim.employee_id)
            portal = await uow.portals.get(claim.portal_id)
            if employee is not None and portal is not None:
                lang = lang_of(employee.language, portal.language)
    except AdminLinkError as bad:
        status = 410 if bad.reason in ("used", "expired") else 404
        raise AdminDenied(status, "denied.link_invalid", lang=lang) from bad
    response = render_bare(
        "admin/login_link.html",
        lang=lang,
        action=f"{BASE}/login/{token}",
        minutes=int(LINK_TTL.total_seconds() // 60),
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.post("/login/{token}", include_in_schema=False)
async def login_link_use(token: str, request: Request) -> Response:
    """Use the sign-in link up and start a session."""
    container = container_of(request)
    secret = container.settings.secret_key.get_secret_value()
    now = container.clock.now()
    lang = _link_lang(request)
    try:
        claim = read_admin_token(secret, token, now)
        async with container.database.unit_of_work() as uow:
            portal = await uow.portals.get(claim.portal_id)
            employee = await uow.employees.get(claim.employee_id)
            if (
                portal is None
                or portal.status != "active"
                or employee is None
                or employee.portal_id != portal.id
                or not employee.active
            ):
                raise AdminLinkError("unknown")
            await use_admin_link(uow, claim, now)
            standing = await standing_of(
                uow, portal.id, employee.bitrix_user_id, is_admin=employee.is_admin
            )
            lang = lang_of(employee.language, portal.language)
            uow.audit.record(
                portal_id=portal.id,
                at=now,
                actor=f"user:{employee.bitrix_user_id}",
                action="admin.login",
                entity="session",
                details={"via": "link", "role": standing.role},
            )
            await uow.commit()
            user_id, portal_id = employee.bitrix_user_id, portal.id
    except AdminLinkError as bad:
        status = 410 if bad.reason in ("used", "expired") else 404
        raise AdminDenied(status, "denied.link_invalid", lang=lang) from bad
    session = new_session(
        portal_id=portal_id,
        user_id=user_id,
        employee_id=standing.employee_id,
        role=standing.role,
        department_ids=standing.department_ids,
        language=lang,
        now=now,
    )
    log.info("admin.login", portal_id=portal_id, user_id=user_id, role=session.role, via="link")
    response = RedirectResponse(BASE, status_code=303)
    set_cookie(response, container, session)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, session: AdminSession = Depends(check_csrf)) -> Response:
    """End the session (the cookie is dropped)."""
    container = container_of(request)
    response = render_bare(
        "admin/logged_out.html",
        lang=session.language,
        frame_host=str(getattr(request.state, "admin_frame_host", "") or ""),
    )
    clear_cookie(response, container)
    return response


def _safe_next(value: Any) -> str:
    """Only our own admin paths: no open redirect."""
    text = value if isinstance(value, str) else ""
    if text == BASE or (text.startswith(BASE + "/") and "//" not in text and "\\" not in text):
        return text
    return BASE


@router.post("/lang", include_in_schema=False)
async def switch_language(
    request: Request, session: AdminSession = Depends(check_csrf)
) -> Response:
    """Switch the interface language for this session."""
    form = await request.form()
    lang = form.get("lang")
    if lang not in LANGUAGES:
        raise AdminDenied(400, "denied.bad_request", lang=session.language, detail="lang")
    response = redirect(_safe_next(form.get("next")), flash="flash.language")
    set_cookie(response, container_of(request), session.with_language(str(lang)))
    return response
