"""The approval queue: corrections nobody has decided and explanations waiting for a manager,
and deciding them from the web with the chat's own services and the chat's own words.

A decision goes through `services.corrections.decide` / `services.explanations.decide_explanation`
(the same checks, the same superseding mark, the same audit entry as a tap in the chat), and the
employee is told in their chat exactly what the chat flow tells them (`bot.corrections` /
`bot.explanations` texts), queued in the decision's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, select

from timebot.bitrix import Keyboard, escape
from timebot.bitrix.bbcode import user_mention
from timebot.bot.corrections import change_text
from timebot.bot.corrections import mention as correction_mention
from timebot.bot.explanations import subject
from timebot.bot.explanations import text as explanation_text
from timebot.bot.i18n import lang_of
from timebot.bot.i18n import t as bot_text
from timebot.bot.people import person_for, plan_for
from timebot.bot.replies import Reply
from timebot.bot.tracking import keyboard_for
from timebot.domain.timezones import as_utc
from timebot.domain.violations import Violation, ViolationKind
from timebot.gateway.config import GatewayConfig
from timebot.gateway.replies import enqueue_replies
from timebot.services.corrections import Decided, DecisionRefused, decide
from timebot.services.digest import digest_window
from timebot.services.explanations import (
    ANSWERED,
    REQUESTED,
    DecideRefused,
    ExplanationDecided,
    decide_explanation,
    find_violation,
)
from timebot.services.tracking import day_view
from timebot.storage import UnitOfWork
from timebot.storage.repositories.corrections import CorrectionRepository
from timebot.storage.repositories.people import managers_of
from timebot.storage.tables import (
    Correction,
    CorrectionDecision,
    Employee,
    Explanation,
    Mark,
    Portal,
)
from timebot.web.admin.ops.scope import Scope

__all__ = [
    "QUEUE_LIMIT",
    "CorrectionItem",
    "ExplanationItem",
    "decide_correction_from_web",
    "decide_explanation_from_web",
    "owner_of_correction",
    "owner_of_explanation",
    "pending_corrections",
    "pending_explanations",
]

# The page lists at most this many of each (oldest first); the rest waits for the next load.
QUEUE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class CorrectionItem:
    id: int
    employee_id: int
    user_id: int
    name: str
    kind: str
    claimed_at: datetime
    old_at: datetime | None  # the mark it replaces (None: a missing mark is added)
    old_provisional: bool
    reason: str
    requested_at: datetime
    requested_by: int
    can_decide: bool  # the viewer is among the approvers (and not the person)


@dataclass(frozen=True, slots=True)
class ExplanationItem:
    id: int
    employee_id: int
    user_id: int
    name: str
    local_date: date
    violation_kind: str
    status: str  # requested | answered
    reason: str | None
    requested_at: datetime
    answered_at: datetime | None
    can_decide: bool


async def _approvers(
    uow: UnitOfWork, portal_id: int, employees: Sequence[Employee]
) -> dict[int, tuple[int, ...]]:
    """`services.corrections.approvers_of` for many employees with the org chart read once."""
    departments = {d.bitrix_id: d for d in await uow.departments.all(portal_id)}
    admins = [a.bitrix_user_id for a in await CorrectionRepository(uow.session).admins(portal_id)]
    found: dict[int, tuple[int, ...]] = {}
    for e in employees:
        heads = managers_of(e.bitrix_user_id, e.department_ids or [], departments)
        out: list[int] = []
        for uid in [*heads, *admins]:
            if uid != e.bitrix_user_id and uid not in out:
                out.append(uid)
        found[e.id] = tuple(out)
    return found


def _name(employee: Employee) -> str:
    return employee.name or f"#{employee.bitrix_user_id}"


async def pending_corrections(
    uow: UnitOfWork, portal_id: int, scope: Scope, *, viewer_user_id: int
) -> list[CorrectionItem]:
    """Undecided corrections of the people in scope, oldest first."""
    decided = exists().where(CorrectionDecision.correction_id == Correction.id)
    query = (
        select(Correction, Employee, Mark)
        .join(Employee, Employee.id == Correction.employee_id)
        .outerjoin(Mark, Mark.id == Correction.target_mark_id)
        .where(Correction.portal_id == portal_id, ~decided)
        .order_by(Correction.requested_at, Correction.id)
    )
    rows = [(c, e, m) for c, e, m in (await uow.session.execute(query)).all() if scope.sees(e)]
    rows = rows[:QUEUE_LIMIT]
    approvers = await _approvers(uow, portal_id, [e for _, e, _ in rows])
    return [
        CorrectionItem(
            id=c.id,
            employee_id=e.id,
            user_id=e.bitrix_user_id,
            name=_name(e),
            kind=c.kind,
            claimed_at=as_utc(c.claimed_at),
            old_at=as_utc(m.at) if m is not None else None,
            old_provisional=bool(m.provisional) if m is not None else False,
            reason=c.reason,
            requested_at=as_utc(c.requested_at),
            requested_by=c.requested_by,
            can_decide=viewer_user_id in approvers[e.id],
        )
        for c, e, m in rows
    ]


async def pending_explanations(
    uow: UnitOfWork, portal_id: int, scope: Scope, *, viewer_user_id: int
) -> list[ExplanationItem]:
    """Explanations asked for (waiting for the person) or answered (waiting for a decision)."""
    query = (
        select(Explanation, Employee)
        .join(Employee, Employee.id == Explanation.employee_id)
        .where(
            Explanation.portal_id == portal_id,
            Explanation.status.in_((REQUESTED, ANSWERED)),
        )
        .order_by(Explanation.status.desc(), Explanation.requested_at, Explanation.id)
    )
    rows = [(x, e) for x, e in (await uow.session.execute(query)).all() if scope.sees(e)]
    rows = rows[:QUEUE_LIMIT]
    approvers = await _approvers(uow, portal_id, [e for _, e in rows])
    return [
        ExplanationItem(
            id=x.id,
            employee_id=e.id,
            user_id=e.bitrix_user_id,
            name=_name(e),
            local_date=x.local_date,
            violation_kind=x.violation_kind,
            status=x.status,
            reason=x.reason,
            requested_at=as_utc(x.requested_at),
            answered_at=as_utc(x.answered_at) if x.answered_at else None,
            can_decide=x.status == ANSWERED and viewer_user_id in approvers[e.id],
        )
        for x, e in rows
    ]


async def owner_of_correction(uow: UnitOfWork, portal_id: int, item_id: int) -> Employee | None:
    """The person a correction of this portal belongs to; None for another portal's id."""
    row = await CorrectionRepository(uow.session).get(item_id)
    if row is None or row.portal_id != portal_id:
        return None
    return await uow.employees.get(row.employee_id)


