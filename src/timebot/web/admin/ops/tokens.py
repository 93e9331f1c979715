"""`/bitrix/app/tokens`: REST API tokens for administrators — issue (name, scopes, expiry), list,
revoke — through `services.api_tokens`.

A new token is shown once, on the answer to the form that issued it (never stored, never in a
URL); the list shows only records. Expiry is a date in the portal's zone: the token works to the
end of that day; an empty date means until revoked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from timebot.domain.timezones import as_utc
from timebot.services.api_tokens import (
    NAME_MAX,
    SCOPES,
    InvalidTokenRequest,
    issue_token,
    list_tokens,
    revoke_token,
    signing_key_from_secret,
)
from timebot.storage import UnitOfWork
from timebot.web.admin.ops.common import PREFIX, load_portal, not_found, parse_date, portal_zone
from timebot.web.admin.render import redirect, render
from timebot.web.admin.session import AdminSession, check_csrf, container_of, require_admin

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "router"]

router = APIRouter()
PATH = f"{PREFIX}/tokens"
DEFAULT_DAYS = 90
MAX_DAYS = 5 * 366


async def _page(
    request: Request,
    session: AdminSession,
    uow: UnitOfWork,
    *,
    form: Mapping[str, Any] | None = None,
    errors: Sequence[tuple[str, Mapping[str, Any]]] = (),
    issued: str | None = None,
    issued_name: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    container = container_of(request)
    portal = await load_portal(uow, session)
    tz = portal_zone(portal)
    now = container.clock.now()
    today = now.astimezone(tz).date()
    records = await list_tokens(uow, portal_id=portal.id)
    shown = form or {
        "name": "",
        "scopes": [],
        "expires_on": (today + timedelta(days=DEFAULT_DAYS)).isoformat(),
    }
    return render(
        request,
        session,
        "admin/ops_tokens.html",
        active="tokens",
        status_code=status_code,
        records=records,
        now=now,
        tz=tz,
        scopes=list(SCOPES),
        form=shown,
        errors=list(errors),
        issued=issued,
        issued_name=issued_name,
        today=today.isoformat(),
        name_max=NAME_MAX,
    )


@router.get(PATH, response_class=HTMLResponse)
async def tokens_page(request: Request, session: AdminSession = Depends(require_admin)) -> Response:
    """The portal's API tokens and the form to issue one."""
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        return await _page(request, session, uow)


def _expiry(text: str, today: date, tz: Any) -> datetime | str | None:
    """The end of the chosen day in the portal's zone, None for "never", or an error key."""
    parsed = parse_date(text)
    if parsed is None:
        return None
    if isinstance(parsed, ValueError):
        return "ops.tokens.error.date"
    if parsed < today:
        return "ops.tokens.error.past"
    if parsed > today + timedelta(days=MAX_DAYS):
        return "ops.tokens.error.too_far"
    return as_utc(datetime.combine(parsed + timedelta(days=1), time(), tzinfo=tz))


@router.post(PATH, response_class=HTMLResponse)
async def tokens_issue(
    request: Request,
    session: AdminSession = Depends(require_admin),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Issue a token and show it once."""
    container = container_of(request)
    form = await request.form()
    name = str(form.get("name") or "").strip()
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
    expires_on = str(form.get("expires_on") or "").strip()
    echo = {
        "name": name[:200],
        "scopes": [s for s in scopes if s in SCOPES],
        "expires_on": expires_on,
    }
    errors: list[tuple[str, Mapping[str, Any]]] = []
    if not name:
        errors.append(("ops.tokens.error.name", {}))
    elif len(" ".join(name.split())) > NAME_MAX:
        errors.append(("ops.tokens.error.name_long", {"max": NAME_MAX}))
    if not scopes:
        errors.append(("ops.tokens.error.scopes", {}))
    elif any(s not in SCOPES for s in scopes):
        errors.append(("ops.tokens.error.unknown_scope", {}))
    async with container.database.unit_of_work() as uow:
        portal = await load_portal(uow, session)
        tz = portal_zone(portal)
        today = container.clock.now().astimezone(tz).date()
        expires_at = _expiry(expires_on, today, tz)
        if isinstance(expires_at, str):
            errors.append((expires_at, {"max": MAX_DAYS}))
        if errors or isinstance(expires_at, str):
            return await _page(request, session, uow, form=echo, errors=errors, status_code=422)
        try:
            token, record = await issue_token(
                uow,
                portal_id=portal.id,
                name=name,
                scopes=scopes,
                expires_at=expires_at,
                created_by=session.user_id,
                clock=container.clock,
                signing_key=signing_key_from_secret(
                    container.settings.secret_key.get_secret_value()
                ),
            )
        except InvalidTokenRequest as bad:
            await uow.rollback()
            return await _page(
                request,
                session,
                uow,
                form=echo,
                errors=[("ops.tokens.error.refused", {"detail": str(bad)})],
                status_code=422,
            )
        await uow.commit()
        return await _page(request, session, uow, issued=token, issued_name=record.name)


@router.post(f"{PATH}/{{token_id}}/revoke", response_class=HTMLResponse)
async def tokens_revoke(
    token_id: int,
    request: Request,
    session: AdminSession = Depends(require_admin),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Revoke a token: it stops working on the next request."""
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        record = await revoke_token(
            uow,
            clock=container.clock,
            token_id=token_id,
            portal_id=session.portal_id,
            revoked_by=session.user_id,
        )
        if record is None:
            raise not_found(session)
        await uow.commit()
    return redirect(PATH, flash="flash.ops_token_revoked")
