"""Fixtures for the operations pages' tests: marks, corrections and explanations written through
the same services the chat uses, in the demo company of `tests.support.admin`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.support.admin import AdminStack
from tests.support.rows import mark_row, work_day_rows
from timebot.bot.people import person_for
from timebot.domain.marks import MarkKind
from timebot.domain.violations import ViolationKind
from timebot.services.corrections import CorrectionRefused, request_correction
from timebot.services.explanations import (
    AnswerRefused,
    AskRefused,
    ExplainTarget,
    answer_explanation,
    request_explanation,
)
from timebot.storage.tables import Employee, OutboxMessage

MSK = ZoneInfo("Europe/Moscow")


def msk(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=MSK).astimezone(UTC)


async def employee_of(stack: AdminStack, user_id: int) -> Employee:
    portal_id = await stack.portal_id()
    rows = await stack.rows(
        select(Employee).where(Employee.portal_id == portal_id, Employee.bitrix_user_id == user_id)
    )
    assert rows, f"user {user_id} is not synced"
    return rows[0]


async def add_marks(
    stack: AdminStack, user_id: int, kinds_at: list[tuple[str, datetime]]
) -> list[int]:
    """Chat marks of `user_id`; their ids."""
    employee = await employee_of(stack, user_id)
    async with stack.uow() as uow:
        rows = [mark_row(employee.portal_id, employee.id, kind, at) for kind, at in kinds_at]
        uow.session.add_all(rows)
        await uow.flush()
        ids = [r.id for r in rows]
        await uow.commit()
    return ids


async def add_work_days(
    stack: AdminStack, user_id: int, days: list[date], start: time, *, hours: float = 9
) -> None:
    employee = await employee_of(stack, user_id)
    async with stack.uow() as uow:
        for day in days:
            uow.session.add_all(
                work_day_rows(employee.portal_id, employee.id, day, MSK, start, hours=hours)
            )
        await uow.commit()


async def ask_correction(
    stack: AdminStack,
    user_id: int,
    kind: MarkKind,
    claimed_at: datetime,
    reason: str,
    now: datetime,
) -> int:
    """The person asks to correct a mark (as "ушла в 18:10, забыла отметиться" does)."""
    employee = await employee_of(stack, user_id)
    async with stack.uow() as uow:
        portal = await uow.portals.get(employee.portal_id)
        assert portal is not None
        row = await uow.employees.get(employee.id)
        assert row is not None
        person = await person_for(uow, portal, row)
        result = await request_correction(
            uow, person, kind, claimed_at, reason=reason, requested_by=user_id, now=now
        )
        assert not isinstance(result, CorrectionRefused), result
        await uow.commit()
        return result.correction_id


async def answered_explanation(
    stack: AdminStack,
    user_id: int,
    local_date: date,
    kind: ViolationKind,
    *,
    asked_by: int,
    reason: str,
    now: datetime,
) -> int:
    """A manager asks about a violation and the person answers."""
    employee = await employee_of(stack, user_id)
    async with stack.uow() as uow:
        asked = await request_explanation(
            uow,
            employee.portal_id,
            ExplainTarget(employee.id, local_date, kind),
            by_user_id=asked_by,
            now=now,
        )
        assert not isinstance(asked, AskRefused), asked
        answered = await answer_explanation(
            uow,
            employee.portal_id,
            asked.explanation.id,
            by_user_id=user_id,
            reason=reason,
            now=now,
        )
        assert not isinstance(answered, AnswerRefused), answered
        await uow.commit()
        return asked.explanation.id


async def messages_to(stack: AdminStack, user_id: int) -> list[str]:
    """Texts of the chat messages queued for `user_id`'s private dialog."""
    rows = await stack.rows(select(OutboxMessage).order_by(OutboxMessage.id))
    texts = []
    for row in rows:
        params: dict[str, Any] = (row.payload or {}).get("params") or {}
        if str(params.get("dialogId") or params.get("DIALOG_ID")) == str(user_id):
            fields = params.get("fields") or {}
            texts.append(str(fields.get("message") or params.get("MESSAGE") or json.dumps(params)))
    return texts


TUESDAY_0900 = msk(date(2026, 11, 24), time(9, 0))
MONDAY = date(2026, 11, 23)
ONE_DAY = timedelta(days=1)
