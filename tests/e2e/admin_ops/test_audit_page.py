"""`/bitrix/app/audit` over real HTTP: newest first, 50 a page, filters by actor, action (exact
or prefix) and dates in the portal's zone; another portal's entries never show."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.support.admin import ADMIN_USER, EMPLOYEE_USER, HEAD_USER, admin_stack
from tests.support.rows import portal_row

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def ids_on(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-audit="(\d+)"', html)]


async def test_the_audit_log_pages_and_filters(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        portal_id = await stack.portal_id()
        async with stack.uow() as uow:
            other = portal_row(member_id="other-portal")
            uow.portals.add(other)
            await uow.flush()
            for i in range(120):
                uow.audit.record(
                    portal_id=portal_id,
                    at=START + timedelta(hours=i),
                    actor=f"user:{15 if i % 2 else 16}",
                    action="correction.approved" if i % 3 == 0 else "mark.check_in",
                    entity="test",
                    entity_id=i,
                    details={"n": i, "text": "запись"},
                )
            uow.audit.record(
                portal_id=other.id,
                at=START,
                actor="user:15",
                action="correction.approved",
                entity="test",
                entity_id="foreign",
                details={"secret": "другой портал"},
            )
            await uow.commit()
        admin = await stack.login(ADMIN_USER)
        for other_user in (HEAD_USER, EMPLOYEE_USER):
            refused = await (await stack.login(other_user)).get("/bitrix/app/audit")
            assert refused.status_code == 403

        first = await admin.get(
            "/bitrix/app/audit", params={"actor": "", "action": "", "page": "1"}
        )
        assert first.status_code == 200
        assert "другой портал" not in first.text
        shown = ids_on(first.text)
        assert len(shown) == 50
        assert 'id="audit-next"' in first.text
        assert 'id="audit-prev"' not in first.text
        second = await admin.get("/bitrix/app/audit", params={"page": "2"})
        assert len(ids_on(second.text)) == 50
        assert not set(ids_on(second.text)) & set(shown)
        assert 'id="audit-prev"' in second.text

        by_actor = await admin.get("/bitrix/app/audit", params={"actor": "15\x00"})
        assert by_actor.status_code == 200
        assert "Записей: 60 ·" in by_actor.text
        assert "user:16" not in by_actor.text.split('id="audit-table"')[1]

        by_prefix = await admin.get("/bitrix/app/audit", params={"action": "correction."})
        assert "Записей: 40 ·" in by_prefix.text
        exact = await admin.get("/bitrix/app/audit", params={"action": "correction"})
        assert "Записей: 0 ·" in exact.text  # no action is named just "correction"

        # 1 November 09:00 UTC is 12:00 in Moscow: the first 12 hours are that day.
        one_day = await admin.get(
            "/bitrix/app/audit", params={"from": "2026-11-01", "to": "2026-11-01"}
        )
        assert "Записей: 12 ·" in one_day.text

        for bad in (
            {"from": "01.11.2026"},
            {"from": "2026-11-05", "to": "2026-11-01"},
            {"page": "x"},
        ):
            page = await admin.get("/bitrix/app/audit", params=bad)
            assert page.status_code == 400, bad
            assert 'id="audit-errors"' in page.text
