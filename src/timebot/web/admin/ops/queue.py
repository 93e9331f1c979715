"""`/bitrix/app/queue`: pending corrections and explanations with one-tap decisions.

Administrators see the whole portal, heads the people of their departments. A tap posts a form
(CSRF-checked) that decides through the chat's services and tells the employee in the chat;
a success answers 303 back to the queue with a note, a refusal shows the queue again with the
reason (404 unknown or out of view, 403 not theirs to decide, 409 decided already or stale).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from timebot.bot.corrections import kind_name
from timebot.bot.i18n import lang_of
from timebot.domain.violations import ViolationKind
from timebot.reports.digest import kind_label
from timebot.services.corrections import DecisionProblem, DecisionRefused
from timebot.services.explanations import DecideProblem, DecideRefused
from timebot.storage import UnitOfWork
from timebot.web.admin.ops.common import PREFIX, clean_text, load_portal, not_found, portal_zone
from timebot.web.admin.ops.queue_data import (
    decide_correction_from_web,
    decide_explanation_from_web,
    owner_of_correction,
    owner_of_explanation,
    pending_corrections,
    pending_explanations,
)
from timebot.web.admin.ops.scope import load_scope
from timebot.web.admin.render import redirect, render
from timebot.web.admin.session import AdminSession, check_csrf, container_of, require_manager

__all__ = ["router"]

router = APIRouter()
PATH = f"{PREFIX}/queue"
MAX_COMMENT = 500

CORRECTION_STATUS: dict[DecisionProblem, int] = {
    DecisionProblem.NOT_FOUND: 404,
    DecisionProblem.SELF: 403,
    DecisionProblem.NOT_ALLOWED: 403,
    DecisionProblem.ALREADY_DECIDED: 409,
    DecisionProblem.STALE: 409,
}
EXPLANATION_STATUS: dict[DecideProblem, int] = {
    DecideProblem.NOT_FOUND: 404,
    DecideProblem.SELF: 403,
    DecideProblem.NOT_ALLOWED: 403,
    DecideProblem.NOT_ANSWERED: 409,
    DecideProblem.ALREADY_DECIDED: 409,
}


async def _page(
    request: Request,
    session: AdminSession,
    uow: UnitOfWork,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    portal = await load_portal(uow, session)
    scope = await load_scope(uow, session)
    corrections = await pending_corrections(uow, portal.id, scope, viewer_user_id=session.user_id)
    explanations = await pending_explanations(uow, portal.id, scope, viewer_user_id=session.user_id)
    lang = lang_of(session.language)
    return render(
        request,
        session,
        "admin/ops_queue.html",
        active="queue",
        status_code=status_code,
        corrections=corrections,
        explanations=explanations,
        tz=portal_zone(portal),
        error=error,
        mark_kind=lambda kind: kind_name(kind, lang),
        violation_kind=lambda kind: _violation_label(kind, lang),
    )


def _violation_label(kind: str, lang: Literal["ru", "en"]) -> str:
    try:
        return kind_label(ViolationKind(kind), lang)
    except ValueError:
        return kind


@router.get(PATH, response_class=HTMLResponse)
async def queue_page(
    request: Request, session: AdminSession = Depends(require_manager)
) -> Response:
    """Corrections and explanations waiting for a decision."""
    container = container_of(request)
    async with container.database.unit_of_work() as uow:
        return await _page(request, session, uow)


async def _comment(request: Request) -> str:
    form = await request.form()
    value = form.get("comment")
    return clean_text(value, MAX_COMMENT) if isinstance(value, str) else ""


async def _decide_correction(
    request: Request, session: AdminSession, correction_id: int, *, approve: bool
) -> Response:
    container = container_of(request)
    comment = await _comment(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        portal = await load_portal(uow, session)
        owner = await owner_of_correction(uow, portal.id, correction_id)
        scope = await load_scope(uow, session)
        if owner is None or not scope.sees(owner):
            raise not_found(session)
        result = await decide_correction_from_web(
            uow,
            portal,
            correction_id,
            approve=approve,
            by_user_id=session.user_id,
            now=now,
            config=container.gateway,
            comment=comment,
        )
        if isinstance(result, DecisionRefused):
            await uow.rollback()
            if result.problem is DecisionProblem.NOT_FOUND:
                raise not_found(session)
            return await _page(
                request,
                session,
                uow,
                error=f"ops.queue.refused.correction_{result.problem.value}",
                status_code=CORRECTION_STATUS[result.problem],
            )
        await uow.commit()
    flash = "flash.ops_correction_approved" if result.approved else "flash.ops_correction_rejected"
    return redirect(PATH, flash=flash)


@router.post(f"{PATH}/corrections/{{correction_id}}/approve", response_class=HTMLResponse)
async def approve_correction(
    correction_id: int,
    request: Request,
    session: AdminSession = Depends(require_manager),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Approve a correction: the superseding mark is written, the employee told in the chat."""
    return await _decide_correction(request, session, correction_id, approve=True)


@router.post(f"{PATH}/corrections/{{correction_id}}/reject", response_class=HTMLResponse)
async def reject_correction(
    correction_id: int,
    request: Request,
    session: AdminSession = Depends(require_manager),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Reject a correction: the marks stay, the employee is told in the chat."""
    return await _decide_correction(request, session, correction_id, approve=False)


async def _decide_explanation(
    request: Request, session: AdminSession, explanation_id: int, *, accept: bool
) -> Response:
    container = container_of(request)
    now = container.clock.now()
    async with container.database.unit_of_work() as uow:
        portal = await load_portal(uow, session)
        owner = await owner_of_explanation(uow, portal.id, explanation_id)
        scope = await load_scope(uow, session)
        if owner is None or not scope.sees(owner):
            raise not_found(session)
        result = await decide_explanation_from_web(
            uow,
            portal,
            explanation_id,
            accept=accept,
            by_user_id=session.user_id,
            now=now,
            config=container.gateway,
        )
        if isinstance(result, DecideRefused):
            await uow.rollback()
            if result.problem is DecideProblem.NOT_FOUND:
                raise not_found(session)
            return await _page(
                request,
                session,
                uow,
                error=f"ops.queue.refused.explanation_{result.problem.value}",
                status_code=EXPLANATION_STATUS[result.problem],
            )
        await uow.commit()
    flash = (
        "flash.ops_explanation_accepted" if result.accepted else "flash.ops_explanation_rejected"
    )
    return redirect(PATH, flash=flash)


@router.post(f"{PATH}/explanations/{{explanation_id}}/accept", response_class=HTMLResponse)
async def accept_explanation(
    explanation_id: int,
    request: Request,
    session: AdminSession = Depends(require_manager),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Accept an explanation (the violation is excused); the employee is told in the chat."""
    return await _decide_explanation(request, session, explanation_id, accept=True)


@router.post(f"{PATH}/explanations/{{explanation_id}}/reject", response_class=HTMLResponse)
async def reject_explanation(
    explanation_id: int,
    request: Request,
    session: AdminSession = Depends(require_manager),
    _: AdminSession = Depends(check_csrf),
) -> Response:
    """Decline an explanation; the employee is told in the chat."""
    return await _decide_explanation(request, session, explanation_id, accept=False)
