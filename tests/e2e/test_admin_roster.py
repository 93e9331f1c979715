"""Rosters of shift schedules in the admin UI, over real HTTP (and one Chromium flow): a dated
shift added, changed and removed; night shifts crossing midnight in each person's own zone;
overlaps refused; bulk entry all-or-nothing; a week copied; CSRF, roles and other portals. What
is stored is what the bot then expects of the person."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.support.admin import (
    ADMIN_USER,
    BROWSER_ARGS,
    EMPLOYEE_USER,
    HEAD_USER,
    AdminClient,
    AdminStack,
    admin_stack,
    install_second,
    open_app_in_browser,
    second_portal,
)
from timebot.bot.people import person_for, plan_for
from timebot.domain.clock import FixedClock
from timebot.storage.tables import AuditEntry, Employee, Schedule, Shift

# Monday 23 November 2026, 10:30 in Moscow: the default roster shows 23 Nov – 6 Dec.
MONDAY_1030_MSK = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
MSK = ZoneInfo("Europe/Moscow")
EKB = ZoneInfo("Asia/Yekaterinburg")
MARIA, DMITRY, OLGA, PAVEL = EMPLOYEE_USER, 4, 7, 10  # Sales, Sales, Backend, Yekaterinburg


def errors_of(page: str) -> dict[str, str]:
    return {
        k: html.unescape(v) for k, v in re.findall(r'<li data-field="(\w+)">([^<]*)</li>', page)
    }


def cell(page: str, employee_id: int, day: str) -> str | None:
    """The text of a person's roster cell for a day (None when the person has no row)."""
    row = re.search(rf'<tr data-employee="{employee_id}">(.*?)</tr>', page, re.S)
    if row is None:
        return None
    found = re.search(rf'<td data-day="{day}"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert found is not None, f"no cell for {day}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


async def audit(stack: AdminStack, action: str) -> list[AuditEntry]:
    return await stack.rows(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    )


async def employee_of(stack: AdminStack, user_id: int, member_id: str | None = None) -> Employee:
    portal_id = await stack.portal_id(member_id)
    rows = await stack.rows(
        select(Employee).where(Employee.portal_id == portal_id, Employee.bitrix_user_id == user_id)
    )
    assert len(rows) == 1
    return rows[0]


async def shifts(stack: AdminStack) -> list[Shift]:
    return await stack.rows(select(Shift).order_by(Shift.starts_at, Shift.id))


def local(rows: list[Shift], tz: ZoneInfo = MSK) -> list[tuple[str, str]]:
    return [
        (
            r.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            r.ends_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        )
        for r in rows
    ]


async def shift_schedule(
    stack: AdminStack, admin: AdminClient, *targets: tuple[str, int], name: str = "Сменный"
) -> int:
    """A shift schedule (30 min break) made through the schedules page, assigned from
    1 November 2026 to each (scope, target): ("department", bitrix id) or ("employee", id)."""
    made = await admin.post(
        "/bitrix/app/schedules",
        {"name": name, "kind": "shift", "shift_break": "30", "late_tolerance_min": "10",
         "early_tolerance_min": "10"},
    )  # fmt: skip
    assert made.status_code == 303, made.text[:500]
    rows = await stack.rows(select(Schedule).where(Schedule.name == name))
    schedule_id = rows[-1].id
    for scope, target in targets:
        key = "department" if scope == "department" else "employee_id"
        assigned = await admin.post(
            "/bitrix/app/schedules/assignments",
            {"schedule_id": schedule_id, "scope": scope, key: target, "valid_from": "2026-11-01"},
        )
        assert assigned.status_code == 303, assigned.text[:500]
    return schedule_id


async def expected(stack: AdminStack, user_id: int, day: date) -> Any:
    """What the bot's plan expects of the person on `day` (None: a day off)."""
    async with stack.uow() as uow:
        portal = await uow.portals.get(await stack.portal_id())
        assert portal is not None
        employee = await uow.employees.by_bitrix_id(portal.id, user_id)
        assert employee is not None
        person = await person_for(uow, portal, employee)
        plan = await plan_for(uow, portal, person, start=day, end=day, country="RU")
        return plan.expected(day, person.tz)


async def test_a_shift_is_added_changed_and_removed_and_audited(database_url: str) -> None:
    async with admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        maria = await employee_of(stack, MARIA)
        olga = await employee_of(stack, OLGA)
        schedule_id = await shift_schedule(stack, admin, ("department", 2))
        roster = f"/bitrix/app/schedules/{schedule_id}/roster"

        # The schedules list and the schedule's page lead to the roster.
        assert f'href="{roster}"' in (await admin.get("/bitrix/app/schedules")).text
        assert f'href="{roster}"' in (await admin.get(f"/bitrix/app/schedules/{schedule_id}")).text

        page = await admin.get(roster)
        assert page.status_code == 200
        assert "Расписание смен: Сменный" in page.text
        # This week and the next, for the Sales department (2, 3, 4) only.
        assert page.text.count('<th data-day="') == 14
        assert re.findall(r'<th data-day="([\d-]+)"', page.text)[0] == "2026-11-23"
        people = set(re.findall(r'<tr data-employee="(\d+)">', page.text))
        assert str(maria.id) in people
        assert str(olga.id) not in people
        assert len(people) == 3
        assert cell(page.text, maria.id, "2026-11-24") == "+"

        added = await admin.post(
            f"{roster}/shifts",
            {"employee_id": maria.id, "day": "2026-11-24", "start": "09:00", "end": "21:00",
             "period": "week", "first": "2026-11-23"},
        )  # fmt: skip
        assert added.status_code == 303
        assert (
            added.headers["location"]
            == f"{roster}?period=week&first=2026-11-23&flash=flash.created"
        )
        (row,) = await shifts(stack)
        assert (row.starts_at, row.ends_at) == (
            datetime(2026, 11, 24, 6, 0, tzinfo=UTC),
            datetime(2026, 11, 24, 18, 0, tzinfo=UTC),
        )
        assert (row.portal_id, row.employee_id, row.schedule_id) == (
            await stack.portal_id(),
            maria.id,
            schedule_id,
        )
        (entry,) = await audit(stack, "shift.created")
        assert entry.actor == "user:1"
        assert entry.entity_id == str(row.id)
        assert entry.details["start"] == "09:00"
        assert entry.details["timezone"] == "Europe/Moscow"
        week = await admin.get(f"{roster}?period=week&first=2026-11-25")
        assert week.text.count('<th data-day="') == 7
        assert cell(week.text, maria.id, "2026-11-24") == "09:00–21:00"
        assert f'data-total="{maria.id}">11:30<' in week.text  # 12 h minus the 30 min break

        # The shift's page: change it to Wednesday 10:00–22:00.
        shift_url = f"{roster}/shifts/{row.id}"
        edit = await admin.get(shift_url)
        assert edit.status_code == 200
        assert 'value="09:00"' in edit.text
        bad = await admin.post(
            shift_url, {"employee_id": maria.id, "day": "2026-11-25", "start": "25:00", "end": "x"}
        )
        assert bad.status_code == 400
        assert errors_of(bad.text) == {
            "start": "Нужно время (ЧЧ:ММ).",
            "end": "Нужно время (ЧЧ:ММ).",
        }
        changed = await admin.post(
            shift_url,
            {"employee_id": maria.id, "day": "2026-11-25", "start": "10:00", "end": "22:00"},
        )
        assert changed.status_code == 303
        assert local(await shifts(stack)) == [("2026-11-25 10:00", "2026-11-25 22:00")]
        (entry,) = await audit(stack, "shift.updated")
        assert entry.details["before"]["day"] == "2026-11-24"
        assert entry.details["after"]["start"] == "10:00"
        assert entry.actor == "user:1"

        # Refusals: a person another schedule applies to, a stranger, bad fields, no roster.
        for form, field, message in (
            (
                {"employee_id": olga.id, "day": "2026-11-26", "start": "09:00", "end": "18:00"},
                "shift",
                "Ольга Лебедева: 26.11.2026 действует другой график, смена не применилась бы. "
                "Назначьте этот график сотруднику с нужной даты.",
            ),
            (
                {"employee_id": 987654, "day": "2026-11-26", "start": "09:00", "end": "18:00"},
                "employee_id",
                "Нет такого сотрудника в этом портале.",
            ),
            (
                {"employee_id": maria.id, "day": "26.11.2026", "start": "09:00", "end": "18:00"},
                "day",
                "Нужна дата (ГГГГ-ММ-ДД).",
            ),
            (
                {"employee_id": maria.id, "day": "9999-12-31", "start": "09:00", "end": "18:00"},
                "day",
                "Дата — с 01.01.2000 по 31.12.2099.",
            ),
            (
                {"employee_id": maria.id, "day": "2026-10-30", "start": "09:00", "end": "18:00"},
                "shift",
                "Мария Иванова: 30.10.2026 действует другой график, смена не применилась бы. "
                "Назначьте этот график сотруднику с нужной даты.",
            ),
        ):
            refused = await admin.post(f"{roster}/shifts", form)
            assert refused.status_code == 400, form
            assert errors_of(refused.text) == {field: message}
            assert 'id="add-shift"' in refused.text  # the form is shown again
        assert len(await shifts(stack)) == 1
        # Odd periods in the address fall back to something sensible.
        for query in ("period=month&first=9999-12-31", "period=year&first=soon"):
            assert (await admin.get(f"{roster}?{query}")).status_code == 200

        removed = await admin.post(f"{shift_url}/delete", {})
        assert removed.status_code == 303
        assert await shifts(stack) == []
        (entry,) = await audit(stack, "shift.deleted")
        assert entry.entity_id == str(row.id)
        assert entry.actor == "user:1"
        assert (await admin.get(shift_url)).status_code == 404

        # A fixed schedule has no roster.
        fixed = await stack.rows(select(Schedule).where(Schedule.kind == "fixed"))
        assert fixed == []
        await admin.post(
            "/bitrix/app/schedules",
            {"name": "Офис", "kind": "fixed", "week_hours": "40", "day0_on": "1",
             "day0_start": "09:00", "day0_end": "18:00", "day0_break": "60"},
        )  # fmt: skip
        (office,) = await stack.rows(select(Schedule).where(Schedule.kind == "fixed"))
        no_roster = await admin.get(f"/bitrix/app/schedules/{office.id}/roster")
        assert no_roster.status_code == 404
        assert "не сменный" in no_roster.text


async def test_a_night_shift_crosses_midnight_and_the_bot_expects_it(database_url: str) -> None:
    async with admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        maria = await employee_of(stack, MARIA)
        pavel = await employee_of(stack, PAVEL)
        schedule_id = await shift_schedule(stack, admin, ("department", 2), ("department", 5))
        roster = f"/bitrix/app/schedules/{schedule_id}/roster"
        tuesday = date(2026, 11, 24)
        assert await expected(stack, MARIA, tuesday) is None  # nothing rostered yet

        for person in (maria, pavel):
            added = await admin.post(
                f"{roster}/shifts",
                {"employee_id": person.id, "day": "2026-11-24", "start": "22:00", "end": "06:00"},
            )
            assert added.status_code == 303
        by_person = {r.employee_id: r for r in await shifts(stack)}
        # Maria's zone is Moscow, Pavel's Yekaterinburg: 22:00 is their own local time.
        assert by_person[maria.id].starts_at == datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
        assert by_person[maria.id].ends_at == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
        assert by_person[pavel.id].starts_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)

        page = await admin.get(roster)
        assert cell(page.text, maria.id, "2026-11-24") == "22:00–06:00 +1"
        assert cell(page.text, maria.id, "2026-11-25") == "+"
        assert "Asia/Yekaterinburg" in page.text

        for user_id, tz in ((MARIA, MSK), (PAVEL, EKB)):
            expectation = await expected(stack, user_id, tuesday)
            assert expectation is not None
            assert expectation.start.astimezone(tz) == datetime(2026, 11, 24, 22, 0, tzinfo=tz)
            assert expectation.end.astimezone(tz) == datetime(2026, 11, 25, 6, 0, tzinfo=tz)
            assert expectation.minimum == timedelta(hours=7, minutes=30)  # 8 h - 30 min break
            assert expectation.schedule_kind == "shift"
            # The night belongs to the day it starts on: Wednesday is free.
            assert await expected(stack, user_id, tuesday + timedelta(days=1)) is None

        # An end equal to the start is a full day: 24 hours.
        full = await admin.post(
            f"{roster}/shifts",
            {"employee_id": maria.id, "day": "2026-11-27", "start": "08:00", "end": "08:00"},
        )
        assert full.status_code == 303
        long = [r for r in await shifts(stack) if r.employee_id == maria.id][-1]
        assert long.ends_at - long.starts_at == timedelta(hours=24)


