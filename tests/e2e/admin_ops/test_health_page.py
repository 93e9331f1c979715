"""`/bitrix/app/health` over real HTTP: the connection's state without secrets, the outbox by
status and kind, and dead letters retried or dropped (audited), nothing else touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.support.admin import ADMIN_USER, HEAD_USER, admin_stack
from tests.support.rows import portal_row
from timebot.storage.tables import AuditEntry, OutboxMessage, Portal

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def outbox_row(portal_id: int, status: str, kind: str = "message", **extra: Any) -> OutboxMessage:
    fields: dict[str, Any] = {
        "portal_id": portal_id,
        "kind": kind,
        "method": "imbot.v2.Chat.Message.send",
        "payload": {"params": {"dialogId": "3", "fields": {"message": "x"}}},
        "status": status,
        "attempts": 8 if status == "dead" else 0,
        "next_attempt_at": T,
        "created_at": T,
        "last_error": "ACCESS_DENIED: no access" if status == "dead" else None,
    }
    return OutboxMessage(**{**fields, **extra})


async def statuses(stack: Any) -> dict[int, str]:
    return {r.id: r.status for r in await stack.rows(select(OutboxMessage))}


async def test_health_shows_the_connection_and_handles_dead_letters(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        portal_id = await stack.portal_id()
        async with stack.uow() as uow:
            other = portal_row(member_id="other-portal")
            uow.portals.add(other)
            await uow.flush()
            dead = [outbox_row(portal_id, "dead") for _ in range(3)]
            mail = outbox_row(portal_id, "dead", kind="email", method="smtp.send")
            foreign = outbox_row(other.id, "dead")
            uow.session.add_all([*dead, mail, foreign, outbox_row(portal_id, "sent")])
            await uow.flush()
            dead_ids, mail_id, foreign_id = [d.id for d in dead], mail.id, foreign.id
            await uow.commit()
        admin = await stack.login(ADMIN_USER)
        head = await stack.login(HEAD_USER)
        assert (await head.get("/bitrix/app/health")).status_code == 403
        assert (await head.post(f"/bitrix/app/health/dead/{dead_ids[0]}/retry")).status_code == 403

        page = await admin.get("/bitrix/app/health")
        assert page.status_code == 200
        portal = (await stack.rows(select(Portal).where(Portal.id == portal_id)))[0]
        assert portal.domain in page.text
        assert 'id="h-token">действует' in page.text
        assert portal.access_token
        assert portal.access_token not in page.text
        assert portal.refresh_token
        assert portal.refresh_token not in page.text
        assert f'id="h-token-version">{portal.token_version}<' in page.text
        for i in (*dead_ids, mail_id):
            assert f'id="dead-{i}"' in page.text
        assert f'id="dead-{foreign_id}"' not in page.text
        assert 'data-status="dead" data-kind="email"' in page.text

        before = await statuses(stack)
        forged = await admin.post(f"/bitrix/app/health/dead/{dead_ids[0]}/retry", csrf=False)
        assert forged.status_code == 403
        not_ours = await admin.post(f"/bitrix/app/health/dead/{foreign_id}/retry")
        assert not_ours.status_code == 404
        assert await statuses(stack) == before

        retried = await admin.post(f"/bitrix/app/health/dead/{dead_ids[0]}/retry")
        assert retried.status_code == 303
        dropped = await admin.post(f"/bitrix/app/health/dead/{dead_ids[1]}/drop")
        assert dropped.status_code == 303
        row = (await stack.rows(select(OutboxMessage).where(OutboxMessage.id == dead_ids[0])))[0]
        assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
        now = await statuses(stack)
        assert now[dead_ids[1]] == "dropped"
        # Dropping twice, or retrying a dropped one: nothing more happens.
        again = await admin.post(f"/bitrix/app/health/dead/{dead_ids[1]}/retry")
        assert again.status_code == 303
        assert "ops_dead_gone" in again.headers["location"]
        assert (await statuses(stack))[dead_ids[1]] == "dropped"

        every = await admin.post("/bitrix/app/health/dead/retry-all")
        assert every.status_code == 303
        final = await statuses(stack)
        assert final[dead_ids[2]] == "pending"
        assert final[mail_id] == "pending"
        assert final[foreign_id] == "dead"  # another portal's dead letter stays
        actions = sorted(
            a.action
            for a in await stack.rows(select(AuditEntry).where(AuditEntry.action.like("outbox.%")))
        )
        assert actions == ["outbox.drop", "outbox.retry", "outbox.retry_all"]

        after = await admin.get("/bitrix/app/health")
        assert 'id="no-dead"' in after.text
        assert 'id="total-dropped"' in after.text


async def test_an_expired_token_and_a_webhook_portal_read_plainly(sqlite_url: str) -> None:
    async with admin_stack(sqlite_url) as stack:
        portal_id = await stack.portal_id()
        admin = await stack.login(ADMIN_USER)
        async with stack.uow() as uow:
            portal = await uow.portals.lock(portal_id)
            assert portal is not None
            portal.access_expires_at = datetime.now(UTC) - timedelta(minutes=5)
            await uow.commit()
        page = await admin.get("/bitrix/app/health")
        assert 'id="h-token">истёк' in page.text
