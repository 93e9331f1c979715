"""November 2026 in the demo company (`tests.support.admin`), seeded for the period statistics
that the reports page and `/api/v1/statistics` both show. The clock stands at NOW, Wednesday
18 November, 12:00 in Moscow.

- Maria (3, Sales): 9–13 November 8 h a day; late on the 16th (09:40, excused by an accepted
  explanation); on the 17th a check-in with no worked time (checked out at the same instant);
  on the 18th at work since 09:00 (open).
- Dmitry (4, Sales): on the 10th a check-in cancelled after 40 seconds; the 11th a whole day.
- Olga (7, Backend under Development): the 9th checked in outside the office (2,100 m); the
  10th an uncertain fix with a suspicion flag; the 11th her 18:00 check-out corrected to 19:30;
  the 12th late (10:30), explained but not accepted.
- Sergey (8, Backend): a night shift from the 13th, 20:00, to the 14th, 04:00.
- Pavel (10, Yekaterinburg branch) left the company after working on the 9th; Tatiana (11) left
  without a mark. Everybody else never checks in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from tests.e2e.admin_ops.helpers import employee_of, msk
from tests.support.admin import ADMIN_USER, AdminStack
from tests.support.rows import mark_row, work_day_rows
from timebot.domain.clock import FixedClock
from timebot.services.api_tokens import issue_token, signing_key_from_secret
from timebot.storage.tables import Employee, Explanation, Mark

__all__ = ["NOW", "SeededPeriod", "seed_period"]

MSK = ZoneInfo("Europe/Moscow")
EKB = ZoneInfo("Asia/Yekaterinburg")
NOW = msk(date(2026, 11, 18), time(12, 0))


def day(n: int) -> date:
    return date(2026, 11, n)


@dataclass(frozen=True, slots=True)
class SeededPeriod:
    token: str  # an API token of the portal with `reports:read`
    employees: dict[int, int]  # Bitrix user id -> employees.id


async def seed_period(stack: AdminStack) -> SeededPeriod:
    """Write the marks, explanations and departures above into the stack's portal."""
    ids = {u: (await employee_of(stack, u)).id for u in range(1, 12)}
    portal_id = await stack.portal_id()
    async with stack.uow() as uow:
        s = uow.session

        def marks(user: int, *kinds_at: tuple[str, datetime], **extra: object) -> list[Mark]:
            return [mark_row(portal_id, ids[user], kind, at, **extra) for kind, at in kinds_at]

        rows: list[Mark] = []
        # Maria
        for n in range(9, 14):
            rows += work_day_rows(portal_id, ids[3], day(n), MSK, time(9))
        rows += work_day_rows(portal_id, ids[3], day(16), MSK, time(9, 40))
        rows += marks(3, ("check_in", msk(day(17), time(9))), ("check_out", msk(day(17), time(9))))
        rows += marks(3, ("check_in", msk(day(18), time(9))))
        # Dmitry
        rows += marks(
            4,
            ("check_in", msk(day(10), time(10))),
            ("check_out", msk(day(10), time(10, 0, 40))),
        )
        rows += work_day_rows(portal_id, ids[4], day(11), MSK, time(9))
        # Olga
        outside, *rest = work_day_rows(portal_id, ids[7], day(9), MSK, time(9))
        outside.location_verdict, outside.distance_m = "outside", 2100.0
        rows += [outside, *rest]
        uncertain, *rest = work_day_rows(portal_id, ids[7], day(10), MSK, time(9))
        uncertain.location_verdict, uncertain.flags = "uncertain", ["implausible_speed"]
        rows += [uncertain, *rest]
        rows += work_day_rows(portal_id, ids[7], day(11), MSK, time(9))  # out at 18:00
        rows += work_day_rows(portal_id, ids[7], day(12), MSK, time(10, 30))
        # Sergey
        rows += marks(8, ("check_in", msk(day(13), time(20))), ("check_out", msk(day(14), time(4))))
        # Pavel
        rows += work_day_rows(portal_id, ids[10], day(9), EKB, time(9))
        s.add_all(rows)
        await uow.flush()
        corrected = next(
            r
            for r in rows
            if r.employee_id == ids[7] and r.kind == "check_out" and r.at.date() == day(11)
        )
        s.add(
            mark_row(
                portal_id,
                ids[7],
                "check_out",
                msk(day(11), time(19, 30)),
                source="correction",
                supersedes_mark_id=corrected.id,
            )
        )
        asked = NOW - timedelta(days=1)

        def explanation(user: int, n: int, reason: str, status: str, **decision: object) -> None:
            s.add(
                Explanation(
                    portal_id=portal_id,
                    employee_id=ids[user],
                    local_date=day(n),
                    violation_kind="late_start",
                    reason=reason,
                    requested_at=asked,
                    answered_at=asked,
                    status=status,
                    **decision,
                )
            )

        explanation(3, 16, "врач", "accepted", decided_by=2, decided_at=asked)
        explanation(7, 12, "пробки", "answered")
        await s.execute(
            update(Employee).where(Employee.id.in_([ids[10], ids[11]])).values(active=False)
        )
        key = signing_key_from_secret(stack.settings.secret_key.get_secret_value())
        token, _ = await issue_token(
            uow,
            portal_id=portal_id,
            name="period statistics",
            scopes=["reports:read"],
            expires_at=None,
            created_by=ADMIN_USER,
            clock=FixedClock(datetime(2026, 11, 1, tzinfo=UTC)),
            signing_key=key,
        )
        await uow.commit()
    return SeededPeriod(token, ids)
