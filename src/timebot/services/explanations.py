"""Explain & approve: a manager asks a person to explain one violation of one day, the person
answers (a quick answer or their own words), a manager accepts or rejects it once.

An accepted explanation excuses that violation of that date (`services.digest.excuses_from`),
so the next digests no longer list it. Who may ask and decide: the person's heads (nearest
first) and the portal's administrators, never the person themself (`approvers_of`). Request,
answer and decision each leave an audit entry; the status moves only by conditional UPDATEs
(`storage.repositories.explanations`), so of two taps at once exactly one decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from timebot.domain.timezones import local_day_bounds
from timebot.domain.violations import Violation, ViolationKind
from timebot.domain.workday import assemble
from timebot.services.corrections import approvers_of
from timebot.services.digest import digest_window, person_day
from timebot.services.plans import WorkPlan
from timebot.services.tracking import OPEN_DAY_LOOKBACK, Person, to_domain
from timebot.storage import UnitOfWork
from timebot.storage.repositories.explanations import (
    ACCEPTED,
    ANSWERED,
    REJECTED,
    REQUESTED,
    ExplanationRepository,
)
from timebot.storage.repositories.marks import MarkRepository
from timebot.storage.repositories.people import EmployeeRepository
from timebot.storage.tables import Employee, Explanation

__all__ = [
    "ACCEPTED",
    "ANSWERED",
    "MAX_AGE",
    "MAX_REASON",
    "QUICK_REASONS",
    "REJECTED",
    "REQUESTED",
    "AnswerProblem",
    "AnswerRefused",
    "Answered",
    "AskProblem",
    "AskRefused",
    "Asked",
    "DecideProblem",
    "DecideRefused",
    "ExplainTarget",
    "ExplanationDecided",
    "answer_explanation",
    "decide_explanation",
    "find_violation",
    "parse_explain_params",
    "parse_id",
    "parse_reason_params",
    "request_explanation",
]

# How far back a violation may still be asked about.
MAX_AGE = timedelta(days=92)
# Longer answers are cut (a chat message, not a letter).
MAX_REASON = 1000
# Quick-answer codes, in button order; "other" asks for the person's own words.
QUICK_REASONS = ("traffic", "sick", "remote", "client", "agreed", "other")
# The latest local date anywhere on Earth (UTC+14): no later date has begun for anyone.
_EARLIEST_ZONE = timezone(timedelta(hours=14))


# --- Parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExplainTarget:
    """What `explain` points at: "<employee_id>:<YYYY-MM-DD>:<violation kind>"."""

    employee_id: int
    local_date: date
    kind: ViolationKind


def parse_explain_params(params: str) -> ExplainTarget | None:
    """ "12:2026-11-23:late_start" → the target; None when malformed."""
    parts = params.strip().split(":")
    if len(parts) != 3:
        return None
    employee, day, kind = (p.strip() for p in parts)
    if not employee.isdigit() or int(employee) <= 0:
        return None
    try:
        return ExplainTarget(int(employee), date.fromisoformat(day), ViolationKind(kind.lower()))
    except ValueError:
        return None


def parse_reason_params(params: str) -> tuple[int, str] | None:
    """ "7:traffic" → (7, "traffic"); None when malformed or the code is unknown."""
    number, sep, code = params.strip().partition(":")
    explanation_id = parse_id(number)
    code = code.strip().lower()
    if not sep or explanation_id is None or code not in QUICK_REASONS:
        return None
    return explanation_id, code


def parse_id(params: str) -> int | None:
    """ "7", "#7", "№7" → 7; None otherwise."""
    text = params.strip().lstrip("#№").strip()
    if not text.isdigit() or int(text) <= 0:
        return None
    return int(text)


# --- Asking --------------------------------------------------------------------------------------


class AskProblem(StrEnum):
    NOT_FOUND = "not_found"  # no such person on this portal
    INACTIVE = "inactive"  # the person left
    SELF = "self"  # one's own violation
    NOT_ALLOWED = "not_allowed"  # neither a head of the person nor an administrator
    FUTURE = "future"  # the date has not come yet
    TOO_OLD = "too_old"  # older than MAX_AGE


@dataclass(frozen=True, slots=True)
class Asked:
    """The explanation as it stands after the request.

    `fresh`: the person is to be asked now (a new request, or again after a rejection); else
    the request existed already and `explanation.status` says where it stands.
    """

    explanation: Explanation
    employee: Employee
    fresh: bool
    approvers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AskRefused:
    problem: AskProblem
    employee: Employee | None = None


async def request_explanation(
    uow: UnitOfWork,
    portal_id: int,
    target: ExplainTarget,
    *,
    by_user_id: int,
    now: datetime,
) -> Asked | AskRefused:
    """Ask the person to explain the violation, once per (person, date, kind).

    Asking again while the request waits changes nothing; after a rejection it asks anew.
    """
    employee = await EmployeeRepository(uow.session).get(target.employee_id)
    if employee is None or employee.portal_id != portal_id:
        return AskRefused(AskProblem.NOT_FOUND)
    if by_user_id == employee.bitrix_user_id:
        return AskRefused(AskProblem.SELF, employee)
    approvers = await approvers_of(uow, portal_id, employee)
    if by_user_id not in approvers:
        return AskRefused(AskProblem.NOT_ALLOWED, employee)
    if not employee.active:
        return AskRefused(AskProblem.INACTIVE, employee)
    if target.local_date > now.astimezone(_EARLIEST_ZONE).date():
        return AskRefused(AskProblem.FUTURE, employee)
    if target.local_date < (now - MAX_AGE).date():
        return AskRefused(AskProblem.TOO_OLD, employee)

    repo = ExplanationRepository(uow.session)
    row, created = await repo.ensure(
        portal_id, employee.id, target.local_date, target.kind.value, now=now
    )
    fresh = created
    if not created and row.status == REJECTED and await repo.reopen(row.id, now=now):
        fresh = True
        reloaded = await repo.get(row.id)
        assert reloaded is not None
        row = reloaded
    if fresh:
        uow.audit.record(
            portal_id=portal_id,
            at=now,
            actor=f"user:{by_user_id}",
            action="explanation.requested",
            entity="explanation",
            entity_id=row.id,
            details={
                "employee_id": employee.id,
                "local_date": target.local_date.isoformat(),
                "violation_kind": target.kind.value,
                "again": not created,
            },
        )
    return Asked(row, employee, fresh, approvers)


async def find_violation(
    uow: UnitOfWork,
    person: Person,
    plan: WorkPlan,
    local_date: date,
    kind: ViolationKind,
    *,
    now: datetime,
) -> Violation | None:
    """The violation as the digest saw it (from the standing marks and the plan), to put it in
    words; None when the record no longer shows it. `plan` must cover `digest_window(date)`."""
    first, last = digest_window(local_date)
    since = local_day_bounds(first, person.tz)[0] - OPEN_DAY_LOOKBACK
    rows = await MarkRepository(uow.session).standing(
        person.employee_id, since=since, until=now + timedelta(seconds=1)
    )
    dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    day = person_day(
        employee_id=person.employee_id,
        user_id=person.user_id,
        name="",
        department_ids=person.department_ids,
        local_date=local_date,
        work_days=assemble([to_domain(r) for r in rows], person.tz, now=now).days,
        expectations={d: plan.expected(d, person.tz) for d in dates},
        tz=person.tz,
        now=now,
        calendar=plan.calendar,
        marks=rows,
    )
    return next((v for v in day.violations if v.kind is kind), None)


# --- Answering -----------------------------------------------------------------------------------


class AnswerProblem(StrEnum):
    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"  # somebody else's explanation
    DECIDED = "decided"  # accepted or rejected already
    EMPTY = "empty"  # no words


@dataclass(frozen=True, slots=True)
class Answered:
    explanation: Explanation
    employee: Employee
    approvers: tuple[int, ...]  # who gets the card, nearest head first
    replaced: bool  # an earlier answer was replaced


@dataclass(frozen=True, slots=True)
class AnswerRefused:
    problem: AnswerProblem
    explanation: Explanation | None = None


async def answer_explanation(
    uow: UnitOfWork,
    portal_id: int,
    explanation_id: int,
    *,
    by_user_id: int,
    reason: str,
    now: datetime,
) -> Answered | AnswerRefused:
    """The person's answer; a later one replaces it until somebody decides."""
    repo = ExplanationRepository(uow.session)
    row = await repo.get(explanation_id)
    if row is None or row.portal_id != portal_id:
        return AnswerRefused(AnswerProblem.NOT_FOUND)
    employee = await EmployeeRepository(uow.session).get(row.employee_id)
    if employee is None or employee.bitrix_user_id != by_user_id:
        return AnswerRefused(AnswerProblem.NOT_YOURS, row)
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        return AnswerRefused(AnswerProblem.EMPTY, row)
    replaced = row.status == ANSWERED
    if not await repo.answer(row.id, reason, now=now):
        return AnswerRefused(AnswerProblem.DECIDED, await repo.get(row.id))
    row = await repo.get(row.id)
    assert row is not None
    uow.audit.record(
        portal_id=portal_id,
        at=now,
        actor=f"user:{by_user_id}",
        action="explanation.answered",
        entity="explanation",
        entity_id=row.id,
        details={"reason": reason, "replaced": replaced},
    )
    return Answered(row, employee, await approvers_of(uow, portal_id, employee), replaced)


