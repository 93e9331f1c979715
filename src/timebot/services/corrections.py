"""Corrections with approval: a person asks to add or move one mark, a manager decides.

Nothing in the record changes until approval. An approved correction is a new mark (source
"correction", `at` = the claimed time) that points at the mark it replaces, or at nothing when
a missing mark is added; the replaced mark stays in the table, so the history is whole and the
day is assembled from the marks left standing. Request and decision go to the audit log.

A request is checked before anyone is bothered: the time is not in the future, the day's marks
with the change still form a legal sequence (`timebot.domain.workday.assemble` ignores nothing
new), and somebody other than the person may decide it (a head of one of their departments,
up the tree, or a portal administrator). Approval checks the sequence again, since the day may
have changed in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from timebot.domain.marks import Mark, MarkKind, WorkState
from timebot.domain.timezones import as_utc, local_day_bounds
from timebot.domain.workday import assemble, state_of
from timebot.services.tracking import Person, to_domain
from timebot.storage import UnitOfWork
from timebot.storage.repositories.corrections import CorrectionRepository
from timebot.storage.repositories.marks import MarkRepository
from timebot.storage.repositories.people import DepartmentRepository, EmployeeRepository
from timebot.storage.tables import Correction, CorrectionDecision, Employee
from timebot.storage.tables import Mark as MarkRow

__all__ = [
    "MAX_AGE",
    "CorrectionPlan",
    "CorrectionProblem",
    "CorrectionRefused",
    "Decided",
    "DecisionProblem",
    "DecisionRefused",
    "Requested",
    "approvers_of",
    "claimed_instant",
    "decide",
    "plan_correction",
    "request_correction",
]

# How far back a correction may reach.
MAX_AGE = timedelta(days=31)
# Marks read before the corrected day, so the replay starts from a closed day.
LOOKBACK = timedelta(days=7)
# Within this of an existing mark of the same kind, the request changes nothing.
SAME_TIME = timedelta(seconds=60)


class CorrectionProblem(StrEnum):
    """Why a request cannot be sent (machine-readable, for a friendly answer)."""

    FUTURE = "future"  # the claimed time has not come yet
    TOO_OLD = "too_old"  # older than MAX_AGE
    UNCHANGED = "unchanged"  # a mark of that kind already stands at that time
    NO_DAY = "no_day"  # a break or check-out while no work day was open then
    CONFLICT = "conflict"  # the day's marks would no longer make sense
    PENDING = "pending"  # the same change already waits for a decision
    NO_APPROVER = "no_approver"  # nobody but the person could decide it


class DecisionProblem(StrEnum):
    NOT_FOUND = "not_found"
    SELF = "self"  # one's own request
    NOT_ALLOWED = "not_allowed"  # neither a head of the person nor an administrator
    ALREADY_DECIDED = "already_decided"
    STALE = "stale"  # the day changed since the request; it no longer applies


@dataclass(frozen=True, slots=True)
class CorrectionPlan:
    """What approval would do: add `kind` at `claimed_at`, replacing `target` (or nothing)."""

    kind: MarkKind
    claimed_at: datetime
    local_date: date
    target: Mark | None
    day_marks: tuple[Mark, ...]  # the day's standing marks now (for the approver's eyes)
    approvers: tuple[int, ...]  # Bitrix user ids, nearest head first


@dataclass(frozen=True, slots=True)
class CorrectionRefused:
    problem: CorrectionProblem
    kind: MarkKind
    claimed_at: datetime
    local_date: date
    day_marks: tuple[Mark, ...] = ()
    pending_id: int | None = None


@dataclass(frozen=True, slots=True)
class Requested:
    correction_id: int
    plan: CorrectionPlan
    reason: str


@dataclass(frozen=True, slots=True)
class Decided:
    correction: Correction
    decision: CorrectionDecision
    employee: Employee
    target: Mark | None
    mark_id: int | None  # the correction mark written on approval

    @property
    def approved(self) -> bool:
        return self.decision.decision == "approved"


@dataclass(frozen=True, slots=True)
class DecisionRefused:
    problem: DecisionProblem
    correction: Correction | None = None
    decision: CorrectionDecision | None = None  # the earlier decision (ALREADY_DECIDED)
    employee: Employee | None = None


def claimed_instant(local: time, tz: ZoneInfo, now: datetime, days_ago: int | None) -> datetime:
    """The UTC instant of the wall time `local` on the day the person means.

    `days_ago` 0 = today, 1 = yesterday; None = today, or yesterday when that time of today has
    not come yet ("left at 18:05" written the next morning).
    """
    today = now.astimezone(tz).date()
    back = 0 if days_ago is None else days_ago
    at = as_utc(datetime.combine(today - timedelta(days=back), local, tzinfo=tz))
    if days_ago is None and at > now:
        at = as_utc(datetime.combine(today - timedelta(days=1), local, tzinfo=tz))
    return at


# --- checking ------------------------------------------------------------------------------------


def _legal(marks: Sequence[Mark], target: Mark | None, new: Mark, tz: ZoneInfo) -> bool:
    """True when `new` in place of `target` is accepted and makes no other mark illegal."""
    before = {m.id for m in assemble(marks, tz).ignored}
    changed = [m for m in marks if target is None or m.id != target.id]
    after = assemble([*changed, new], tz)
    return all(m is not new and m.id in before for m in after.ignored)


def _day_marks(marks: Sequence[Mark], tz: ZoneInfo, local_date: date) -> tuple[Mark, ...]:
    """Marks of the work days that began on `local_date`, and stray marks dated that day."""
    related: set[int | None] = set()
    for day in assemble(marks, tz).days:
        if day.local_date == local_date:
            related.update(m.id for m in day.marks)
    return tuple(m for m in marks if m.id in related or m.at.astimezone(tz).date() == local_date)


def _candidates(
    marks: Sequence[Mark], tz: ZoneInfo, kind: MarkKind, claimed_at: datetime
) -> list[Mark]:
    """Marks of `kind` the request may mean to replace: on the claimed date or in the work day
    around the claimed time; provisional ones (an automatic close) first, then the nearest."""
    local_date = claimed_at.astimezone(tz).date()
    related: set[int | None] = set()
    for day in assemble(marks, tz).days:
        if day.local_date == local_date or day.started_at <= claimed_at <= day.counted_until:
            related.update(m.id for m in day.marks)
    found = [
        m
        for m in marks
        if m.kind is kind and (m.id in related or m.at.astimezone(tz).date() == local_date)
    ]
    return sorted(found, key=lambda m: (not m.provisional, abs(m.at - claimed_at)))


async def _standing(uow: UnitOfWork, employee_id: int, since: datetime) -> list[Mark]:
    rows = await MarkRepository(uow.session).standing(employee_id, since=since)
    return [to_domain(r) for r in rows]


async def approvers_of(uow: UnitOfWork, portal_id: int, employee: Employee) -> tuple[int, ...]:
    """Who may decide the employee's requests: their heads (nearest first), then the portal's
    administrators; never the employee themself."""
    heads = await DepartmentRepository(uow.session).heads_of(portal_id, employee)
    admins = [a.bitrix_user_id for a in await CorrectionRepository(uow.session).admins(portal_id)]
    out: list[int] = []
    for uid in [*heads, *admins]:
        if uid != employee.bitrix_user_id and uid not in out:
            out.append(uid)
    return tuple(out)


async def plan_correction(
    uow: UnitOfWork, person: Person, kind: MarkKind, claimed_at: datetime, *, now: datetime
) -> CorrectionPlan | CorrectionRefused:
    """Check a request and find the mark it replaces, writing nothing."""
    tz = person.tz
    claimed_at = as_utc(claimed_at)
    local_date = claimed_at.astimezone(tz).date()

    def refuse(
        problem: CorrectionProblem, day: Sequence[Mark] = (), pending: int | None = None
    ) -> CorrectionRefused:
        return CorrectionRefused(problem, kind, claimed_at, local_date, tuple(day), pending)

    if claimed_at > now:
        return refuse(CorrectionProblem.FUTURE)
    if now - claimed_at > MAX_AGE:
        return refuse(CorrectionProblem.TOO_OLD)
    since = local_day_bounds(local_date, tz)[0] - LOOKBACK
    marks = await _standing(uow, person.employee_id, since)
    day = _day_marks(marks, tz, local_date)
    new = Mark(kind, claimed_at)
    candidates = _candidates(marks, tz, kind, claimed_at)
    if any(abs(m.at - claimed_at) < SAME_TIME for m in candidates):
        return refuse(CorrectionProblem.UNCHANGED, day)
    chosen: list[Mark | None] = [
        target for target in [*candidates, None] if _legal(marks, target, new, tz)
    ]
    if not chosen:
        earlier = [m for m in marks if m.at < claimed_at]
        off = state_of(earlier) is WorkState.OFF
        problem = (
            CorrectionProblem.NO_DAY
            if off and kind is not MarkKind.CHECK_IN
            else CorrectionProblem.CONFLICT
        )
        return refuse(problem, day)
    target = chosen[0]
    for waiting in await CorrectionRepository(uow.session).pending(person.employee_id):
        if waiting.kind != kind.value:
            continue
        same_target = target is not None and waiting.target_mark_id == target.id
        same_gap = (
            target is None
            and waiting.target_mark_id is None
            and as_utc(waiting.claimed_at).astimezone(tz).date() == local_date
        )
        if same_target or same_gap:
            return refuse(CorrectionProblem.PENDING, day, waiting.id)
    employee = await EmployeeRepository(uow.session).get(person.employee_id)
    if employee is None:
        raise LookupError(f"employee {person.employee_id} is gone")
    approvers = await approvers_of(uow, person.portal_id, employee)
    if not approvers:
        return refuse(CorrectionProblem.NO_APPROVER, day)
    return CorrectionPlan(kind, claimed_at, local_date, target, day, approvers)


async def request_correction(
    uow: UnitOfWork,
    person: Person,
    kind: MarkKind,
    claimed_at: datetime,
    *,
    reason: str,
    requested_by: int,
    now: datetime,
) -> Requested | CorrectionRefused:
    """Check the request and store it (with an audit entry) inside the caller's transaction."""
    plan = await plan_correction(uow, person, kind, claimed_at, now=now)
    if isinstance(plan, CorrectionRefused):
        return plan
    reason = reason.strip()
    row = CorrectionRepository(uow.session).add(
        Correction(
            portal_id=person.portal_id,
            employee_id=person.employee_id,
            requested_at=now,
            kind=kind.value,
            target_mark_id=plan.target.id if plan.target else None,
            claimed_at=plan.claimed_at,
            reason=reason,
            requested_by=requested_by,
        )
    )
    await uow.flush()
    uow.audit.record(
        portal_id=person.portal_id,
        at=now,
        actor=f"user:{requested_by}",
        action="correction.requested",
        entity="correction",
        entity_id=row.id,
        details={
            "employee_id": person.employee_id,
            "kind": kind.value,
            "claimed_at": plan.claimed_at.isoformat(),
            "target_mark_id": plan.target.id if plan.target else None,
            "reason": reason,
            "approvers": list(plan.approvers),
        },
    )
    return Requested(row.id, plan, reason)


