"""The admin UI in headless Chromium, opened the way Bitrix24 opens it: the sandbox portal's
application page POSTs the placement fields into an iframe, timebot signs the user in and
shows its pages inside the frame."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.admin import (
    ADMIN_USER,
    BROWSER_ARGS,
    EMPLOYEE_USER,
    admin_stack,
    open_app_in_browser,
)
from timebot.storage.tables import AuditEntry, Employee, Office, Schedule, ScheduleAssignment, Zone

pytestmark = pytest.mark.browser


def shot(name: str) -> str:
    return str(Path(tempfile.gettempdir()) / f"timebot-admin-{name}.png")


def watch(page: Any, errors: list[str]) -> None:
    """Collect script errors, CSP refusals and failed responses (the browser's own favicon
    probe aside, which shows only as a console line without a response)."""

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)


async def launch(pw: Any, chromium_path: str) -> Any:
    return await pw.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)


async def test_the_app_opens_signed_in_inside_the_portals_frame(
    sqlite_url: str, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_stack(sqlite_url) as stack, async_playwright() as pw:
        browser = await launch(pw, chromium_path)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            watch(page, errors)
            frame = await open_app_in_browser(page, stack.sandbox_url, ADMIN_USER)
            await expect(frame.locator("h1")).to_have_text("Сегодня")
            await expect(frame.locator("#today-table tbody tr")).to_have_count(11)
            await expect(frame.locator("nav.main a.active")).to_have_text("Сегодня")
            await page.screenshot(path=shot("today"))
            assert errors == []
        finally:
            await browser.close()


async def test_an_administrator_adds_an_office_with_a_zone_and_gives_a_person_a_schedule(
    database_url: str, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_stack(database_url) as stack, async_playwright() as pw:
        browser = await launch(pw, chromium_path)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1000}, locale="ru-RU")
            errors: list[str] = []
            watch(page, errors)
            # The map's tiles come from the internet, which this browser has not got: the page
            # must work without them (blocked here so no request leaves the machine).
            await page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
            frame = await open_app_in_browser(page, stack.sandbox_url, ADMIN_USER)

            await frame.locator('nav.main a[data-nav="offices"]').click()
            await expect(frame.locator("h1")).to_have_text("Офисы и зоны")
            await frame.locator("#office-form #name").fill("Главный офис")
            await frame.locator("#office-form #timezone").fill("Europe/Moscow")
            await frame.locator("#office-submit").click()
            await expect(frame.locator("#office-name")).to_have_text("Главный офис")
            await expect(frame.locator("#flash")).to_have_text("Добавлено.")

            # Polygon fields hide while "circle" is chosen.
            await expect(frame.locator("#polygon-fields")).to_be_hidden()
            await frame.locator("#zone_name").fill("Бизнес-центр")
            # A click on the (tile-less) map fills the centre in; then exact coordinates typed.
            await frame.locator("#map").click(position={"x": 100, "y": 100})
            assert await frame.locator("#lat").input_value() != ""
            await frame.locator("#lat").fill("55.7558")
            await frame.locator("#lon").fill("37.6173")
            await frame.locator("#radius_m").fill("150")
            await frame.locator("#zone-submit").click()
            await expect(frame.locator("#zones tbody tr")).to_have_count(1)
            await expect(frame.locator("#map svg circle")).to_have_count(1)
            await page.screenshot(path=shot("office"))

            await frame.locator('nav.main a[data-nav="schedules"]').click()
            await frame.locator("#schedule-form #name").fill("С десяти")
            for day in range(5):
                await frame.locator(f"#day{day}_start").fill("10:00")
                await frame.locator(f"#day{day}_end").fill("19:00")
            await frame.locator("#schedule-submit").click()
            await expect(frame.locator("#schedules tbody tr")).to_have_count(1)

            maria = (
                await stack.rows(select(Employee).where(Employee.bitrix_user_id == EMPLOYEE_USER))
            )[0]
            await frame.locator('nav.main a[data-nav="employees"]').click()
            await frame.locator("#q").fill("Иванова")
            await frame.locator("#filter button").click()
            await frame.locator(f'#employees a[href="/bitrix/app/employees/{maria.id}"]').click()
            await expect(frame.locator("#person-name")).to_have_text("Мария Иванова")
            await frame.locator("#assign-form #schedule_id").select_option(label="С десяти")
            await frame.locator("#valid_from").fill("2026-11-01")
            await frame.locator("#assign-submit").click()
            await expect(frame.locator("#in-force")).to_have_text("Сейчас действует: С десяти")
            await page.screenshot(path=shot("employee"))
            assert errors == []
        finally:
            await browser.close()

    # What the browser did is in the database, audited under the admin's name.
    (office,) = await stack.rows(select(Office))
    (zone,) = await stack.rows(select(Zone))
    assert (office.name, office.timezone) == ("Главный офис", "Europe/Moscow")
    assert (zone.office_id, zone.kind, zone.lat, zone.lon, zone.radius_m) == (
        office.id,
        "circle",
        55.7558,
        37.6173,
        150.0,
    )
    (schedule,) = await stack.rows(select(Schedule))
    assert schedule.definition["week"][0] == {"start": "10:00", "end": "19:00", "break": 60}
    (assignment,) = await stack.rows(select(ScheduleAssignment))
    assert (assignment.schedule_id, assignment.scope, assignment.target_id) == (
        schedule.id,
        "employee",
        maria.id,
    )
    actions = {e.action for e in await stack.rows(select(AuditEntry)) if e.actor == "user:1"}
    assert {"office.created", "zone.created", "schedule.created", "schedule.assigned"} <= actions


async def test_on_a_phone_the_menu_folds_and_the_board_stacks(
    sqlite_url: str, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    async with admin_stack(sqlite_url) as stack, async_playwright() as pw:
        browser = await launch(pw, chromium_path)
        try:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            page = await context.new_page()
            errors: list[str] = []
            watch(page, errors)
            frame = await open_app_in_browser(page, stack.sandbox_url, ADMIN_USER)
            await expect(frame.locator("nav.main")).to_be_hidden()
            await frame.locator("details.menu > summary").click()
            await expect(frame.locator('nav.main a[data-nav="offices"]')).to_be_visible()
            # The board's table stacks: no sideways scrolling on a phone.
            width = await frame.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            await page.screenshot(path=shot("phone"))
            assert errors == []
        finally:
            await browser.close()