# --- Deciding ------------------------------------------------------------------------------------


class DecideProblem(StrEnum):
    NOT_FOUND = "not_found"
    SELF = "self"
    NOT_ALLOWED = "not_allowed"
    NOT_ANSWERED = "not_answered"  # nothing to decide yet
    ALREADY_DECIDED = "already_decided"


@dataclass(frozen=True, slots=True)
class ExplanationDecided:
    explanation: Explanation
    employee: Employee

    @property
    def accepted(self) -> bool:
        return self.explanation.status == ACCEPTED


@dataclass(frozen=True, slots=True)
class DecideRefused:
    problem: DecideProblem
    explanation: Explanation | None = None  # as it stands (ALREADY_DECIDED: with the winner)
    employee: Employee | None = None


async def decide_explanation(
    uow: UnitOfWork,
    portal_id: int,
    explanation_id: int,
    *,
    accept: bool,
    by_user_id: int,
    now: datetime,
) -> ExplanationDecided | DecideRefused:
    """Accept or reject an answered explanation, once; a later or losing tap learns who won."""
    repo = ExplanationRepository(uow.session)
    row = await repo.get(explanation_id)
    if row is None or row.portal_id != portal_id:
        return DecideRefused(DecideProblem.NOT_FOUND)
    employee = await EmployeeRepository(uow.session).get(row.employee_id)
    if employee is None:
        return DecideRefused(DecideProblem.NOT_FOUND, row)
    if by_user_id == employee.bitrix_user_id:
        return DecideRefused(DecideProblem.SELF, row, employee)
    if by_user_id not in await approvers_of(uow, portal_id, employee):
        return DecideRefused(DecideProblem.NOT_ALLOWED, row, employee)
    if row.status in (ACCEPTED, REJECTED):
        return DecideRefused(DecideProblem.ALREADY_DECIDED, row, employee)
    if row.status != ANSWERED:
        return DecideRefused(DecideProblem.NOT_ANSWERED, row, employee)
    if not await repo.decide(row.id, accept=accept, by_user_id=by_user_id, now=now):
        current = await repo.get(row.id)
        decided = current is not None and current.status in (ACCEPTED, REJECTED)
        problem = DecideProblem.ALREADY_DECIDED if decided else DecideProblem.NOT_ANSWERED
        return DecideRefused(problem, current, employee)
    row = await repo.get(row.id)
    assert row is not None
    uow.audit.record(
        portal_id=portal_id,
        at=now,
        actor=f"user:{by_user_id}",
        action=f"explanation.{row.status}",
        entity="explanation",
        entity_id=row.id,
        details={
            "employee_id": employee.id,
            "local_date": row.local_date.isoformat(),
            "violation_kind": row.violation_kind,
            "reason": row.reason,
        },
    )
    return ExplanationDecided(row, employee)