# --- deciding ------------------------------------------------------------------------------------


async def decide(
    uow: UnitOfWork,
    portal_id: int,
    correction_id: int,
    *,
    approve: bool,
    by_user_id: int,
    now: datetime,
    comment: str = "",
) -> Decided | DecisionRefused:
    """Approve or reject a request, once, as a head of the person or a portal administrator.

    Approval writes the correction mark and the decision together; a second decision (or a
    concurrent one that lost) comes back as ALREADY_DECIDED with the winner's row.
    """
    corrections = CorrectionRepository(uow.session)
    correction = await corrections.get(correction_id)
    if correction is None or correction.portal_id != portal_id:
        return DecisionRefused(DecisionProblem.NOT_FOUND)
    employee = await EmployeeRepository(uow.session).get(correction.employee_id)
    if employee is None:
        return DecisionRefused(DecisionProblem.NOT_FOUND, correction)
    if by_user_id == employee.bitrix_user_id:
        return DecisionRefused(DecisionProblem.SELF, correction, employee=employee)
    if by_user_id not in await approvers_of(uow, portal_id, employee):
        return DecisionRefused(DecisionProblem.NOT_ALLOWED, correction, employee=employee)
    earlier = await corrections.decision_of(correction.id)
    if earlier is not None:
        return DecisionRefused(DecisionProblem.ALREADY_DECIDED, correction, earlier, employee)

    marks = MarkRepository(uow.session)
    target_row = await marks.get(correction.target_mark_id) if correction.target_mark_id else None
    target = to_domain(target_row) if target_row is not None else None
    kind = MarkKind(correction.kind)
    claimed_at = as_utc(correction.claimed_at)
    mark: MarkRow | None = None
    if approve:
        if target is not None and await corrections.is_superseded(target.id or 0):
            return DecisionRefused(DecisionProblem.STALE, correction, employee=employee)
        lo = min(claimed_at, target.at) if target is not None else claimed_at
        standing = await _standing(uow, employee.id, lo - LOOKBACK)
        # Legality does not depend on the zone; UTC only names the days.
        if not _legal(standing, target, Mark(kind, claimed_at), ZoneInfo("UTC")):
            return DecisionRefused(DecisionProblem.STALE, correction, employee=employee)
        mark = MarkRow(
            portal_id=portal_id,
            employee_id=employee.id,
            kind=kind.value,
            at=claimed_at,
            claimed_at=claimed_at,
            recorded_at=now,
            source="correction",
            flags=[],
            provisional=False,
            supersedes_mark_id=target.id if target is not None else None,
            correction_id=correction.id,
        )
    decision = CorrectionDecision(
        portal_id=portal_id,
        correction_id=correction.id,
        decision="approved" if approve else "rejected",
        decided_by=by_user_id,
        decided_at=now,
        comment=comment.strip(),
    )
    if not await corrections.add_decision(decision, mark):
        winner = await corrections.decision_of(correction.id)
        return DecisionRefused(DecisionProblem.ALREADY_DECIDED, correction, winner, employee)
    uow.audit.record(
        portal_id=portal_id,
        at=now,
        actor=f"user:{by_user_id}",
        action=f"correction.{decision.decision}",
        entity="correction",
        entity_id=correction.id,
        details={
            "employee_id": employee.id,
            "kind": kind.value,
            "claimed_at": claimed_at.isoformat(),
            "mark_id": mark.id if mark is not None else None,
            "supersedes_mark_id": target.id if target is not None else None,
            "comment": decision.comment,
        },
    )
    return Decided(correction, decision, employee, target, mark.id if mark is not None else None)
