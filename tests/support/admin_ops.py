"""Probes and foreign rows for ADMIN-OPS's pages (see `tests.support.admin`): rules, queue,
reports, audit, health, API tokens."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from tests.support.admin import MARKER, foreign_rows, probe
from timebot.storage import UnitOfWork
from timebot.storage.tables import ApiToken, Correction, Employee, Explanation, OutboxMessage

# Rules: an empty form is refused (422) before anything is written.
probe("GET", "/bitrix/app/rules", "admin")
probe("POST", "/bitrix/app/rules", "admin", lambda ids: {})
# Queue
probe("GET", "/bitrix/app/queue", "manager")
probe("POST", "/bitrix/app/queue/corrections/{correction_id}/approve", "manager", lambda ids: {})
probe("POST", "/bitrix/app/queue/corrections/{correction_id}/reject", "manager", lambda ids: {})
probe("POST", "/bitrix/app/queue/explanations/{explanation_id}/accept", "manager", lambda ids: {})
probe("POST", "/bitrix/app/queue/explanations/{explanation_id}/reject", "manager", lambda ids: {})
# Reports
probe("GET", "/bitrix/app/reports", "manager")
probe("GET", "/bitrix/app/reports/chart.png", "manager")
probe("GET", "/bitrix/app/reports/timesheet.xlsx", "manager")
probe("GET", "/bitrix/app/reports/timesheet.csv", "manager")
# Audit and health
probe("GET", "/bitrix/app/audit", "admin")
probe("GET", "/bitrix/app/health", "admin")
probe("POST", "/bitrix/app/health/dead/{outbox_id}/retry", "admin", lambda ids: {})
probe("POST", "/bitrix/app/health/dead/{outbox_id}/drop", "admin", lambda ids: {})
probe("POST", "/bitrix/app/health/dead/retry-all", "admin", lambda ids: {})
# API tokens: an empty form is refused (422) before anything is issued.
probe("GET", "/bitrix/app/tokens", "admin")
probe("POST", "/bitrix/app/tokens", "admin", lambda ids: {})
probe("POST", "/bitrix/app/tokens/{token_id}/revoke", "admin", lambda ids: {})

FIXED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@foreign_rows
async def ops_rows(uow: UnitOfWork, portal_id: int) -> dict[str, int]:
    """A pending correction, an answered explanation, a dead letter and an API token of the
    portal (its first synced employee is the subject), each carrying MARKER where a page
    would show it."""
    employee = (
        await uow.session.scalars(
            select(Employee).where(Employee.portal_id == portal_id).order_by(Employee.id)
        )
    ).first()
    assert employee is not None, "the portal has no synced employees"
    correction = Correction(
        portal_id=portal_id,
        employee_id=employee.id,
        requested_at=FIXED,
        kind="check_out",
        target_mark_id=None,
        claimed_at=FIXED - timedelta(hours=15),
        reason=MARKER,
        requested_by=employee.bitrix_user_id,
    )
    explanation = Explanation(
        portal_id=portal_id,
        employee_id=employee.id,
        local_date=date(2026, 11, 19),
        violation_kind="late_start",
        reason=MARKER,
        requested_at=FIXED,
        answered_at=FIXED,
        status="answered",
    )
    dead = OutboxMessage(
        portal_id=portal_id,
        kind="message",
        method="imbot.v2.Chat.Message.send",
        payload={"params": {"dialogId": str(employee.bitrix_user_id)}},
        status="dead",
        attempts=8,
        next_attempt_at=FIXED,
        last_error=f"ACCESS_DENIED: {MARKER}",
        created_at=FIXED,
    )
    token = ApiToken(
        portal_id=portal_id,
        name=MARKER,
        jti=f"probe-{portal_id}-{FIXED.timestamp():.0f}",
        scopes=["marks:read"],
        created_by=None,
        created_at=FIXED,
    )
    uow.session.add_all([correction, explanation, dead, token])
    await uow.flush()
    return {
        "correction_id": correction.id,
        "explanation_id": explanation.id,
        "outbox_id": dead.id,
        "token_id": token.id,
    }
