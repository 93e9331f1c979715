"""Dead inbox events on `/bitrix/app/health` over real HTTP: listed for their own portal only,
*Повторить* revives one (CSRF-checked, audited), and the running app then applies it."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tests.integration.gateway.wire import message
from tests.support.admin import ADMIN_USER, HEAD_USER, AdminStack, admin_stack
from tests.support.rows import portal_row
from timebot.storage.tables import AuditEntry, Employee, ProcessedEvent

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def dead_event(portal_id: int, key: str, user_id: int, error: str) -> ProcessedEvent:
    return ProcessedEvent(
        portal_id=portal_id,
        event_key=key,
        person_key=str(user_id),
        source="webhook",
        payload=json.dumps(message(user_id, 9000 + user_id, "пришёл", at=T)),
        status="dead",
        attempts=5,
        received_at=T,
        last_error=error,
    )


async def status_of(stack: AdminStack, event_id: int) -> tuple[str, int]:
    row = (await stack.rows(select(ProcessedEvent).where(ProcessedEvent.id == event_id)))[0]
    return row.status, row.attempts


async def settled(stack: AdminStack, event_id: int, within: float = 20.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status, _ = await status_of(stack, event_id)
        if status != "pending":
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"event {event_id} still pending after {within} s")


async def test_dead_events_are_shown_and_revived_for_their_portal_only(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        portal_id = await stack.portal_id()
        async with stack.uow() as uow:
            other = portal_row(member_id="other-portal")
            uow.portals.add(other)
            await uow.flush()
            name = (
                await uow.session.scalar(
                    select(Employee.name).where(
                        Employee.portal_id == portal_id, Employee.bitrix_user_id == 3
                    )
                )
            ) or ""
            mine = dead_event(portal_id, "dead:1", 3, "OperationalError: database is locked")
            second = dead_event(portal_id, "dead:2", 4, "TimeoutError: <b>slow</b>")
            foreign = dead_event(other.id, "dead:3", 3, "KeyError: other-portal-only")
            uow.session.add_all([mine, second, foreign])
            await uow.commit()
            ids = mine.id, second.id, foreign.id
        assert name
        admin = await stack.login(ADMIN_USER)
        head = await stack.login(HEAD_USER)
        url = f"/bitrix/app/health/inbox/{ids[0]}/revive"
        assert (await head.post(url)).status_code == 403

        page = await admin.get("/bitrix/app/health")
        assert page.status_code == 200
        assert "Необработанные события" in page.text
        assert f'id="dead-event-{ids[0]}"' in page.text
        assert f'id="dead-event-{ids[1]}"' in page.text
        assert f'id="dead-event-{ids[2]}"' not in page.text
        assert "other-portal-only" not in page.text
        assert f"{name} (#3)" in page.text
        assert "<code>ONIMBOTV2MESSAGEADD</code>" in page.text
        assert "&lt;b&gt;slow&lt;/b&gt;" in page.text  # the error is escaped
        assert f'action="{url}"' in page.text

        forged = await admin.post(url, csrf=False)
        assert forged.status_code == 403
        not_ours = await admin.post(f"/bitrix/app/health/inbox/{ids[2]}/revive")
        assert not_ours.status_code == 404
        missing = await admin.post("/bitrix/app/health/inbox/999999/revive")
        assert missing.status_code == 404
        bad = await admin.post("/bitrix/app/health/inbox/nope/revive")
        assert bad.status_code in (400, 404, 422)
        assert [await status_of(stack, i) for i in ids] == [("dead", 5)] * 3

        revived = await admin.post(url)
        assert revived.status_code == 303
        landing = await admin.get(revived.headers["location"])
        assert "Событие снова в очереди." in landing.text
        # The app's own applier takes it up again: applied this time, not parked.
        assert await settled(stack, ids[0]) == "applied"
        again = await admin.post(url)
        assert again.status_code == 303
        assert "ops_inbox_gone" in again.headers["location"]
        assert await status_of(stack, ids[1]) == ("dead", 5)
        assert await status_of(stack, ids[2]) == ("dead", 5)

        entries: list[Any] = await stack.rows(
            select(AuditEntry).where(AuditEntry.action == "event.revived")
        )
        assert [(e.portal_id, e.actor, e.entity, e.entity_id) for e in entries] == [
            (portal_id, f"user:{ADMIN_USER}", "event", str(ids[0]))
        ]
        assert entries[0].details["last_error"] == "OperationalError: database is locked"

        await admin.post("/bitrix/app/lang", {"lang": "en", "next": "/bitrix/app/health"})
        english = await admin.get("/bitrix/app/health")
        assert "Unprocessed events" in english.text
        assert f'id="dead-event-{ids[1]}"' in english.text
        assert f'id="dead-event-{ids[0]}"' not in english.text
