"""The core admin pages over real HTTP: today (live board and one's own day), employees,
offices and zones, schedules, calendar exceptions. Forms refuse bad input with clear messages
(400, nothing stored); every change is audited; what is stored is what the bot then uses."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests.support.admin import (
    ADMIN_USER,
    EMPLOYEE_USER,
    HEAD_USER,
    AdminClient,
    AdminStack,
    admin_stack,
)
from tests.support.admin_core import fixed_schedule_form
from tests.support.rows import mark_row
from timebot.bot.people import person_for, plan_for, portal_calendar
from timebot.domain.calendar import DayKind
from timebot.domain.clock import FixedClock
from timebot.domain.geo import Point
from timebot.services.presence import load_places
from timebot.storage.tables import (
    AuditEntry,
    CalendarOverride,
    Employee,
    EmployeeOffice,
    Office,
    Schedule,
    ScheduleAssignment,
    Zone,
)

MONDAY_1030_MSK = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
MSK = ZoneInfo("Europe/Moscow")


def errors_of(html: str) -> dict[str, str]:
    return dict(re.findall(r'<li data-field="(\w+)">([^<]*)</li>', html))


async def audit(stack: AdminStack, action: str) -> list[AuditEntry]:
    return await stack.rows(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    )


async def employee_of(stack: AdminStack, user_id: int) -> Employee:
    rows = await stack.rows(select(Employee).where(Employee.bitrix_user_id == user_id))
    assert len(rows) == 1
    return rows[0]


async def test_the_board_shows_who_is_in_on_a_break_gone_late_and_outside(
    database_url: str,
) -> None:
    clock = FixedClock(MONDAY_1030_MSK)
    async with admin_stack(database_url, clock=clock) as stack:
        portal_id = await stack.portal_id()
        people = {u: await employee_of(stack, u) for u in (2, 3, 4, 6, 7)}
        at = datetime(2026, 11, 23, 9, 0, tzinfo=MSK)
        async with stack.uow() as uow:
            uow.session.add_all(
                [
                    # 2 came at 09:00 and works; 3 came late (09:40) from outside the office;
                    # 4 is on a break; 6 came and left; 7 is not in yet (late by now).
                    mark_row(portal_id, people[2].id, "check_in", at),
                    mark_row(
                        portal_id,
                        people[3].id,
                        "check_in",
                        at + timedelta(minutes=40),
                        location_verdict="outside",
                    ),
                    mark_row(portal_id, people[4].id, "check_in", at),
                    mark_row(portal_id, people[4].id, "break_start", at + timedelta(hours=1)),
                    mark_row(portal_id, people[6].id, "check_in", at - timedelta(hours=2)),
                    mark_row(portal_id, people[6].id, "check_out", at + timedelta(minutes=30)),
                ]
            )
            await uow.commit()
        admin = await stack.login(ADMIN_USER)
        page = await admin.get("/bitrix/app")
        rows = dict(re.findall(r'data-employee="(\d+)" data-status="(\w+)"', page.text))
        assert rows[str(people[2].id)] == "working"
        assert rows[str(people[3].id)] == "working"
        assert rows[str(people[4].id)] == "on_break"
        assert rows[str(people[6].id)] == "done"
        assert rows[str(people[7].id)] == "absent"
        counts = dict(re.findall(r'data-count="(\w+)"><b>(\d+)</b>', page.text))
        assert counts == {
            "working": "2",
            "on_break": "1",
            "done": "1",
            "absent": "7",  # everyone else of the 11 is not in, and late by 10:30
            "late": "8",
            "outside": "1",
        }
        row_3 = page.text.split(f'data-employee="{people[3].id}"')[1].split("</tr>")[0]
        assert "опоздание 40 мин" in row_3
        assert "вне офиса" in row_3
        assert "09:40" in row_3
        # The live refresh gets the board alone.
        partial = await admin.get("/bitrix/app?partial=1")
        assert partial.text.lstrip().startswith('<div class="stats">')
        assert "<html" not in partial.text

        # The employee sees only their own day and week.
        maria = await stack.login(EMPLOYEE_USER)
        mine = await maria.get("/bitrix/app")
        assert 'data-state="working"' in mine.text
        assert "опоздание 40 мин" in mine.text
        assert mine.text.count("data-date=") == 7
        assert "Игорь Петров" not in mine.text


async def test_an_office_with_a_circle_and_a_polygon_zone(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        admin = await stack.login(ADMIN_USER)
        bad = await admin.post(
            "/bitrix/app/offices",
            {"name": "", "timezone": "Mars/Base", "ip_ranges": "10.0.0.0/8\nnot-a-network"},
        )
        assert bad.status_code == 400
        assert errors_of(bad.text) == {
            "name": "Обязательное поле.",
            "timezone": "Неизвестный часовой пояс (пример: Europe/Moscow).",
            "ip_ranges": "Не сеть: not-a-network. Пример: 192.168.10.0/24.",
        }
        assert 'value="Mars/Base"' in bad.text  # what was typed stays in the form
        hostile = await admin.post(
            "/bitrix/app/offices", {"name": "<script>alert(1)</script>x" * 20}
        )
        assert hostile.status_code == 400  # too long, and shown back escaped
        assert "<script>alert(1)" not in hostile.text
        assert "&lt;script&gt;alert(1)" in hostile.text
        assert await stack.rows(select(Office)) == []

        made = await admin.post(
            "/bitrix/app/offices",
            {"name": "Главный офис", "timezone": "Europe/Moscow", "ip_ranges": "10.1.2.3/24"},
        )
        assert made.status_code == 303
        office_url = made.headers["location"].split("?")[0]
        (office,) = await stack.rows(select(Office))
        assert office_url == f"/bitrix/app/offices/{office.id}"
        assert office.ip_ranges == ["10.1.2.0/24"]
        assert office.timezone == "Europe/Moscow"

        circle = await admin.post(
            f"{office_url}/zones",
            {"zone_name": "Бизнес-центр", "kind": "circle", "lat": "55,7558", "lon": "37.6173",
             "radius_m": "120"},
        )  # fmt: skip
        assert circle.status_code == 303
        square = "\n".join(
            ["55.7550, 37.6160", "55.7550, 37.6180", "55.7565, 37.6180", "55.7565, 37.6160"]
        )
        polygon = await admin.post(
            f"{office_url}/zones", {"zone_name": "Двор", "kind": "polygon", "polygon": square}
        )
        assert polygon.status_code == 303
        bow_tie = {
            "type": "Polygon",
            "coordinates": [[[37.0, 55.0], [37.01, 55.01], [37.01, 55.0], [37.0, 55.01]]],
        }
        crossing = await admin.post(
            f"{office_url}/zones",
            {"zone_name": "X", "kind": "polygon", "polygon": json.dumps(bow_tie)},
        )
        assert crossing.status_code == 400
        assert errors_of(crossing.text) == {"polygon": "Стороны многоугольника пересекаются."}
        too_big = await admin.post(
            f"{office_url}/zones",
            {"zone_name": "Y", "kind": "circle", "lat": "55", "lon": "37", "radius_m": "60000"},
        )
        assert too_big.status_code == 400
        assert "radius_m" in errors_of(too_big.text)

        zones = await stack.rows(select(Zone).order_by(Zone.id))
        assert [(z.name, z.kind) for z in zones] == [
            ("Бизнес-центр", "circle"),
            ("Двор", "polygon"),
        ]
        assert (zones[0].lat, zones[0].lon, zones[0].radius_m) == (55.7558, 37.6173, 120.0)
        assert zones[1].polygon is not None
        assert zones[1].polygon["type"] == "Polygon"

        page = await admin.get(office_url)
        assert page.text.count("data-zone=") == 2
        assert 'placeholder="Europe/Moscow"' in page.text
        assert 'id="map"' in page.text
        assert "tile.openstreetmap.org" in page.headers["content-security-policy"]

        # The bot's check-in uses both zones for everyone (all offices allowed by default).
        async with stack.uow() as uow:
            maria = await uow.employees.by_bitrix_id(await stack.portal_id(), EMPLOYEE_USER)
            assert maria is not None
            places = await load_places(uow, maria)
            (place,) = places.offices
            assert [z.name for z in place.zones] == ["Бизнес-центр", "Двор"]
            assert place.zones[0].signed_distance_m(Point(55.7558, 37.6173)) < 0

        # Turn the circle off: marks keep pointing at it, check-ins no longer use it.
        off = await admin.post(f"{office_url}/zones/{zones[0].id}", {"toggle": "off"})
        assert off.status_code == 303
        (stored,) = await stack.rows(select(Zone).where(Zone.id == zones[0].id))
        assert stored.active is False
        assert [e.entity_id for e in await audit(stack, "zone.created")] == [
            str(z.id) for z in zones
        ]
        assert len(await audit(stack, "office.created")) == 1
        assert len(await audit(stack, "zone.updated")) == 1


async def test_a_schedule_assigned_to_a_person_is_the_one_the_bot_applies(
    database_url: str,
) -> None:
    async with admin_stack(database_url) as stack:
        admin = await stack.login(ADMIN_USER)
        broken = fixed_schedule_form("Сломанный")
        broken["day0_break"] = "600"
        broken["day1_end"] = "09:00"
        refused = await admin.post("/bitrix/app/schedules", broken)
        assert refused.status_code == 400
        assert errors_of(refused.text) == {
            "day0_break": "Перерыв не может быть длиннее рабочего дня.",
            "day1_end": "Начало и конец совпадают.",
        }
        assert await stack.rows(select(Schedule)) == []

        late = fixed_schedule_form("С десяти")
        for d in range(5):
            late[f"day{d}_start"], late[f"day{d}_end"] = "10:00", "19:00"
        late["late_tolerance_min"] = "5"
        assert (await admin.post("/bitrix/app/schedules", late)).status_code == 303
        (schedule,) = await stack.rows(select(Schedule))
        assert schedule.kind == "fixed"
        assert schedule.definition["week"][0] == {"start": "10:00", "end": "19:00", "break": 60}
        assert schedule.definition["week"][5] is None
        assert schedule.late_tolerance_min == 5

        maria = await employee_of(stack, EMPLOYEE_USER)
        person_url = f"/bitrix/app/employees/{maria.id}"
        before = await admin.get(person_url)
        assert "Сейчас действует: стандартный" in before.text
        bad_date = await admin.post(
            f"{person_url}/schedule", {"schedule_id": schedule.id, "valid_from": "31.12.2026"}
        )
        assert bad_date.status_code == 400
        assert errors_of(bad_date.text) == {"valid_from": "Нужна дата (ГГГГ-ММ-ДД)."}
        assigned = await admin.post(
            f"{person_url}/schedule", {"schedule_id": schedule.id, "valid_from": "2026-11-01"}
        )
        assert assigned.status_code == 303
        after = await admin.get(person_url)
        assert "Сейчас действует: С десяти" in after.text
        (assignment,) = await stack.rows(select(ScheduleAssignment))
        assert (assignment.scope, assignment.target_id) == ("employee", maria.id)
        (entry,) = await audit(stack, "schedule.assigned")
        assert entry.actor == "user:1"

        # The bot's plan for Maria now expects her at 10:00, others still at 09:00.
        async with stack.uow() as uow:
            portal = await uow.portals.get(await stack.portal_id())
            assert portal is not None
            monday = date(2026, 11, 23)
            for user_id, start in ((EMPLOYEE_USER, "10:00"), (4, "09:00")):
                employee = await uow.employees.by_bitrix_id(portal.id, user_id)
                assert employee is not None
                person = await person_for(uow, portal, employee)
                plan = await plan_for(uow, portal, person, start=monday, end=monday, country="RU")
                expectation = plan.expected(monday, person.tz)
                assert expectation is not None
                assert expectation.start is not None
                assert expectation.start.astimezone(person.tz).strftime("%H:%M") == start

        # A department assignment from the schedules page, then removed again.
        to_sales = await admin.post(
            "/bitrix/app/schedules/assignments",
            {"schedule_id": schedule.id, "scope": "department", "department": "2",
             "valid_from": "2026-11-01"},
        )  # fmt: skip
        assert to_sales.status_code == 303
        unknown = await admin.post(
            "/bitrix/app/schedules/assignments",
            {"schedule_id": schedule.id, "scope": "department", "department": "777",
             "valid_from": "2026-11-01"},
        )  # fmt: skip
        assert unknown.status_code == 400
        assert errors_of(unknown.text) == {"department": "Нет такого получателя в этом портале."}
        rows = await stack.rows(select(ScheduleAssignment).order_by(ScheduleAssignment.id))
        assert [(a.scope, a.target_id) for a in rows] == [
            ("employee", maria.id),
            ("department", 2),
        ]
        removed = await admin.post(f"/bitrix/app/schedules/assignments/{rows[1].id}/delete", {})
        assert removed.status_code == 303
        assert len(await stack.rows(select(ScheduleAssignment))) == 1
        assert len(await audit(stack, "schedule.unassigned")) == 1

        # Editing the schedule: a flexible one needs working days.
        flexible = {**late, "kind": "flexible", "minimum_hours": "7", "active": "1"}
        no_days = await admin.post(f"/bitrix/app/schedules/{schedule.id}", flexible)
        assert no_days.status_code == 400
        assert errors_of(no_days.text) == {"workday": "Нужен хотя бы один рабочий день."}
        flexible["workday"] = ["0", "1", "2", "3"]
        flexible["core_start"], flexible["core_end"] = "11:00", "16:00"
        assert (
            await admin.post(f"/bitrix/app/schedules/{schedule.id}", flexible)
        ).status_code == 303
        (changed,) = await stack.rows(select(Schedule))
        assert changed.kind == "flexible"
        assert changed.definition["workdays"] == [0, 1, 2, 3]
        assert changed.definition["core_start"] == "11:00"


async def test_calendar_exceptions_change_the_portals_calendar(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        admin = await stack.login(ADMIN_USER)
        hours_on_holiday = await admin.post(
            "/bitrix/app/calendar", {"day": "2026-12-30", "kind": "holiday", "hours": "4"}
        )
        assert hours_on_holiday.status_code == 400
        assert errors_of(hours_on_holiday.text) == {"hours": "У выходного нет часов."}
        bad_kind = await admin.post("/bitrix/app/calendar", {"day": "2026-12-30", "kind": "party"})
        assert bad_kind.status_code == 400
        assert await stack.rows(select(CalendarOverride)) == []

        added = await admin.post(
            "/bitrix/app/calendar", {"day": "2026-12-30", "kind": "holiday", "note": "Корпоратив"}
        )
        assert added.status_code == 303
        assert added.headers["location"] == "/bitrix/app/calendar?year=2026&flash=flash.created"
        page = await admin.get(added.headers["location"])
        assert 'data-day="2026-12-30"' in page.text
        assert "Добавлено." in page.text
        december = re.search(r'<tr data-month="12"><td>12</td><td>(\d+)</td>', page.text)
        assert december is not None
        replaced = await admin.post(
            "/bitrix/app/calendar", {"day": "2026-12-30", "kind": "short", "hours": "6"}
        )
        assert replaced.status_code == 303
        assert "flash.replaced" in replaced.headers["location"]
        (row,) = await stack.rows(select(CalendarOverride))
        assert (row.kind, row.hours) == ("short", 6.0)

        async with stack.uow() as uow:
            portal = await uow.portals.get(await stack.portal_id())
            assert portal is not None
            calendar = await portal_calendar(
                uow, portal, country="RU", start=date(2026, 12, 1), end=date(2026, 12, 31)
            )
            assert calendar is not None
            assert calendar.kind(date(2026, 12, 30)) is DayKind.SHORTENED

        deleted = await admin.post(f"/bitrix/app/calendar/{row.id}/delete", {})
        assert deleted.status_code == 303
        assert await stack.rows(select(CalendarOverride)) == []
        actions = [
            e.action
            for e in await stack.rows(
                select(AuditEntry)
                .where(AuditEntry.entity == "calendar_override")
                .order_by(AuditEntry.id)
            )
        ]
        assert actions == [
            "calendar.override_added",
            "calendar.override_replaced",
            "calendar.override_deleted",
        ]


async def test_employees_search_settings_and_a_heads_read_only_view(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        admin = await stack.login(ADMIN_USER)
        everyone = await admin.get("/bitrix/app/employees")
        assert everyone.text.count("data-employee=") == 11
        found = await admin.get("/bitrix/app/employees", params={"q": "иванова"})
        assert found.text.count("data-employee=") == 1
        assert "Мария Иванова" in found.text
        backend = await admin.get("/bitrix/app/employees", params={"department": "4"})
        assert backend.text.count("data-employee=") == 3  # Алексей, Ольга, Сергей

        made = await admin.post("/bitrix/app/offices", {"name": "Склад"})
        office_id = int(made.headers["location"].split("?")[0].rsplit("/", 1)[1])
        maria = await employee_of(stack, EMPLOYEE_USER)
        url = f"/bitrix/app/employees/{maria.id}"
        foreign_office = await admin.post(
            url, {"offices_mode": "only", "office": "999999", "language": "en"}
        )
        assert foreign_office.status_code == 400
        assert errors_of(foreign_office.text) == {"office": "Нет такого офиса в этом портале."}
        saved = await admin.post(
            url,
            {"offices_mode": "only", "office": str(office_id), "remote_day": ["5", "9"],
             "language": "en"},
        )  # fmt: skip
        assert saved.status_code == 303
        stored = await employee_of(stack, EMPLOYEE_USER)
        assert stored.all_offices is False
        assert stored.remote_weekdays == [5]
        assert stored.language == "en"
        links = await stack.rows(select(EmployeeOffice))
        assert [(link.employee_id, link.office_id) for link in links] == [(maria.id, office_id)]
        (entry,) = await audit(stack, "employee.updated")
        assert entry.details["changed"]["remote_weekdays"] == [5]
        listing = await admin.get("/bitrix/app/employees", params={"q": "Мария"})
        assert "Склад" in listing.text
        assert "Пт" in listing.text

        back = await admin.post(url, {"offices_mode": "all", "language": ""})
        assert back.status_code == 303
        # The ticked offices stay remembered; "any office" wins while it is set.
        kept = await stack.rows(select(EmployeeOffice))
        assert [(link.employee_id, link.office_id) for link in kept] == [(maria.id, office_id)]
        assert (await employee_of(stack, EMPLOYEE_USER)).all_offices is True

        head = await stack.login(HEAD_USER)
        team = await head.get("/bitrix/app/employees")
        assert team.text.count("data-employee=") == 3  # Sales: Игорь, Мария, Дмитрий
        assert 'id="sync"' not in team.text
        view = await head.get(url)
        assert view.status_code == 200
        assert 'id="read-only"' in view.text
        assert "<fieldset disabled>" in view.text
        assert 'id="employee-submit"' not in view.text
        alexey = await employee_of(stack, 6)
        assert (await head.get(f"/bitrix/app/employees/{alexey.id}")).status_code == 404


async def test_pages_answer_in_english_after_the_switch(sqlite_url: str) -> None:
    async with admin_stack(sqlite_url) as stack:
        admin: AdminClient = await stack.login(ADMIN_USER)
        await admin.post("/bitrix/app/lang", {"lang": "en"})
        for path, heading in (
            ("/bitrix/app/employees", "Employees"),
            ("/bitrix/app/offices", "Offices and zones"),
            ("/bitrix/app/schedules", "Schedules"),
            ("/bitrix/app/calendar", "Calendar"),
        ):
            page = await admin.get(path)
            assert page.status_code == 200
            assert f"<h1>{heading}</h1>" in page.text
            assert 'lang="en"' in page.text
        refused = await admin.post("/bitrix/app/offices", {"name": ""})
        assert errors_of(refused.text) == {"name": "Required."}
