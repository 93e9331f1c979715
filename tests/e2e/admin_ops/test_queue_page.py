"""`/bitrix/app/queue` over real HTTP: admins see every pending request, a head only their
departments'; one tap decides through the chat's services (superseding mark, audit entry) and
queues the employee's chat notice; refusals change nothing."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select

from tests.e2e.admin_ops.helpers import (
    MONDAY,
    TUESDAY_0900,
    add_marks,
    answered_explanation,
    ask_correction,
    employee_of,
    messages_to,
    msk,
)
from tests.support.admin import ADMIN_USER, EMPLOYEE_USER, HEAD_USER, admin_stack
from timebot.domain.clock import FixedClock
from timebot.domain.marks import MarkKind
from timebot.domain.violations import ViolationKind
from timebot.storage.tables import AuditEntry, CorrectionDecision, Explanation, Mark


async def test_queue_decisions_go_through_the_chat_services(database_url: str) -> None:
    clock = FixedClock(TUESDAY_0900)
    async with admin_stack(database_url, clock=clock) as stack:
        # Maria (3, Sales) left at 17:00 by the record but says 18:10; Olga (7, Backend)
        # forgot her check-out altogether.
        maria_marks = await add_marks(
            stack,
            3,
            [("check_in", msk(MONDAY, time(9, 5))), ("check_out", msk(MONDAY, time(17, 0)))],
        )
        await add_marks(stack, 7, [("check_in", msk(MONDAY, time(9, 0)))])
        maria_fix = await ask_correction(
            stack, 3, MarkKind.CHECK_OUT, msk(MONDAY, time(18, 10)), "была у клиента", TUESDAY_0900
        )
        olga_fix = await ask_correction(
            stack, 7, MarkKind.CHECK_OUT, msk(MONDAY, time(18, 0)), "забыла", TUESDAY_0900
        )
        dmitry_excuse = await answered_explanation(
            stack,
            4,
            MONDAY,
            ViolationKind.LATE_START,
            asked_by=HEAD_USER,
            reason="пробки",
            now=TUESDAY_0900,
        )

        admin = await stack.login(ADMIN_USER)
        head = await stack.login(HEAD_USER)
        employee = await stack.login(EMPLOYEE_USER)

        everything = await admin.get("/bitrix/app/queue")
        assert everything.status_code == 200
        assert f'id="correction-{maria_fix}"' in everything.text
        assert f'id="correction-{olga_fix}"' in everything.text
        assert f'id="explanation-{dmitry_excuse}"' in everything.text
        assert "была у клиента" in everything.text

        sales = await head.get("/bitrix/app/queue")
        assert sales.status_code == 200
        assert f'id="correction-{maria_fix}"' in sales.text
        assert f'id="correction-{olga_fix}"' not in sales.text  # Backend is not Igor's
        assert f'id="approve-{maria_fix}"' in sales.text
        assert f'id="accept-{dmitry_excuse}"' in sales.text

        assert (await employee.get("/bitrix/app/queue")).status_code == 403
        refused = await employee.post(f"/bitrix/app/queue/corrections/{maria_fix}/approve")
        assert refused.status_code == 403

        # Another department's request: 404, as if it did not exist.
        foreign = await head.post(f"/bitrix/app/queue/corrections/{olga_fix}/approve")
        assert foreign.status_code == 404
        # No CSRF token: 403.
        forged = await head.post(f"/bitrix/app/queue/corrections/{maria_fix}/approve", csrf=False)
        assert forged.status_code == 403
        assert await stack.rows(select(CorrectionDecision)) == []
        assert await messages_to(stack, 3) == []

        # One tap: approved with a comment.
        done = await head.post(
            f"/bitrix/app/queue/corrections/{maria_fix}/approve",
            {"comment": "ок, видел\x00 её\n"},  # control characters never reach the database
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/bitrix/app/queue?flash=flash.ops_correction_approved"
        decision = (await stack.rows(select(CorrectionDecision)))[0]
        assert (decision.correction_id, decision.decision, decision.decided_by) == (
            maria_fix,
            "approved",
            HEAD_USER,
        )
        maria = await employee_of(stack, 3)
        marks = await stack.rows(select(Mark).where(Mark.employee_id == maria.id).order_by(Mark.id))
        new = marks[-1]
        assert new.source == "correction"
        assert new.kind == "check_out"
        assert new.at == msk(MONDAY, time(18, 10))
        assert new.supersedes_mark_id == maria_marks[1]
        assert new.correction_id == maria_fix
        assert decision.resulting_mark_id == new.id
        told = await messages_to(stack, 3)
        assert len(told) == 1
        assert f"Исправление №{maria_fix} одобрено" in told[0]
        assert "[user=2]" in told[0]
        assert "Комментарий: ок, видел её" in told[0]
        audit = await stack.rows(
            select(AuditEntry).where(AuditEntry.action == "correction.approved")
        )
        assert [(a.actor, a.entity_id) for a in audit] == [(f"user:{HEAD_USER}", str(maria_fix))]

        # The page shows the note and the request is gone; a second tap is refused (409).
        after = await head.get(done.headers["location"])
        assert 'id="flash"' in after.text
        assert f'id="correction-{maria_fix}"' not in after.text
        again = await head.post(f"/bitrix/app/queue/corrections/{maria_fix}/reject")
        assert again.status_code == 409
        assert "уже рассмотрено" in again.text
        assert len(await stack.rows(select(CorrectionDecision))) == 1

        # The admin rejects Olga's: no mark, Olga is told.
        rejected = await admin.post(f"/bitrix/app/queue/corrections/{olga_fix}/reject")
        assert rejected.status_code == 303
        olga = await employee_of(stack, 7)
        olga_marks = await stack.rows(select(Mark).where(Mark.employee_id == olga.id))
        assert [m.source for m in olga_marks] == ["chat"]
        told = await messages_to(stack, 7)
        assert len(told) == 1
        assert f"Исправление №{olga_fix} отклонено" in told[0]

        # The head accepts Dmitry's explanation: excused, Dmitry is told.
        accepted = await head.post(f"/bitrix/app/queue/explanations/{dmitry_excuse}/accept")
        assert accepted.status_code == 303
        row = (await stack.rows(select(Explanation).where(Explanation.id == dmitry_excuse)))[0]
        assert (row.status, row.decided_by) == ("accepted", HEAD_USER)
        told = await messages_to(stack, 4)
        assert any("Ваше объяснение принято" in text and "пробки" in text for text in told)
        refused_again = await admin.post(f"/bitrix/app/queue/explanations/{dmitry_excuse}/reject")
        assert refused_again.status_code == 409
        assert (await admin.get("/bitrix/app/queue")).text.count('data-correction="') == 0


async def test_a_head_cannot_decide_their_own_request(sqlite_url: str) -> None:
    clock = FixedClock(TUESDAY_0900)
    async with admin_stack(sqlite_url, clock=clock) as stack:
        # Igor (2) heads Sales; his own request goes to the head above him (Anna, the admin).
        await add_marks(stack, 2, [("check_in", msk(MONDAY, time(9, 0)))])
        own = await ask_correction(
            stack, 2, MarkKind.CHECK_OUT, msk(MONDAY, time(18, 0)), "забыл", TUESDAY_0900
        )
        head = await stack.login(HEAD_USER)
        page = await head.get("/bitrix/app/queue")
        assert page.status_code == 200
        assert f'id="correction-{own}"' in page.text
        assert f'id="approve-{own}"' not in page.text  # not his to decide
        refused = await head.post(f"/bitrix/app/queue/corrections/{own}/approve")
        assert refused.status_code == 403
        assert "Свои исправления" in refused.text
        assert await stack.rows(select(CorrectionDecision)) == []
        admin = await stack.login(ADMIN_USER)
        done = await admin.post(f"/bitrix/app/queue/corrections/{own}/approve")
        assert done.status_code == 303
        assert len(await stack.rows(select(CorrectionDecision))) == 1