async def owner_of_explanation(uow: UnitOfWork, portal_id: int, item_id: int) -> Employee | None:
    row = await uow.session.get(Explanation, item_id)
    if row is None or row.portal_id != portal_id:
        return None
    return await uow.employees.get(row.employee_id)


# --- Deciding ------------------------------------------------------------------------------------


async def _keyboard_now(
    uow: UnitOfWork, portal: Portal, employee: Employee, *, now: datetime, country: str
) -> Keyboard:
    """The employee's tracking keyboard for their state now (as the chat answers with)."""
    person = await person_for(uow, portal, employee)
    today = now.astimezone(person.tz).date()
    plan = await plan_for(uow, portal, person, start=today, end=today, country=country)
    view = await day_view(uow, person, plan=plan, now=now)
    return keyboard_for(view.state, lang_of(employee.language, portal.language))


async def decide_correction_from_web(
    uow: UnitOfWork,
    portal: Portal,
    correction_id: int,
    *,
    approve: bool,
    by_user_id: int,
    now: datetime,
    config: GatewayConfig,
    comment: str = "",
) -> Decided | DecisionRefused:
    """`services.corrections.decide`, then the employee's chat notice (the chat's wording),
    all in the caller's transaction (the caller commits)."""
    result = await decide(
        uow,
        portal.id,
        correction_id,
        approve=approve,
        by_user_id=by_user_id,
        now=now,
        comment=comment,
    )
    if isinstance(result, DecisionRefused):
        return result
    correction, employee = result.correction, result.employee
    outcome = "approved" if result.approved else "rejected"
    lang = lang_of(employee.language, portal.language)
    decider = await correction_mention(uow, portal, by_user_id)
    text = bot_text(
        f"correction_told_{outcome}",
        lang,
        id=correction.id,
        who=decider,
        change=change_text(correction.kind, as_utc(correction.claimed_at), result.target, lang),
    )
    if result.decision.comment:
        text += "[br]" + bot_text(
            "correction_comment", lang, comment=escape(result.decision.comment)
        )
    keyboard = await _keyboard_now(uow, portal, employee, now=now, country=config.bot.country)
    reply = Reply(str(employee.bitrix_user_id), text, keyboard)
    await enqueue_replies(uow, portal, [reply], now=now, config=config)
    return result


async def _violation_of(
    uow: UnitOfWork,
    portal: Portal,
    employee: Employee,
    row: Explanation,
    *,
    now: datetime,
    country: str,
) -> Violation | None:
    """The violation an explanation is about, rebuilt from the record (as the chat does)."""
    try:
        kind = ViolationKind(row.violation_kind)
    except ValueError:
        return None
    person = await person_for(uow, portal, employee)
    first, last = digest_window(row.local_date)
    plan = await plan_for(uow, portal, person, start=first, end=last, country=country)
    return await find_violation(uow, person, plan, row.local_date, kind, now=now)


async def decide_explanation_from_web(
    uow: UnitOfWork,
    portal: Portal,
    explanation_id: int,
    *,
    accept: bool,
    by_user_id: int,
    now: datetime,
    config: GatewayConfig,
) -> ExplanationDecided | DecideRefused:
    """`services.explanations.decide_explanation`, then the employee's chat notice."""
    result = await decide_explanation(
        uow, portal.id, explanation_id, accept=accept, by_user_id=by_user_id, now=now
    )
    if isinstance(result, DecideRefused):
        return result
    row, employee = result.explanation, result.employee
    country = config.bot.country
    violation = await _violation_of(uow, portal, employee, row, now=now, country=country)
    lang = lang_of(employee.language, portal.language)
    decider_row = await uow.employees.by_bitrix_id(portal.id, by_user_id)
    decider = user_mention(by_user_id, decider_row.name if decider_row else f"#{by_user_id}")
    text = explanation_text(
        f"told_{row.status}",
        lang,
        decider=decider,
        subject=subject(row.violation_kind, row.local_date, violation, lang, you=True),
        reason=escape(row.reason or ""),
    )
    await enqueue_replies(
        uow, portal, [Reply(str(employee.bitrix_user_id), text)], now=now, config=config
    )
    return result
