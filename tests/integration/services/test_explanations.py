"""Explain & approve on real SQLite and PostgreSQL: a request made once however often it is
asked, who may ask and decide, answers replaced until a decision, one decision of concurrent
taps, and an accepted explanation excusing the violation in the managers' digest.

The org chart: department 1 (head user 1) over department 2 (head user 2); users 3 and 4 work
in department 2; user 5 is a portal administrator in department 3 (no head). Times are Moscow
(UTC+3); 23 November 2026 is a Monday, the default schedule 09:00–18:00 allows arriving until
09:10.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from timebot.bot.people import person_for, plan_for
from timebot.domain.violations import ViolationKind
from timebot.gateway.install import NEW_PORTAL_DEFAULTS
from timebot.jobs.digest import collect_digests
from timebot.services.digest import DigestRules, ManagerDigest, digest_window
from timebot.services.explanations import (
    Answered,
    AnswerProblem,
    AnswerRefused,
    Asked,
    AskProblem,
    AskRefused,
    DecideProblem,
    DecideRefused,
    ExplainTarget,
    ExplanationDecided,
    answer_explanation,
    decide_explanation,
    find_violation,
    request_explanation,
)
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.tables import AuditEntry, Department, Employee, Explanation, Mark, Portal

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
MONDAY = date(2026, 11, 23)
TUESDAY_0900 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK).astimezone(UTC)


@dataclass
class World:
    db: Database
    portal_id: int
    ids: dict[int, int]  # Bitrix user id → employee id

    def late(
        self, user_id: int = 3, kind: ViolationKind = ViolationKind.LATE_START
    ) -> ExplainTarget:
        return ExplainTarget(self.ids[user_id], MONDAY, kind)

    async def ask(
        self, target: ExplainTarget, by: int, now: datetime = TUESDAY_0900
    ) -> Asked | AskRefused:
        async with self.db.unit_of_work() as uow:
            result = await request_explanation(uow, self.portal_id, target, by_user_id=by, now=now)
            await uow.commit()
            return result

    async def answer(
        self, explanation_id: int, by: int, reason: str, now: datetime = TUESDAY_0900
    ) -> Answered | AnswerRefused:
        async with self.db.unit_of_work() as uow:
            result = await answer_explanation(
                uow, self.portal_id, explanation_id, by_user_id=by, reason=reason, now=now
            )
            await uow.commit()
            return result

    async def decide(
        self, explanation_id: int, by: int, *, accept: bool, now: datetime = TUESDAY_0900
    ) -> ExplanationDecided | DecideRefused:
        async with self.db.unit_of_work() as uow:
            result = await decide_explanation(
                uow, self.portal_id, explanation_id, accept=accept, by_user_id=by, now=now
            )
            await uow.commit()
            return result

    async def rows(self) -> list[Explanation]:
        async with self.db.unit_of_work() as uow:
            found = list(await uow.session.scalars(select(Explanation).order_by(Explanation.id)))
            uow.session.expunge_all()
            return found

    async def audit(self) -> list[tuple[str, str, str | None]]:
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.scalars(
                select(AuditEntry).where(AuditEntry.entity == "explanation").order_by(AuditEntry.id)
            )
            return [(r.action, r.actor, r.entity_id) for r in rows]

    async def digest_of(self, manager: int, now: datetime = TUESDAY_0900) -> ManagerDigest:
        async with self.db.unit_of_work() as uow:
            portal = await uow.portals.get(self.portal_id)
            assert portal is not None
            digests, _ = await collect_digests(
                uow, portal, MONDAY, now=now, country="RU", rules=DigestRules(send_empty=True)
            )
        return next(d for d in digests if d.manager_user_id == manager)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    await upgrade(database_url)
    db = Database.from_url(database_url)
    async with db.unit_of_work() as uow:
        portal = Portal(
            member_id="m1",
            domain="x.bitrix24.ru",
            client_endpoint="https://x.bitrix24.ru/rest/",
            connection="oauth",
            language="ru",
            timezone="Europe/Moscow",
            installed_at=T0,
            updated_at=T0,
            settings={},
            **NEW_PORTAL_DEFAULTS,
        )
        uow.portals.add(portal)
        await uow.flush()
        for bitrix_id, parent, head in ((1, None, 1), (2, 1, 2), (3, None, None)):
            uow.session.add(
                Department(
                    portal_id=portal.id,
                    bitrix_id=bitrix_id,
                    name=f"Dept {bitrix_id}",
                    parent_bitrix_id=parent,
                    head_user_id=head,
                    synced_at=T0,
                )
            )
        ids: dict[int, int] = {}
        for user_id, department, admin in ((1, 1, False), (2, 2, False), (3, 2, False),
                                            (4, 2, False), (5, 3, True)):  # fmt: skip
            row = Employee(
                portal_id=portal.id,
                bitrix_user_id=user_id,
                name=f"User {user_id}",
                timezone="Europe/Moscow",
                department_ids=[department],
                is_admin=admin,
                remote_weekdays=[],
                created_at=T0,
            )
            uow.session.add(row)
            await uow.flush()
            ids[user_id] = row.id
        # Monday: user 3 comes at 09:40 (late), user 4 on time; both work 8:05 with an hour's
        # lunch.
        for user_id, came, left in ((3, msk(23, 9, 40), msk(23, 18, 45)),
                                    (4, msk(23, 8, 55), msk(23, 18, 0))):  # fmt: skip
            day = (("check_in", came), ("break_start", msk(23, 13)),
                   ("break_end", msk(23, 14)), ("check_out", left))  # fmt: skip
            for kind, at in day:
                uow.session.add(
                    Mark(
                        portal_id=portal.id,
                        employee_id=ids[user_id],
                        kind=kind,
                        at=at,
                        recorded_at=at,
                        source="chat",
                        location_verdict="inside",
                        flags=[],
                        provisional=False,
                    )
                )
        await uow.commit()
        portal_id = portal.id
    try:
        yield World(db, portal_id, ids)
    finally:
        await db.dispose()


async def test_a_request_is_made_once_however_often_it_is_asked(world: World) -> None:
    first = await world.ask(world.late(), by=2)
    assert isinstance(first, Asked)
    assert first.fresh
    assert first.approvers == (2, 5)  # the head of department 2, then the administrator
    row = first.explanation
    assert (row.status, row.local_date, row.violation_kind) == ("requested", MONDAY, "late_start")
    assert row.requested_at == TUESDAY_0900

    again = await world.ask(world.late(), by=2, now=TUESDAY_0900 + timedelta(hours=1))
    assert isinstance(again, Asked)
    assert not again.fresh
    assert again.explanation.id == row.id
    by_admin = await world.ask(world.late(), by=5)
    assert isinstance(by_admin, Asked)
    assert (by_admin.fresh, by_admin.explanation.id) == (False, row.id)
    [stored] = await world.rows()
    assert stored.requested_at == TUESDAY_0900  # the first request stands

    # Two managers pressing at the same moment still make one row.
    other = world.late(kind=ViolationKind.SHORT_DAY)
    both = await asyncio.gather(world.ask(other, by=2), world.ask(other, by=5))
    assert all(isinstance(r, Asked) for r in both)
    assert len({r.explanation.id for r in both if isinstance(r, Asked)}) == 1
    assert sorted(r.fresh for r in both if isinstance(r, Asked)) == [False, True]
    assert len(await world.rows()) == 2
    audit = await world.audit()
    assert [a[0] for a in audit] == ["explanation.requested", "explanation.requested"]
    assert audit[0] == ("explanation.requested", "user:2", str(row.id))


async def test_only_heads_and_administrators_may_ask(world: World) -> None:
    target = world.late()
    for by, problem in ((4, AskProblem.NOT_ALLOWED), (3, AskProblem.SELF),
                        (1, AskProblem.NOT_ALLOWED), (99, AskProblem.NOT_ALLOWED)):  # fmt: skip
        refused = await world.ask(target, by=by)
        assert isinstance(refused, AskRefused), by
        assert refused.problem is problem
    # The head of sales asks about himself: only the administrator may.
    refused = await world.ask(ExplainTarget(world.ids[2], MONDAY, ViolationKind.ABSENT), by=2)
    assert isinstance(refused, AskRefused)
    assert refused.problem is AskProblem.SELF
    nobody = await world.ask(ExplainTarget(10_000, MONDAY, ViolationKind.ABSENT), by=2)
    assert isinstance(nobody, AskRefused)
    assert nobody.problem is AskProblem.NOT_FOUND
    future = await world.ask(ExplainTarget(world.ids[3], date(2026, 11, 26), target.kind), by=2)
    assert isinstance(future, AskRefused)
    assert future.problem is AskProblem.FUTURE
    old = await world.ask(ExplainTarget(world.ids[3], date(2026, 6, 1), target.kind), by=2)
    assert isinstance(old, AskRefused)
    assert old.problem is AskProblem.TOO_OLD
    assert await world.rows() == []
    assert await world.audit() == []
    assert isinstance(await world.ask(target, by=5), Asked)  # the administrator may


async def test_answers_replace_each_other_until_one_decision(world: World) -> None:
    asked = await world.ask(world.late(), by=2)
    assert isinstance(asked, Asked)
    eid = asked.explanation.id

    early = await world.decide(eid, 2, accept=True)
    assert isinstance(early, DecideRefused)
    assert early.problem is DecideProblem.NOT_ANSWERED

    wrong = await world.answer(eid, 4, "пробки")
    assert isinstance(wrong, AnswerRefused)
    assert wrong.problem is AnswerProblem.NOT_YOURS
    empty = await world.answer(eid, 3, "   ")
    assert isinstance(empty, AnswerRefused)
    assert empty.problem is AnswerProblem.EMPTY

    at = TUESDAY_0900 + timedelta(minutes=5)
    first = await world.answer(eid, 3, "Пробки/транспорт", at)
    assert isinstance(first, Answered)
    assert (first.replaced, first.approvers) == (False, (2, 5))
    assert (first.explanation.status, first.explanation.reason) == ("answered", "Пробки/транспорт")
    assert first.explanation.answered_at == at
    second = await world.answer(eid, 3, "  Был   у клиента ", at + timedelta(minutes=1))
    assert isinstance(second, Answered)
    assert second.replaced
    [row] = await world.rows()
    assert (row.status, row.reason) == ("answered", "Был у клиента")
    assert row.answered_at == at + timedelta(minutes=1)

    for by, problem in ((3, DecideProblem.SELF), (4, DecideProblem.NOT_ALLOWED)):
        refused = await world.decide(eid, by, accept=True)
        assert isinstance(refused, DecideRefused)
        assert refused.problem is problem

    decided_at = at + timedelta(minutes=10)
    decided = await world.decide(eid, 2, accept=False, now=decided_at)
    assert isinstance(decided, ExplanationDecided)
    assert not decided.accepted
    [row] = await world.rows()
    assert (row.status, row.decided_by, row.decided_at) == ("rejected", 2, decided_at)

    late_answer = await world.answer(eid, 3, "на самом деле болел")
    assert isinstance(late_answer, AnswerRefused)
    assert late_answer.problem is AnswerProblem.DECIDED
    again = await world.decide(eid, 5, accept=True)
    assert isinstance(again, DecideRefused)
    assert again.problem is DecideProblem.ALREADY_DECIDED
    assert again.explanation is not None
    assert (again.explanation.status, again.explanation.decided_by) == ("rejected", 2)

    # Asking again after a rejection opens it anew (the old answer stays in the audit log).
    reopened = await world.ask(world.late(), by=2, now=decided_at + timedelta(hours=1))
    assert isinstance(reopened, Asked)
    assert reopened.fresh
    assert reopened.explanation.id == eid
    [row] = await world.rows()
    assert (row.status, row.reason, row.decided_by) == ("requested", None, None)
    assert [(a, actor) for a, actor, _ in await world.audit()] == [
        ("explanation.requested", "user:2"),
        ("explanation.answered", "user:3"),
        ("explanation.answered", "user:3"),
        ("explanation.rejected", "user:2"),
        ("explanation.requested", "user:2"),
    ]


async def test_of_concurrent_taps_exactly_one_decides(world: World) -> None:
    for round_ in range(3):
        target = ExplainTarget(world.ids[3], MONDAY - timedelta(days=round_), ViolationKind.ABSENT)
        asked = await world.ask(target, by=2)
        assert isinstance(asked, Asked)
        eid = asked.explanation.id
        assert isinstance(await world.answer(eid, 3, "болел"), Answered)
        taps = [(2, True), (5, False), (2, False), (5, True)]
        results = await asyncio.gather(
            *(world.decide(eid, by, accept=accept) for by, accept in taps)
        )
        won = [
            (tap, r)
            for tap, r in zip(taps, results, strict=True)
            if isinstance(r, ExplanationDecided)
        ]
        assert len(won) == 1, results
        (by, accept), winner = won[0]
        lost = [r for r in results if isinstance(r, DecideRefused)]
        assert [r.problem for r in lost] == [DecideProblem.ALREADY_DECIDED] * 3
        row = next(r for r in await world.rows() if r.id == eid)
        assert row.status == ("accepted" if accept else "rejected")
        assert row.decided_by == by
        assert winner.explanation.status == row.status
        for r in lost:
            assert r.explanation is not None
            assert (r.explanation.status, r.explanation.decided_by) == (row.status, by)
        decisions = [
            a
            for a in await world.audit()
            if a[2] == str(eid) and a[0] not in ("explanation.requested", "explanation.answered")
        ]
        assert decisions == [(f"explanation.{row.status}", f"user:{by}", str(eid))]


async def test_an_accepted_explanation_excuses_the_violation_in_the_digest(world: World) -> None:
    before = await world.digest_of(2)
    lines = [(line.user_id, line.violation.kind) for line in before.lines]
    assert lines == [(3, ViolationKind.LATE_START)]  # user 4 came on time
    assert before.excused == 0

    # The violation as the explanation request sees it.
    async with world.db.unit_of_work() as uow:
        portal = await uow.portals.get(world.portal_id)
        employee = await uow.session.get(Employee, world.ids[3])
        assert portal is not None
        assert employee is not None
        person = await person_for(uow, portal, employee)
        first, last = digest_window(MONDAY)
        plan = await plan_for(uow, portal, person, start=first, end=last, country="RU")
        found = await find_violation(
            uow, person, plan, MONDAY, ViolationKind.LATE_START, now=TUESDAY_0900
        )
        missing = await find_violation(
            uow, person, plan, MONDAY, ViolationKind.ABSENT, now=TUESDAY_0900
        )
    assert found is not None
    assert missing is None
    assert found.actual is not None
    assert found.allowed is not None
    assert (found.actual.strftime("%H:%M"), found.allowed.strftime("%H:%M")) == ("09:40", "09:10")
    assert found.minutes == 40

    asked = await world.ask(world.late(), by=2)
    assert isinstance(asked, Asked)
    eid = asked.explanation.id
    pending = await world.digest_of(2)
    [line] = pending.lines
    assert line.note is not None
    assert line.note.status == "requested"

    assert isinstance(await world.answer(eid, 3, "Пробки/транспорт"), Answered)
    answered = await world.digest_of(2)
    [line] = answered.lines
    assert line.note is not None
    assert (line.note.status, line.note.reason) == ("answered", "Пробки/транспорт")

    # Declined: still listed, with the answer and the outcome.
    declined = await world.decide(eid, 2, accept=False)
    assert isinstance(declined, ExplanationDecided)
    rejected = await world.digest_of(2)
    [line] = rejected.lines
    assert line.note is not None
    assert (line.note.status, line.note.reason) == ("rejected", "Пробки/транспорт")
    assert rejected.excused == 0

    # Asked again, answered again, accepted: the digest no longer lists it.
    again = await world.ask(world.late(), by=2)
    assert isinstance(again, Asked)
    assert again.fresh
    assert isinstance(await world.answer(eid, 3, "Был(а) у клиента/на встрече"), Answered)
    decided = await world.decide(eid, 5, accept=True)
    assert isinstance(decided, ExplanationDecided)
    assert decided.accepted
    after = await world.digest_of(2, TUESDAY_0900 + timedelta(minutes=1))
    assert after.lines == ()
    assert after.excused == 1
    assert after.people == 2