async def test_overlapping_shifts_of_one_person_are_refused(database_url: str) -> None:
    async with admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        maria = await employee_of(stack, MARIA)
        dmitry = await employee_of(stack, DMITRY)
        schedule_id = await shift_schedule(stack, admin, ("department", 2))
        roster = f"/bitrix/app/schedules/{schedule_id}/roster"

        async def add(employee: Employee, day: str, start: str, end: str) -> Any:
            return await admin.post(
                f"{roster}/shifts",
                {"employee_id": employee.id, "day": day, "start": start, "end": end},
            )

        assert (await add(maria, "2026-11-24", "22:00", "06:00")).status_code == 303
        for day, start, end, message in (
            (
                "2026-11-25",
                "05:00",
                "13:00",
                "Мария Иванова: смена 25.11.2026 пересекается с другой сменой "
                "(24.11.2026 22:00–06:00).",
            ),
            (
                "2026-11-24",
                "08:00",
                "12:00",
                "Мария Иванова: на 24.11.2026 уже есть смена (одна смена на дату начала).",
            ),
            (
                "2026-11-23",
                "23:00",
                "22:30",
                "Мария Иванова: смена 23.11.2026 пересекается с другой сменой "
                "(24.11.2026 22:00–06:00).",
            ),
        ):
            refused = await add(maria, day, start, end)
            assert refused.status_code == 400
            assert errors_of(refused.text) == {"shift": message}
            assert f'value="{start}"' in refused.text  # what was typed is shown again
        # Touching is not overlapping; another person's shift never collides with hers.
        assert (await add(maria, "2026-11-25", "06:00", "14:00")).status_code == 303
        assert (await add(dmitry, "2026-11-24", "21:00", "07:00")).status_code == 303
        assert len(await shifts(stack)) == 3
        # Two administrators at once, two overlapping shifts: exactly one is stored.
        racing = await asyncio.gather(
            add(dmitry, "2026-11-28", "09:00", "18:00"), add(dmitry, "2026-11-28", "12:00", "20:00")
        )
        assert sorted(r.status_code for r in racing) == [303, 400]
        assert len(await shifts(stack)) == 4

        # Moving a shift onto another one is refused too; onto itself is fine.
        (night,) = [r for r in await shifts(stack) if r.employee_id == maria.id][:1]
        shift_url = f"{roster}/shifts/{night.id}"
        clash = await admin.post(
            shift_url,
            {"employee_id": maria.id, "day": "2026-11-25", "start": "12:00", "end": "20:00"},
        )
        assert clash.status_code == 400
        assert "пересекается" in errors_of(clash.text)["shift"]
        longer = await admin.post(
            shift_url,
            {"employee_id": maria.id, "day": "2026-11-24", "start": "21:00", "end": "06:00"},
        )
        assert longer.status_code == 303
        assert local([r for r in await shifts(stack) if r.employee_id == maria.id]) == [
            ("2026-11-24 21:00", "2026-11-25 06:00"),
            ("2026-11-25 06:00", "2026-11-25 14:00"),
        ]


