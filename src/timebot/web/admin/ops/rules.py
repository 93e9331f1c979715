"""`/bitrix/app/rules`: the portal's rules (reminders, digest, location policy, retention, Work
Time mirroring, calendar country, REST API CORS origins) for administrators.

The save reads the portal row under its lock, changes only the keys the form changed and keeps
every other key of `portals.settings` (the gateway's bookkeeping lives there too), and writes
one audit entry per changed key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from timebot.reports.production_calendar import calendar_for
from timebot.web.admin.ops.common import PREFIX, load_portal, not_found
from timebot.web.admin.ops.rules_form import (
    FIELDS,
    FieldError,
    RulesSubmission,
    effective,
    form_values,
    parse_rules,
)
from timebot.web.admin.render import redirect, render
from timebot.web.admin.session import AdminSession, check_csrf, container_of, require_admin

__all__ = ["router"]

router = APIRouter()
PATH = f"{PREFIX}/rules"
GROUPS = ("reminders", "digest", "location", "integration")
SHOWN_FIELD = "shown"
MAX_SHOWN = 64 * 1024


def _known_country(code: str) -> bool:
    try:
        calendar_for(code, 2026)
    except ValueError:
        return False
    return True


def _page(
    request: Request,
    session: AdminSession,
    values: Mapping[str, Any],
    settings: Mapping[str, Any] | None,
    *,
    shown: Mapping[str, Any] | None = None,
    errors: tuple[FieldError, ...] = (),
    status_code: int = 200,
) -> HTMLResponse:
    by_field = {e.key: e for e in errors}
    # What the page shows as saved, posted back to tell the fields the person changed.
    baseline = shown if shown is not None else form_values(settings)
    return render(
        request,
        session,
        "admin/ops_rules.html",
        active="rules",
        status_code=status_code,
        groups=[(g, [f for f in FIELDS if f.group == g]) for g in GROUPS],
        values=values,
        applied=effective(settings),
        errors=errors,
        by_field=by_field,
        shown_json=json.dumps(baseline, ensure_ascii=False, sort_keys=True),
    )


@router.get(PATH, response_class=HTMLResponse)
async def rules_page(request: Request, session: AdminSession = Depends(require_admin)) -> Response:
    """The portal's rules as a form."""
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        portal = await load_portal(uow, session)
        settings = dict(portal.settings or {})
    return _page(request, session, form_values(settings), settings)


def _form_dict(form: Any) -> dict[str, list[str]]:
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}


def _shown(form: Mapping[str, list[str]]) -> dict[str, Any] | None:
    """The baseline the page posted back (None when missing or unreadable)."""
    raw = form.get(SHOWN_FIELD) or []
    if len(raw) != 1 or len(raw[0]) > MAX_SHOWN:
        return None
    try:
        value = json.loads(raw[0])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@router.post(PATH, response_class=HTMLResponse)
async def rules_save(
    request: Request,
    session: AdminSession = Depends(require_admin),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Save the rules: only what changed, under the portal's row lock, audited per key."""
    container = container_of(request)
    form = _form_dict(await request.form())
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        portal = await uow.portals.lock(session.portal_id)
        if portal is None:
            raise not_found(session)
        current = dict(portal.settings or {})
        shown = _shown(form)
        submission: RulesSubmission = parse_rules(
            form, current, known_country=_known_country, shown=shown
        )
        if not submission.ok:
            return _page(
                request,
                session,
                submission.echo,
                current,
                shown=shown,
                errors=submission.errors,
                status_code=422,
            )
        if not submission.changes:
            return redirect(PATH, flash="flash.ops_rules_unchanged")
        portal.settings = submission.apply(current)
        portal.updated_at = now
        for change in submission.changes:
            uow.audit.record(
                portal_id=portal.id,
                at=now,
                actor=session.actor,
                action="rules.removed" if change.removed else "rules.changed",
                entity="portal_settings",
                entity_id=change.key,
                details={"key": change.key, "old": change.old, "new": change.new},
            )
        await uow.commit()
    return redirect(PATH, flash="flash.ops_rules_saved")
