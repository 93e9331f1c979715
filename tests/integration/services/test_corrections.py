"""Corrections with approval on real databases: a forgotten check-out added and approved, a
moved check-out rejected, an automatic close replaced, and every refusal on the way.

The org chart: department 1 (head user 1) over department 2 (head user 2); users 3 and 4 work
in department 2; department 3 stands alone without a head. Times are Moscow (UTC+3);
23 November 2026 is a Monday.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.support.rows import (
    department_row,
    employee_row,
    mark_row,
    migrated_with,
    portal_row,
    stored_person,
)
from timebot.domain.marks import MarkKind
from timebot.services.corrections import (
    CorrectionProblem,
    CorrectionRefused,
    Decided,
    DecisionProblem,
    DecisionRefused,
    Requested,
    claimed_instant,
    decide,
    request_correction,
)
from timebot.storage import Database
from timebot.storage.repositories.corrections import ConversationRepository, CorrectionRepository
from timebot.storage.repositories.marks import MarkRepository
from timebot.storage.tables import AuditEntry, Correction, CorrectionDecision, Mark

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant given as Moscow wall time in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK).astimezone(UTC)


@dataclass
class World:
    db: Database
    portal_id: int
    ids: dict[int, int]  # Bitrix user id → employee id

    async def add_employee(
        self, user_id: int, department: int | None, *, admin: bool = False
    ) -> int:
        async with self.db.unit_of_work() as uow:
            row = employee_row(
                self.portal_id,
                user_id,
                tz="Europe/Moscow",
                departments=[department] if department else [],
                is_admin=admin,
            )
            uow.session.add(row)
            await uow.commit()
            self.ids[user_id] = row.id
            return row.id

    async def mark(
        self, user_id: int, kind: MarkKind, at: datetime, *, provisional: bool = False
    ) -> int:
        async with self.db.unit_of_work() as uow:
            row = mark_row(
                self.portal_id,
                self.ids[user_id],
                kind,
                at,
                source="auto_close" if provisional else "chat",
                flags=["auto_closed"] if provisional else [],
                provisional=provisional,
            )
            uow.session.add(row)
            await uow.commit()
            return row.id

    async def request(
        self, user_id: int, kind: MarkKind, claimed: datetime, now: datetime, reason: str = "забыл"
    ) -> Requested | CorrectionRefused:
        async with self.db.unit_of_work() as uow:
            _, _, person = await stored_person(uow, self.portal_id, self.ids[user_id])
            result = await request_correction(
                uow, person, kind, claimed, reason=reason, requested_by=user_id, now=now
            )
            await uow.commit()
            return result

    async def decide(
        self, correction_id: int, *, approve: bool, by: int, now: datetime, comment: str = ""
    ) -> Decided | DecisionRefused:
        async with self.db.unit_of_work() as uow:
            result = await decide(
                uow,
                self.portal_id,
                correction_id,
                approve=approve,
                by_user_id=by,
                now=now,
                comment=comment,
            )
            await uow.commit()
            return result

    async def marks(self, user_id: int) -> list[Mark]:
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.scalars(
                select(Mark).where(Mark.employee_id == self.ids[user_id]).order_by(Mark.id)
            )
            out = list(rows)
            uow.session.expunge_all()
            return out

    async def standing(self, user_id: int) -> list[tuple[str, datetime]]:
        async with self.db.unit_of_work() as uow:
            rows = await MarkRepository(uow.session).standing(self.ids[user_id], since=T0)
            return [(r.kind, r.at) for r in rows]

    async def audit(self) -> list[tuple[str, str, str | None]]:
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.scalars(
                select(AuditEntry).where(AuditEntry.entity == "correction").order_by(AuditEntry.id)
            )
            return [(r.action, r.actor, r.entity_id) for r in rows]

    async def decisions(self) -> list[tuple[int, str, int, int | None]]:
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.scalars(
                select(CorrectionDecision).order_by(CorrectionDecision.id)
            )
            return [(r.correction_id, r.decision, r.decided_by, r.resulting_mark_id) for r in rows]


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db, portal_id = await migrated_with(database_url, portal_row())
    async with db.unit_of_work() as uow:
        for bitrix_id, parent, head in ((1, None, 1), (2, 1, 2), (3, None, None)):
            uow.session.add(department_row(portal_id, bitrix_id, parent=parent, head=head))
        await uow.commit()
    w = World(db, portal_id, {})
    for user_id, department in ((1, 1), (2, 2), (3, 2), (4, 2)):
        await w.add_employee(user_id, department)
    try:
        yield w
    finally:
        await db.dispose()


async def test_a_forgotten_check_out_is_added_on_approval(world: World) -> None:
    check_in = await world.mark(3, MarkKind.CHECK_IN, msk(23, 9, 5))
    next_morning = msk(24, 8, 30)
    # "ушла в 18:10" written the next morning means yesterday.
    claimed = claimed_instant(time(18, 10), MSK, next_morning, None)
    assert claimed == msk(23, 18, 10)
    asked = await world.request(3, MarkKind.CHECK_OUT, claimed, next_morning, "забыла отметиться")
    assert isinstance(asked, Requested)
    assert asked.plan.target is None  # a missing mark is added
    assert asked.plan.approvers == (2,)  # the head of department 2
    assert [m.id for m in asked.plan.day_marks] == [check_in]
    assert await world.standing(3) == [("check_in", msk(23, 9, 5))]  # nothing changes yet

    # Someone who is not a head of user 3, and user 3 themself, may not decide.
    refused = await world.decide(asked.correction_id, approve=True, by=4, now=next_morning)
    assert isinstance(refused, DecisionRefused)
    assert refused.problem is DecisionProblem.NOT_ALLOWED
    refused = await world.decide(asked.correction_id, approve=True, by=3, now=next_morning)
    assert isinstance(refused, DecisionRefused)
    assert refused.problem is DecisionProblem.SELF
    assert await world.decisions() == []

    decided_at = next_morning + timedelta(minutes=20)
    decided = await world.decide(asked.correction_id, approve=True, by=2, now=decided_at)
    assert isinstance(decided, Decided)
    assert decided.approved
    marks = await world.marks(3)
    assert [(m.kind, m.at, m.source) for m in marks] == [
        ("check_in", msk(23, 9, 5), "chat"),
        ("check_out", msk(23, 18, 10), "correction"),
    ]
    new = marks[1]
    assert new.id == decided.mark_id
    assert new.correction_id == asked.correction_id
    assert new.supersedes_mark_id is None
    assert new.recorded_at == decided_at
    assert await world.decisions() == [(asked.correction_id, "approved", 2, new.id)]
    assert await world.audit() == [
        ("correction.requested", "user:3", str(asked.correction_id)),
        ("correction.approved", "user:2", str(asked.correction_id)),
    ]

    # One decision only: a second tap, either way, says who decided.
    again = await world.decide(asked.correction_id, approve=False, by=2, now=decided_at)
    assert isinstance(again, DecisionRefused)
    assert again.problem is DecisionProblem.ALREADY_DECIDED
    assert again.decision is not None
    assert (again.decision.decision, again.decision.decided_by) == ("approved", 2)
    assert len(await world.marks(3)) == 2


async def test_a_moved_check_out_is_rejected_and_nothing_changes(world: World) -> None:
    await world.mark(3, MarkKind.CHECK_IN, msk(23, 9, 0))
    check_out = await world.mark(3, MarkKind.CHECK_OUT, msk(23, 17, 30))
    now = msk(23, 20, 0)
    asked = await world.request(3, MarkKind.CHECK_OUT, msk(23, 19, 0), now, "отчёт")
    assert isinstance(asked, Requested)
    assert asked.plan.target is not None
    assert asked.plan.target.id == check_out  # the existing check-out is the one to move
    decided = await world.decide(
        asked.correction_id, approve=False, by=2, now=now, comment="не подтверждаю"
    )
    assert isinstance(decided, Decided)
    assert not decided.approved
    assert decided.mark_id is None
    assert decided.decision.comment == "не подтверждаю"
    assert await world.standing(3) == [("check_in", msk(23, 9)), ("check_out", msk(23, 17, 30))]
    assert len(await world.marks(3)) == 2
    assert await world.decisions() == [(asked.correction_id, "rejected", 2, None)]
    assert [a for a, _, _ in await world.audit()] == [
        "correction.requested",
        "correction.rejected",
    ]


async def test_an_automatic_close_is_replaced_and_kept_in_history(world: World) -> None:
    await world.mark(3, MarkKind.CHECK_IN, msk(23, 9, 0))
    await world.mark(3, MarkKind.BREAK_START, msk(23, 13, 0))
    await world.mark(3, MarkKind.BREAK_END, msk(23, 13, 40))
    auto = await world.mark(3, MarkKind.CHECK_OUT, msk(23, 18, 0), provisional=True)
    now = msk(24, 9, 0)
    asked = await world.request(3, MarkKind.CHECK_OUT, msk(23, 19, 25), now)
    assert isinstance(asked, Requested)
    assert asked.plan.target is not None
    assert asked.plan.target.id == auto
    assert asked.plan.target.provisional
    decided = await world.decide(asked.correction_id, approve=True, by=2, now=now)
    assert isinstance(decided, Decided)
    rows = {m.id: m for m in await world.marks(3)}
    assert decided.mark_id is not None
    assert rows[decided.mark_id].supersedes_mark_id == auto
    assert rows[auto].at == msk(23, 18, 0)  # the replaced mark is still there, untouched
    assert [k for k, _ in await world.standing(3)] == [
        "check_in",
        "break_start",
        "break_end",
        "check_out",
    ]
    assert (await world.standing(3))[-1] == ("check_out", msk(23, 19, 25))


async def test_a_late_check_in_is_moved_earlier_by_an_administrator(world: World) -> None:
    await world.add_employee(9, None, admin=True)
    late = await world.mark(3, MarkKind.CHECK_IN, msk(24, 9, 40))
    now = msk(24, 11, 0)
    asked = await world.request(3, MarkKind.CHECK_IN, msk(24, 9, 0), now, "был у клиента")
    assert isinstance(asked, Requested)
    assert asked.plan.target is not None
    assert asked.plan.target.id == late
    assert asked.plan.approvers == (2, 9)  # the head first, then the administrator
    decided = await world.decide(asked.correction_id, approve=True, by=9, now=now)
    assert isinstance(decided, Decided)
    assert await world.standing(3) == [("check_in", msk(24, 9, 0))]


async def test_a_head_asks_the_head_above_and_nobody_approves_their_own(world: World) -> None:
    await world.mark(2, MarkKind.CHECK_IN, msk(23, 9, 0))
    now = msk(23, 19, 0)
    asked = await world.request(2, MarkKind.CHECK_OUT, msk(23, 18, 0), now)
    assert isinstance(asked, Requested)
    assert asked.plan.approvers == (1,)  # user 2 heads department 2: its parent's head
    refused = await world.decide(asked.correction_id, approve=True, by=2, now=now)
    assert isinstance(refused, DecisionRefused)
    assert refused.problem is DecisionProblem.SELF

    # The top of the tree, no administrator: nobody may decide, so nothing is stored.
    await world.mark(1, MarkKind.CHECK_IN, msk(23, 9, 0))
    lonely = await world.request(1, MarkKind.CHECK_OUT, msk(23, 18, 0), now)
    assert isinstance(lonely, CorrectionRefused)
    assert lonely.problem is CorrectionProblem.NO_APPROVER
    # Being an administrator does not help with one's own request.
    await world.add_employee(7, 3, admin=True)
    await world.mark(7, MarkKind.CHECK_IN, msk(23, 9, 0))
    admin_only = await world.request(7, MarkKind.CHECK_OUT, msk(23, 18, 0), now)
    assert isinstance(admin_only, CorrectionRefused)
    assert admin_only.problem is CorrectionProblem.NO_APPROVER
    async with world.db.unit_of_work() as uow:
        stored = list(await uow.session.scalars(select(Correction.employee_id)))
    assert stored == [world.ids[2]]


async def test_requests_that_cannot_be_right_are_refused(world: World) -> None:
    await world.mark(3, MarkKind.CHECK_IN, msk(23, 9, 0))
    await world.mark(3, MarkKind.CHECK_OUT, msk(23, 18, 0))
    now = msk(24, 10, 0)

    async def problem(kind: MarkKind, claimed: datetime) -> CorrectionProblem:
        result = await world.request(3, kind, claimed, now)
        assert isinstance(result, CorrectionRefused), result
        return result.problem

    assert await problem(MarkKind.CHECK_OUT, msk(24, 18, 0)) is CorrectionProblem.FUTURE
    assert await problem(MarkKind.CHECK_OUT, msk(23, 18, 0)) is CorrectionProblem.UNCHANGED
    # Today she has not checked in: a check-out or a break has no day to belong to.
    assert await problem(MarkKind.CHECK_OUT, msk(24, 9, 30)) is CorrectionProblem.NO_DAY
    assert await problem(MarkKind.BREAK_END, msk(24, 9, 30)) is CorrectionProblem.NO_DAY
    # A return from a break that never started does not fit the day.
    assert await problem(MarkKind.BREAK_END, msk(23, 12, 0)) is CorrectionProblem.CONFLICT
    assert await problem(MarkKind.CHECK_OUT, msk(1, 18, 0) - timedelta(days=30)) is (
        CorrectionProblem.TOO_OLD
    )
    async with world.db.unit_of_work() as uow:
        assert list(await uow.session.scalars(select(Correction.id))) == []

    # The same change twice waits once.
    first = await world.request(3, MarkKind.CHECK_OUT, msk(23, 18, 30), now)
    assert isinstance(first, Requested)
    second = await world.request(3, MarkKind.CHECK_OUT, msk(23, 18, 45), now)
    assert isinstance(second, CorrectionRefused)
    assert second.problem is CorrectionProblem.PENDING
    assert second.pending_id == first.correction_id


async def test_a_request_overtaken_by_the_day_is_not_applied(world: World) -> None:
    await world.mark(3, MarkKind.CHECK_IN, msk(23, 9, 0))
    asked = await world.request(3, MarkKind.CHECK_OUT, msk(23, 18, 10), msk(23, 18, 20))
    assert isinstance(asked, Requested)
    assert asked.plan.target is None
    # She pressed "Ушла" herself afterwards: adding 18:10 now would leave that check-out dangling.
    await world.mark(3, MarkKind.CHECK_OUT, msk(23, 18, 30))
    stale = await world.decide(asked.correction_id, approve=True, by=2, now=msk(23, 19, 0))
    assert isinstance(stale, DecisionRefused)
    assert stale.problem is DecisionProblem.STALE
    assert len(await world.marks(3)) == 2
    # Rejecting it still works.
    rejected = await world.decide(asked.correction_id, approve=False, by=2, now=msk(23, 19, 1))
    assert isinstance(rejected, Decided)


async def test_a_lost_race_keeps_neither_decision_nor_mark(world: World) -> None:
    await world.mark(3, MarkKind.CHECK_IN, msk(23, 9, 0))
    asked = await world.request(3, MarkKind.CHECK_OUT, msk(23, 18, 10), msk(24, 9, 0))
    assert isinstance(asked, Requested)
    won = await world.decide(asked.correction_id, approve=False, by=2, now=msk(24, 9, 1))
    assert isinstance(won, Decided)
    # A decision that checked before the winner committed reaches the insert and loses there.
    async with world.db.unit_of_work() as uow:
        repo = CorrectionRepository(uow.session)
        late_mark = mark_row(
            world.portal_id,
            world.ids[3],
            "check_out",
            msk(23, 18, 10),
            recorded_at=msk(24, 9, 2),
            source="correction",
            correction_id=asked.correction_id,
        )
        late = CorrectionDecision(
            portal_id=world.portal_id,
            correction_id=asked.correction_id,
            decision="approved",
            decided_by=1,
            decided_at=msk(24, 9, 2),
        )
        assert not await repo.add_decision(late, late_mark)
        await uow.commit()  # the transaction itself is still usable
    assert len(await world.marks(3)) == 1
    assert await world.decisions() == [(asked.correction_id, "rejected", 2, None)]


async def test_dialog_state_is_one_row_per_person_and_dialog(world: World) -> None:
    async with world.db.unit_of_work() as uow:
        states = ConversationRepository(uow.session)
        await states.put(world.portal_id, "3", 3, state="a", data={"x": 1}, now=T0)
        await states.put(world.portal_id, "3", 3, state="b", data={"x": 2}, now=T0)
        await states.put(world.portal_id, "chat1", 3, state="c", data={}, now=T0)
        await uow.commit()
    async with world.db.unit_of_work() as uow:
        states = ConversationRepository(uow.session)
        row = await states.get(world.portal_id, "3", 3)
        assert row is not None
        assert (row.state, row.data) == ("b", {"x": 2})
        await states.clear(world.portal_id, "3", 3)
        await uow.commit()
    async with world.db.unit_of_work() as uow:
        states = ConversationRepository(uow.session)
        assert await states.get(world.portal_id, "3", 3) is None
        other = await states.get(world.portal_id, "chat1", 3)
        assert other is not None
        assert other.state == "c"