async def test_bulk_entry_stores_every_line_or_none(database_url: str) -> None:
    async with admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        maria = await employee_of(stack, MARIA)
        dmitry = await employee_of(stack, DMITRY)
        schedule_id = await shift_schedule(stack, admin, ("department", 2))
        bulk = f"/bitrix/app/schedules/{schedule_id}/roster/bulk"
        period = {"bulk_from": "2026-11-23", "bulk_to": "2026-12-06"}

        lines = "\n".join(
            [
                "2026-11-23 09:00-21:00 Мария Иванова",
                "2026-11-24 22:00-06:00 Мария Иванова",
                "2026-11-31 09:00-21:00 Мария Иванова",
                "2026-11-25 09:00-21:00 Пётр Неизвестный",
                "2026-12-20 09:00-21:00 Мария Иванова",
                "2026-11-26 9 to 5",
                "2026-11-25 05:00-10:00 Мария Иванова",
            ]
        )
        refused = await admin.post(bulk, {"lines": lines, **period})
        assert refused.status_code == 400
        errors = errors_of(refused.text)
        assert errors["lines"] == "Ничего не сохранено: ошибки в строках 3, 4, 5, 6, 7."
        assert errors["line3"] == (
            "Строка 3 («2026-11-31 09:00-21:00 Мария Иванова»): «2026-11-31» — не дата "
            "(ГГГГ-ММ-ДД или ДД.ММ.ГГГГ)."
        )
        assert errors["line4"].startswith(
            "Строка 4 («2026-11-25 09:00-21:00 Пётр Неизвестный»): нет"
        )
        assert errors["line5"].endswith("дата вне периода 23.11.2026 — 06.12.2026.")
        assert "не похоже" in errors["line6"]
        assert errors["line7"].endswith("пересекается с другой сменой (24.11.2026 22:00–06:00).")
        assert set(errors) == {"lines", "line3", "line4", "line5", "line6", "line7"}
        assert "2026-11-31 09:00-21:00" in refused.text  # the text is shown again to fix
        assert await shifts(stack) == []
        assert await audit(stack, "roster.imported") == []

        # Text, CSV (comma, semicolon), a day.month.year date, a Bitrix id, an e-mail-less
        # line for the chosen person, a comment and a CSV header.
        good = "\n".join(
            [
                "# week 48",
                "date,start,end,person",
                "2026-11-23 09:00-21:00 Мария Иванова",
                "2026-11-24,22:00,06:00,Иванова Мария",
                f"25.11.2026;21:00;09:00;{DMITRY}",
                "2026-11-27 08:00–20:00",
                "",
            ]
        )
        stored = await admin.post(bulk, {"lines": good, "person": maria.id, **period})
        assert stored.status_code == 303
        assert "created=4" in stored.headers["location"]
        rows = await shifts(stack)
        assert [(r.employee_id, *span) for r, span in zip(rows, local(rows), strict=True)] == [
            (maria.id, "2026-11-23 09:00", "2026-11-23 21:00"),
            (maria.id, "2026-11-24 22:00", "2026-11-25 06:00"),
            (dmitry.id, "2026-11-25 21:00", "2026-11-26 09:00"),
            (maria.id, "2026-11-27 08:00", "2026-11-27 20:00"),
        ]
        (entry,) = await audit(stack, "roster.imported")
        assert entry.actor == "user:1"
        assert len(entry.details["created"]) == 4
        landing = await admin.get(stored.headers["location"])
        assert "Сохранено смен: 4, удалено прежних: 0." in landing.text

        # Replace: Maria's shifts in the period give way to the new list; Dmitry's stay.
        replaced = await admin.post(
            bulk,
            {"lines": "2026-11-23 10:00-22:00\n2026-11-24 10:00-22:00", "person": maria.id,
             "replace": "1", **period},
        )  # fmt: skip
        assert replaced.status_code == 303
        rows = await shifts(stack)
        assert [(r.employee_id, *span) for r, span in zip(rows, local(rows), strict=True)] == [
            (maria.id, "2026-11-23 10:00", "2026-11-23 22:00"),
            (maria.id, "2026-11-24 10:00", "2026-11-24 22:00"),
            (dmitry.id, "2026-11-25 21:00", "2026-11-26 09:00"),
        ]
        entry = (await audit(stack, "roster.imported"))[-1]
        assert len(entry.details["removed"]) == 3

        # Two lines of the list colliding with each other; no lines at all; a long period.
        clash = await admin.post(
            bulk, {"lines": "2026-12-01 09:00-18:00\n2026-12-01 17:00-23:00", "person": maria.id,
                   **period},
        )  # fmt: skip
        assert clash.status_code == 400
        assert errors_of(clash.text)["line2"].startswith("Строка 2 («2026-12-01 17:00-23:00»)")
        empty = await admin.post(bulk, {"lines": "# nothing\n", **period})
        assert errors_of(empty.text) == {"lines": "Нет ни одной строки со сменой."}
        long = await admin.post(
            bulk, {"lines": "2026-12-01 09:00-18:00", "bulk_from": "2026-01-01",
                   "bulk_to": "2026-12-31"},
        )  # fmt: skip
        assert errors_of(long.text) == {
            "bulk_to": "Период — не длиннее 62 дней, конец не раньше начала."
        }
        assert len(await shifts(stack)) == 3


