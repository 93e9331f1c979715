"""A department head's menu leads to the rosters of shift schedules, and what it leads to is
read-only: their own people's shifts, no forms. Administrators and employees do not get the item."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.e2e.test_admin_roster import (
    MARIA,
    MONDAY_1030_MSK,
    OLGA,
    cell,
    employee_of,
    shift_schedule,
    shifts,
)
from tests.support.admin import ADMIN_USER, EMPLOYEE_USER, HEAD_USER, AdminClient, admin_stack
from timebot.domain.clock import FixedClock
from timebot.storage.tables import Schedule


def nav_links(html: str) -> dict[str, str]:
    """data-nav key -> href of every menu item of a page."""
    return {key: href for href, key in re.findall(r'<a href="([^"]+)" data-nav="(\w+)"', html)}


async def follow(client: AdminClient, path: str) -> tuple[str, str]:
    """GET `path`, following redirects; the final path and page."""
    page = await client.get(path)
    while page.status_code == 303:
        path = page.headers["location"]
        page = await client.get(path)
    assert page.status_code == 200, (path, page.status_code, page.text[:300])
    return path, page.text


async def test_a_head_follows_the_menu_to_read_only_rosters(database_url: str) -> None:
    async with admin_stack(database_url, clock=FixedClock(MONDAY_1030_MSK)) as stack:
        admin = await stack.login(ADMIN_USER)
        head = await stack.login(HEAD_USER)
        employee = await stack.login(EMPLOYEE_USER)
        assert "rosters" not in nav_links((await admin.get("/bitrix/app")).text)
        assert "rosters" not in nav_links((await employee.get("/bitrix/app")).text)
        assert (await employee.get("/bitrix/app/rosters")).status_code == 403
        menu = nav_links((await head.get("/bitrix/app")).text)
        assert menu["rosters"] == "/bitrix/app/rosters"
        assert list(menu).index("rosters") == list(menu).index("employees") + 1

        _, empty = await follow(head, menu["rosters"])
        assert 'id="no-rosters"' in empty
        assert "В портале нет сменных графиков." in empty

        maria = await employee_of(stack, MARIA)
        olga = await employee_of(stack, OLGA)
        sales = await shift_schedule(stack, admin, ("department", 2), ("employee", olga.id))
        shift = {"employee_id": maria.id, "day": "2026-11-24", "start": "22:00", "end": "06:00"}
        added = await admin.post(f"/bitrix/app/schedules/{sales}/roster/shifts", shift)
        assert added.status_code == 303

        # One shift schedule: the menu item opens its roster, read-only, Sales people only.
        path, roster = await follow(head, menu["rosters"])
        assert path.startswith(f"/bitrix/app/schedules/{sales}/roster")
        assert 'id="read-only"' in roster
        assert 'id="add-shift"' not in roster
        assert 'id="bulk-form"' not in roster
        assert cell(roster, maria.id, "2026-11-24") == "22:00–06:00 +1"
        assert cell(roster, olga.id, "2026-11-24") is None  # Backend, not the head's
        assert "rosters" in nav_links(roster)

        # Two: a list of both, each leading to its roster.
        await shift_schedule(stack, admin, ("department", 5), name="Ночной")
        await shift_schedule(stack, admin, name="Выключенный")
        async with stack.uow() as uow:
            off = await uow.session.scalar(select(Schedule).where(Schedule.name == "Выключенный"))
            assert off is not None
            off.active = False
            await uow.commit()
        path, listing = await follow(head, menu["rosters"])
        assert path == "/bitrix/app/rosters"
        assert 'data-nav="rosters" class="active"' in listing
        links = re.findall(r'<a href="([^"]+)" data-roster="(\d+)">([^<]+)</a>', listing)
        assert [name for _, _, name in links] == ["Ночной", "Сменный"]  # not the inactive one
        assert (f"/bitrix/app/schedules/{sales}/roster", str(sales), "Сменный") in links
        for href, _, _ in links:
            _, page = await follow(head, href)
            assert 'id="read-only"' in page
            assert 'id="add-shift"' not in page
        refused = await head.post(
            f"/bitrix/app/schedules/{sales}/roster/shifts", {**shift, "day": "2026-11-26"}
        )
        assert refused.status_code == 403
        assert len(await shifts(stack)) == 1

        await head.post("/bitrix/app/lang", {"lang": "en", "next": "/bitrix/app/rosters"})
        _, english = await follow(head, "/bitrix/app/rosters")
        assert "<h1>Shift rosters</h1>" in english
        assert '<a href="/bitrix/app/rosters" data-nav="rosters" class="active"' in english
        assert ">Shifts</a>" in english
