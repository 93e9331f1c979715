"""A shift's own break, end to end on SQLite and PostgreSQL: an administrator gives one night
shift a break of its own on the roster page (bad values are refused on the form), the page
shows it and the hours it leaves, and the bot's check-in reply in the sandbox chat gives the
norm and the time it will be done from that break, not from the schedules' breaks."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.e2e.chat import QUIET_RULES, chat, sync_people
from tests.e2e.test_admin_roster import audit, cell, employee_of, errors_of, shifts
from tests.e2e.test_admin_roster import shift_schedule as department_schedule
from tests.support.admin import (
    ADMIN_USER,
    EMPLOYEE_USER,
    AdminClient,
    admin_stack,
    login_via_placement,
)
from timebot.domain.clock import FixedClock
from timebot.storage import Database
from timebot.storage.tables import Employee, Schedule, Shift

MONDAY_1030_MSK = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
TUESDAY_2200_MSK = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
MARIA, DMITRY = EMPLOYEE_USER, 4  # Sales (department 2), Moscow


async def rows(database_url: str, query: Any) -> list[Any]:
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            found = list(await uow.session.scalars(query))
            uow.session.expunge_all()
            return found
    finally:
        await db.dispose()


async def shift_schedule(
    database_url: str, admin: AdminClient, name: str, minutes: int, scope: str, target: int
) -> int:
    """A shift schedule made and assigned through the schedules pages."""
    made = await admin.post(
        "/bitrix/app/schedules",
        {"name": name, "kind": "shift", "shift_break": str(minutes), "late_tolerance_min": "10",
         "early_tolerance_min": "10"},
    )  # fmt: skip
    assert made.status_code == 303, made.text[:500]
    (schedule,) = await rows(database_url, select(Schedule).where(Schedule.name == name))
    assert isinstance(schedule, Schedule)
    key = "department" if scope == "department" else "employee_id"
    assigned = await admin.post(
        "/bitrix/app/schedules/assignments",
        {"schedule_id": schedule.id, "scope": scope, key: target, "valid_from": "2026-11-01"},
    )
    assert assigned.status_code == 303, assigned.text[:500]
    return schedule.id


def field_error(page: str, name: str) -> str:
    found = re.search(rf'data-error="{name}">([^<]*)<', page)
    assert found is not None, f"no error for {name}"
    return html.unescape(found.group(1))


async def test_a_shifts_own_break_is_edited_on_the_roster_and_the_bot_uses_it(
    database_url: str,
) -> None:
    async with chat(database_url, "webhook", MONDAY_1030_MSK) as bot:
        await sync_people(database_url, bot.clock, QUIET_RULES)
        http, signed_in = await login_via_placement(bot.base_url, bot.portal.base_url, ADMIN_USER)
        try:
            assert signed_in.status_code == 303, signed_in.text[:300]
            admin = AdminClient(http, ADMIN_USER)
            await admin.csrf()
            (maria,) = await rows(
                database_url, select(Employee).where(Employee.bitrix_user_id == MARIA)
            )
            assert isinstance(maria, Employee)
            # Day shifts (30 min) for Sales; Maria herself works nights (60 min).
            await shift_schedule(database_url, admin, "Дневные", 30, "department", 2)
            nights = await shift_schedule(database_url, admin, "Ночные", 60, "employee", maria.id)
            roster = f"/bitrix/app/schedules/{nights}/roster"
            added = await admin.post(
                f"{roster}/shifts",
                {"employee_id": maria.id, "day": "2026-11-24", "start": "22:00", "end": "06:00"},
            )
            assert added.status_code == 303, added.text[:500]
            (row,) = await rows(database_url, select(Shift))
            assert isinstance(row, Shift)
            assert row.break_minutes is None  # the schedule's
            page = (await admin.get(roster)).text
            assert cell(page, maria.id, "2026-11-24") == "22:00–06:00 +1"
            assert f'data-total="{maria.id}">7:00<' in page  # 8 h less the night schedule's 60

            # The shift's page: its break field is empty (the schedule's 60), then set to 15.
            shift_page = f"{roster}/shifts/{row.id}"
            form = (await admin.get(shift_page)).text
            assert 'id="shift-break"' in form
            assert 'placeholder="по графику: 60"' in form
            values = {"employee_id": maria.id, "day": "2026-11-24", "start": "22:00",
                      "end": "06:00"}  # fmt: skip
            for bad, says in (("abc", "целое число"), ("721", "720"), ("-5", "0")):
                refused = await admin.post(shift_page, {**values, "break_minutes": bad})
                assert refused.status_code == 400
                assert says in field_error(refused.text, "break_minutes")
            (unchanged,) = await rows(database_url, select(Shift))
            assert isinstance(unchanged, Shift)
            assert unchanged.break_minutes is None

            saved = await admin.post(shift_page, {**values, "break_minutes": "15"})
            assert saved.status_code == 303, saved.text[:500]
            (row,) = await rows(database_url, select(Shift))
            assert isinstance(row, Shift)
            assert row.break_minutes == 15
            page = (await admin.get(roster)).text
            assert cell(page, maria.id, "2026-11-24") == "22:00–06:00 +1 ☕15"
            assert 'title="свой перерыв: 15 мин"' in page
            assert f'data-total="{maria.id}">7:45<' in page
            form = (await admin.get(shift_page)).text
            assert re.search(r'name="break_minutes" value="15"', form)
        finally:
            await http.aclose()

        # Tuesday 22:00 in Moscow: Maria checks in for the night.
        bot.at(TUESDAY_2200_MSK)
        answer = await bot.says(MARIA, "Пришла")
        assert "Приход отмечен" in answer.text
        assert "норма 7 ч 45 мин" in answer.text  # 8 h less the shift's own 15 min
        done_at = TUESDAY_2200_MSK + timedelta(hours=7, minutes=45)
        assert f"примерно в [timestamp={int(done_at.timestamp())}" in answer.text


async def test_bulk_lines_the_add_form_and_copying_a_week_keep_each_shifts_break(
    database_url: str,
) -> None:
    async with admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        maria = await employee_of(stack, MARIA)
        dmitry = await employee_of(stack, DMITRY)
        schedule_id = await department_schedule(stack, admin, ("department", 2))  # 30 min
        roster = f"/bitrix/app/schedules/{schedule_id}/roster"
        period = {"bulk_from": "2026-11-23", "bulk_to": "2026-12-06"}

        page = (await admin.get(roster)).text
        assert "(90)" in html.unescape(page)  # the format is documented on the page
        assert 'id="shift-break"' in page

        # A bad break names its line, and nothing is stored.
        refused = await admin.post(
            f"{roster}/bulk",
            {"lines": f"2026-11-23 08:00-20:00 (90) {MARIA}\n2026-11-24 08:00-20:00 (двадцать)"
             f" {MARIA}", **period},
        )  # fmt: skip
        assert refused.status_code == 400
        errors = errors_of(refused.text)
        assert errors["lines"] == "Ничего не сохранено: ошибки в строках 2."
        assert "«(двадцать)» — не перерыв" in errors["line2"]
        assert await shifts(stack) == []

        lines = "\n".join(
            [
                f"2026-11-23 08:00-20:00 (90) {MARIA}",  # a double shift's own 90
                f"2026-11-24,08:00,12:00,(0),{MARIA}",  # CSV: four hours, no break
                f"2026-11-25 08:00-20:00 {MARIA}",  # the schedule's 30
                f"2026-11-23 08:00-16:00 {DMITRY}",  # a bare number is still a person
            ]
        )
        stored = await admin.post(f"{roster}/bulk", {"lines": lines, **period})
        assert stored.status_code == 303, stored.text[:500]
        by_start = {(r.employee_id, r.starts_at.day): r.break_minutes for r in await shifts(stack)}
        assert by_start == {
            (maria.id, 23): 90,
            (maria.id, 24): 0,
            (maria.id, 25): None,
            (dmitry.id, 23): None,
        }
        (imported,) = await audit(stack, "roster.imported")
        assert [c["break_minutes"] for c in imported.details["created"]] == [90, 0, None, None]
        week = (await admin.get(f"{roster}?period=week&first=2026-11-23")).text
        assert cell(week, maria.id, "2026-11-23") == "08:00–20:00 ☕90"
        assert cell(week, maria.id, "2026-11-24") == "08:00–12:00 ☕0"
        assert cell(week, maria.id, "2026-11-25") == "08:00–20:00"
        # 10:30 + 4:00 + 11:30
        assert f'data-total="{maria.id}">26:00<' in week

        # The add form: a bad break is refused on the form; a good one is stored.
        shift = {"employee_id": maria.id, "day": "2026-11-26", "start": "08:00", "end": "20:00"}
        bad = await admin.post(f"{roster}/shifts", {**shift, "break_minutes": "1000"})
        assert bad.status_code == 400
        assert "720" in errors_of(bad.text)["break_minutes"]
        good = await admin.post(f"{roster}/shifts", {**shift, "break_minutes": "45"})
        assert good.status_code == 303
        (created,) = await audit(stack, "shift.created")
        assert created.details["break_minutes"] == 45

        # Copying the week repeats every shift with its break.
        copied = await admin.post(f"{roster}/copy", {"week": "2026-11-23"})
        assert copied.status_code == 303, copied.text[:500]
        later = {
            (r.employee_id, r.starts_at.day): r.break_minutes
            for r in await shifts(stack)
            if (r.starts_at.month, r.starts_at.day) >= (11, 30)
        }
        assert later == {
            (maria.id, 30): 90,
            (maria.id, 1): 0,
            (maria.id, 2): None,
            (maria.id, 3): 45,
            (dmitry.id, 30): None,
        }