async def test_copying_a_week_repeats_its_shifts_and_skips_planned_days(
    database_url: str,
) -> None:
    async with admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        maria = await employee_of(stack, MARIA)
        dmitry = await employee_of(stack, DMITRY)
        schedule_id = await shift_schedule(stack, admin, ("department", 2))
        roster = f"/bitrix/app/schedules/{schedule_id}/roster"
        lines = "\n".join(
            [
                f"2026-11-23 09:00-21:00 {MARIA}",
                f"2026-11-24 22:00-06:00 {DMITRY}",
                f"2026-11-29 22:00-06:00 {MARIA}",  # Sunday night, into next Monday
                f"2026-12-01 08:00-20:00 {DMITRY}",  # already planned next Tuesday
            ]
        )
        stored = await admin.post(
            f"{roster}/bulk", {"lines": lines, "bulk_from": "2026-11-23", "bulk_to": "2026-12-06"}
        )
        assert stored.status_code == 303

        copied = await admin.post(f"{roster}/copy", {"week": "2026-11-26"})  # any day of it
        assert copied.status_code == 303
        location = copied.headers["location"]
        assert "copied=2" in location
        assert "skipped=1" in location
        landing = await admin.get(location)
        assert "Скопировано смен: 2, пропущено: 1." in landing.text
        assert cell(landing.text, maria.id, "2026-11-30") == "09:00–21:00"
        assert cell(landing.text, maria.id, "2026-12-06") == "22:00–06:00 +1"
        assert cell(landing.text, dmitry.id, "2026-12-01") == "08:00–20:00"
        rows = await shifts(stack)
        assert len(rows) == 6
        (entry,) = await audit(stack, "roster.copied")
        assert entry.actor == "user:1"
        assert entry.details["from_week"] == "2026-11-23"
        assert [s["day"] for s in entry.details["created"]] == ["2026-11-30", "2026-12-06"]
        assert [s["reason"] for s in entry.details["skipped"]] == ["roster.same_day"]

        far = await admin.post(f"{roster}/copy", {"week": "9999-12-31"})
        assert far.status_code == 400
        assert errors_of(far.text) == {"week": "Дата — с 01.01.2000 по 31.12.2099."}
        empty = await admin.post(f"{roster}/copy", {"week": "2027-02-01"})
        assert empty.status_code == 400
        assert errors_of(empty.text) == {
            "week": "В неделе с 01.02.2027 нет смен этого графика — копировать нечего."
        }
        assert len(await shifts(stack)) == 6


