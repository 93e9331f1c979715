"""Rows for storage tests: a portal with one row in every table that belongs to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from timebot.storage.tables import (
    ApiToken,
    AuditEntry,
    CalendarOverride,
    ConversationState,
    Correction,
    CorrectionDecision,
    Department,
    Employee,
    EmployeeOffice,
    Explanation,
    LinkToken,
    LocationFix,
    Mark,
    Office,
    OutboxMessage,
    Portal,
    ProcessedEvent,
    Schedule,
    ScheduleAssignment,
    Shift,
    Zone,
)
from timebot.storage.uow import UnitOfWork

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SeededPortal:
    portal_id: int
    employee_id: int
    mark_id: int


def new_portal(member_id: str) -> Portal:
    return Portal(
        member_id=member_id,
        domain=f"{member_id}.bitrix24.ru",
        client_endpoint=f"https://{member_id}.bitrix24.ru/rest/",
        connection="oauth",
        installed_at=NOW,
        updated_at=NOW,
    )


def new_employee(portal_id: int, bitrix_user_id: int = 15) -> Employee:
    return Employee(
        portal_id=portal_id, bitrix_user_id=bitrix_user_id, name="Анна Петрова", created_at=NOW
    )


def new_mark(portal_id: int, employee_id: int, **values: object) -> Mark:
    fields: dict[str, object] = {
        "portal_id": portal_id,
        "employee_id": employee_id,
        "kind": "check_in",
        "at": NOW,
        "recorded_at": NOW,
        "source": "chat",
    }
    fields.update(values)
    return Mark(**fields)


async def seed_portal(uow: UnitOfWork, member_id: str) -> SeededPortal:
    """One row in every table that belongs to a portal, linked the way the app links them."""
    session = uow.session
    portal = new_portal(member_id)
    session.add(portal)
    await uow.flush()
    pid = portal.id

    employee = new_employee(pid)
    office = Office(portal_id=pid, name="Главный офис", created_at=NOW)
    schedule = Schedule(portal_id=pid, name="5/2", kind="fixed", created_at=NOW)
    session.add_all([employee, office, schedule])
    await uow.flush()

    zone = Zone(
        portal_id=pid,
        office_id=office.id,
        name="Вход",
        kind="circle",
        lat=55.75,
        lon=37.62,
        radius_m=120.0,
        created_at=NOW,
    )
    session.add(zone)
    await uow.flush()

    mark = new_mark(pid, employee.id, zone_id=zone.id, location_verdict="inside")
    session.add(mark)
    await uow.flush()

    correction = Correction(
        portal_id=pid,
        employee_id=employee.id,
        requested_at=NOW,
        kind="check_in",
        target_mark_id=mark.id,
        claimed_at=NOW,
        reason="Забыла отметиться",
        requested_by=15,
    )
    session.add(correction)
    await uow.flush()
    corrected = new_mark(
        pid,
        employee.id,
        source="correction",
        supersedes_mark_id=mark.id,
        correction_id=correction.id,
        claimed_at=NOW,
    )
    session.add(corrected)
    await uow.flush()

    session.add_all(
        [
            Department(portal_id=pid, bitrix_id=1, name="Отдел продаж", synced_at=NOW),
            EmployeeOffice(employee_id=employee.id, office_id=office.id),
            ScheduleAssignment(
                portal_id=pid,
                schedule_id=schedule.id,
                scope="portal",
                valid_from=date(2026, 1, 1),
                created_at=NOW,
            ),
            Shift(
                portal_id=pid,
                employee_id=employee.id,
                starts_at=NOW,
                ends_at=NOW.replace(hour=18),
                schedule_id=schedule.id,
                created_at=NOW,
            ),
            CalendarOverride(portal_id=pid, day=date(2026, 12, 31), kind="holiday", created_at=NOW),
            LocationFix(
                portal_id=pid,
                employee_id=employee.id,
                mark_id=mark.id,
                at=NOW,
                lat=55.75,
                lon=37.62,
                accuracy_m=15.0,
                verdict="inside",
                zone_id=zone.id,
            ),
            CorrectionDecision(
                portal_id=pid,
                correction_id=correction.id,
                decision="approved",
                decided_by=1,
                decided_at=NOW,
                resulting_mark_id=corrected.id,
            ),
            Explanation(
                portal_id=pid,
                employee_id=employee.id,
                local_date=date(2026, 11, 20),
                violation_kind="late_arrival",
                requested_at=NOW,
            ),
            ProcessedEvent(portal_id=pid, event_key="v2:1001", received_at=NOW),
            OutboxMessage(
                portal_id=pid,
                kind="message",
                method="imbot.v2.Chat.Message.send",
                payload={"dialogId": "15", "fields": {"message": "Доброе утро"}},
                dedupe_key="greeting:15:2026-11-20",
                next_attempt_at=NOW,
                created_at=NOW,
            ),
            ConversationState(
                portal_id=pid, dialog_id="15", user_id=15, state="idle", updated_at=NOW
            ),
            AuditEntry(portal_id=pid, at=NOW, actor="system", action="install", entity="portal"),
            ApiToken(portal_id=pid, name="BI", jti=f"api-{member_id}", created_at=NOW),
            LinkToken(
                jti=f"link-{member_id}",
                portal_id=pid,
                employee_id=employee.id,
                action="check_in",
                created_at=NOW,
                expires_at=NOW.replace(hour=10),
            ),
        ]
    )
    await uow.flush()
    return SeededPortal(portal_id=pid, employee_id=employee.id, mark_id=mark.id)