async def test_csrf_roles_and_other_portals_are_kept_out(database_url: str) -> None:
    async with admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        maria = await employee_of(stack, MARIA)
        olga = await employee_of(stack, OLGA)
        schedule_id = await shift_schedule(stack, admin, ("department", 2), ("employee", olga.id))
        roster = f"/bitrix/app/schedules/{schedule_id}/roster"
        form = {"employee_id": maria.id, "day": "2026-11-24", "start": "22:00", "end": "06:00"}

        no_token = await admin.post(f"{roster}/shifts", form, csrf=False)
        assert no_token.status_code == 403
        assert "CSRF" in no_token.text
        for path, data in (
            (f"{roster}/bulk", {"lines": "2026-11-24 22:00-06:00", "person": maria.id}),
            (f"{roster}/copy", {"week": "2026-11-23"}),
        ):
            assert (await admin.post(path, data, csrf=False)).status_code == 403
        assert await shifts(stack) == []
        assert await audit(stack, "shift.created") == []
        assert (await admin.post(f"{roster}/shifts", form)).status_code == 303
        (row,) = await shifts(stack)
        assert (
            await admin.post(f"{roster}/shifts/{row.id}/delete", {}, csrf=False)
        ).status_code == 403
        assert len(await shifts(stack)) == 1

        # An employee gets nothing; the head of Sales reads their own people's rows only.
        employee = await stack.login(EMPLOYEE_USER)
        assert (await employee.get(roster)).status_code == 403
        head = await stack.login(HEAD_USER)
        view = await head.get(roster)
        assert view.status_code == 200
        assert 'id="read-only"' in view.text
        assert 'id="add-shift"' not in view.text
        assert 'id="bulk-form"' not in view.text
        assert cell(view.text, maria.id, "2026-11-24") == "22:00–06:00 +1"
        assert cell(view.text, olga.id, "2026-11-24") is None
        assert cell((await admin.get(roster)).text, olga.id, "2026-11-24") == "+"
        assert (
            await head.post(f"{roster}/shifts", {**form, "day": "2026-11-26"})
        ).status_code == 403
        assert (await head.get(f"{roster}/shifts/{row.id}")).status_code == 403
        assert len(await shifts(stack)) == 1

        # Another portal's administrator, with a shift schedule of their own.
        with second_portal(stack) as other:
            await install_second(stack, other)
            intruder = await stack.login(ADMIN_USER, sandbox_url=other.base_url)
            assert (await intruder.get(roster)).status_code == 404
            theirs = await shift_schedule(stack, intruder, ("department", 2), name="Чужой")
            their_roster = f"/bitrix/app/schedules/{theirs}/roster"
            foreign = f"{their_roster}/shifts/{row.id}"
            assert (await intruder.get(foreign)).status_code == 404
            moved = {**form, "day": "2026-11-27"}
            assert (await intruder.post(foreign, moved)).status_code == 404
            assert (await intruder.post(f"{foreign}/delete", {})).status_code == 404
            # Portal A's person is nobody in portal B.
            planted = await intruder.post(f"{their_roster}/shifts", {**form, "day": "2026-11-27"})
            assert planted.status_code == 400
            assert errors_of(planted.text) == {
                "employee_id": "Нет такого сотрудника в этом портале."
            }
            by_name = await intruder.post(
                f"{their_roster}/bulk",
                {"lines": "2026-11-27 22:00-06:00 Мария Иванова", "bulk_from": "2026-11-23",
                 "bulk_to": "2026-12-06"},
            )  # fmt: skip
            assert by_name.status_code == 303  # B's own Maria (the demo company twice)
            b_maria = await employee_of(stack, MARIA, other.member_id)
            assert b_maria.id != maria.id
            rows = await shifts(stack)
            assert {(r.employee_id, r.portal_id) for r in rows} == {
                (maria.id, await stack.portal_id()),
                (b_maria.id, await stack.portal_id(other.member_id)),
            }
            assert (
                await intruder.post(f"{roster}/copy", {"week": "2026-11-23"})
            ).status_code == 404


async def test_the_roster_reads_in_english(sqlite_url: str) -> None:
    async with admin_stack(sqlite_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        schedule_id = await shift_schedule(stack, admin, ("department", 2), name="Nights")
        await admin.post("/bitrix/app/lang", {"lang": "en"})
        page = await admin.get(f"/bitrix/app/schedules/{schedule_id}/roster")
        assert "Roster: Nights" in page.text
        assert "Copy to the next week" in page.text
        refused = await admin.post(
            f"/bitrix/app/schedules/{schedule_id}/roster/bulk",
            {"lines": "tomorrow night", "bulk_from": "2026-11-23", "bulk_to": "2026-12-06"},
        )
        assert errors_of(refused.text)["line1"] == (
            "Line 1 (“tomorrow night”): looks neither like “YYYY-MM-DD HH:MM-HH:MM [person]” "
            "nor like CSV “date,start,end,person”."
        )


@pytest.mark.browser
async def test_an_administrator_adds_a_night_shift_in_the_roster_in_chromium(
    database_url: str, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    async with (
        admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack,
        async_playwright() as pw,
    ):
        admin = await stack.login(ADMIN_USER)
        schedule_id = await shift_schedule(stack, admin, ("department", 2))
        maria = await employee_of(stack, MARIA)
        browser = await pw.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        try:
            # A phone-sized window: the roster scrolls sideways inside its card.
            page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )
            frame = await open_app_in_browser(page, stack.sandbox_url, ADMIN_USER)
            await frame.locator("details.menu > summary").click()
            await frame.locator('nav.main a[data-nav="schedules"]').click()
            await frame.locator(f'a[data-roster="{schedule_id}"]').click()
            await expect(frame.locator("#roster-title")).to_have_text("Расписание смен: Сменный")
            wrap = frame.locator(".table-wrap").first
            assert await wrap.evaluate("e => e.scrollWidth > e.clientWidth")

            add = frame.locator(f'tr[data-employee="{maria.id}"] a.add[data-day="2026-11-24"]')
            await add.click()
            assert await frame.locator("#shift-employee").input_value() == str(maria.id)
            assert await frame.locator("#shift-day").input_value() == "2026-11-24"
            await frame.locator("#shift-start").fill("22:00")
            await frame.locator("#shift-end").fill("06:00")
            await frame.locator("#add-submit").click()
            await expect(frame.locator("#flash")).to_have_text("Добавлено.")
            night = frame.locator(f'tr[data-employee="{maria.id}"] td[data-day="2026-11-24"]')
            await expect(night).to_contain_text("22:00–06:00")
            await expect(night.locator(".next-day")).to_have_text("+1")
            assert errors == []
        finally:
            await browser.close()
        assert local(await shifts(stack)) == [("2026-11-24 22:00", "2026-11-25 06:00")]
        expectation = await expected(stack, MARIA, date(2026, 11, 24))
        assert expectation is not None
        assert expectation.start.astimezone(MSK).strftime("%H:%M") == "22:00"
