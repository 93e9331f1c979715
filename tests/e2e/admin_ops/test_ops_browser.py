"""The operations pages in headless Chromium, inside the sandbox portal's application frame:
a head approves a correction from the queue (the employee then reads the notice in the sandbox
chat, and the record has the superseding mark), and an administrator downloads a timesheet
XLSX from the reports page (opened with openpyxl)."""

from __future__ import annotations

import asyncio
import re
import tempfile
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.e2e.admin_ops.helpers import (
    MONDAY,
    TUESDAY_0900,
    add_marks,
    add_work_days,
    ask_correction,
    employee_of,
    msk,
)
from tests.e2e.admin_ops.test_reports_page import DECEMBER_1, LATE_DAY, WEEK
from tests.support.admin import (
    ADMIN_USER,
    BROWSER_ARGS,
    HEAD_USER,
    AdminStack,
    admin_stack,
    open_app_in_browser,
)
from timebot.bootstrap import build_container
from timebot.domain.clock import FixedClock
from timebot.domain.marks import MarkKind
from timebot.gateway.outbox import OutboxDispatcher
from timebot.storage.tables import Mark

pytestmark = pytest.mark.browser


def shot(name: str) -> str:
    return str(Path(tempfile.gettempdir()) / f"timebot-admin-ops-{name}.png")


def watch(page: Any, errors: list[str]) -> None:
    """Script errors, CSP refusals and failed responses of our pages."""

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/bitrix/app" in r.url
            else None
        ),
    )


async def deliver_outbox(stack: AdminStack, clock: FixedClock) -> int:
    """What a worker's outbox loop does: send the queued messages to the sandbox portal."""
    container = build_container(stack.settings, clock=clock, configure_logs=False)
    try:
        dispatcher = OutboxDispatcher(
            container.database,
            container.bitrix,
            container.clock,
            worker="test-outbox",
            config=container.gateway,
        )
        sent = 0
        while handled := await dispatcher.dispatch_once():
            sent += handled
        return sent
    finally:
        await container.aclose()


async def test_a_head_approves_a_correction_from_the_queue(
    sqlite_url: str, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    clock = FixedClock(TUESDAY_0900)
    async with admin_stack(sqlite_url, clock=clock) as stack, async_playwright() as pw:
        old = await add_marks(
            stack,
            3,
            [("check_in", msk(MONDAY, time(9, 5))), ("check_out", msk(MONDAY, time(17, 0)))],
        )
        correction = await ask_correction(
            stack, 3, MarkKind.CHECK_OUT, msk(MONDAY, time(18, 10)), "была у клиента", TUESDAY_0900
        )
        browser = await pw.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            errors: list[str] = []
            watch(page, errors)
            frame = await open_app_in_browser(page, stack.sandbox_url, HEAD_USER)
            await frame.goto(f"{stack.base_url}/bitrix/app/queue")
            row = frame.locator(f"#correction-{correction}")
            await expect(row).to_contain_text("была у клиента")
            await row.locator("input[name=comment]").fill("подтверждаю")
            await frame.locator(f"#approve-{correction}").click()
            await expect(frame.locator("#flash")).to_contain_text("Исправление одобрено")
            await expect(frame.locator(f"#correction-{correction}")).to_have_count(0)
            await page.screenshot(path=shot("queue"))
            assert errors == []

            maria = await employee_of(stack, 3)
            marks = await stack.rows(select(Mark).where(Mark.employee_id == maria.id))
            newest = max(marks, key=lambda m: m.id)
            assert (newest.source, newest.supersedes_mark_id, newest.correction_id) == (
                "correction",
                old[1],
                correction,
            )
            assert newest.at == msk(MONDAY, time(18, 10))

            # A worker delivers the notice; Maria reads it in the sandbox chat.
            assert await deliver_outbox(stack, clock) >= 1
            chat = await browser.new_page(viewport={"width": 1280, "height": 900})
            await chat.goto(f"{stack.sandbox_url}/sandbox/")
            await chat.select_option("#employee", "3")
            await chat.locator("#dialogs li", has_text="timebot").first.click()
            notice = chat.locator("#messages .message", has_text=f"Исправление №{correction}")
            await expect(notice.first).to_contain_text("одобрено", timeout=20_000)
            await expect(notice.first).to_contain_text("подтверждаю")
            await chat.screenshot(path=shot("chat-notice"))
        finally:
            await browser.close()


async def test_an_admin_downloads_the_timesheet_from_reports(
    sqlite_url: str, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    clock = FixedClock(DECEMBER_1)
    async with admin_stack(sqlite_url, clock=clock) as stack, async_playwright() as pw:
        await add_work_days(stack, 3, WEEK, time(9, 0))
        await add_work_days(stack, 3, [LATE_DAY], time(9, 40))
        browser = await pw.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 1280, "height": 900}, accept_downloads=True
            )
            errors: list[str] = []
            watch(page, errors)
            frame = await open_app_in_browser(page, stack.sandbox_url, ADMIN_USER)
            await frame.locator('a[data-nav="reports"]').click()
            await expect(frame.locator("h1")).to_have_text("Отчёты")
            await frame.locator("#r-month").fill("2026-11")
            await frame.locator("#reports-show").click()
            maria = frame.locator('#stats-table tr[data-user="3"]')
            await expect(maria.locator("td.worked")).to_have_text("48:00")
            await expect(maria.locator("td.late-days")).to_have_text("1")
            chart = frame.locator("#chart-img")
            await expect(chart).to_be_visible()
            await frame.wait_for_function(
                "() => document.getElementById('chart-img').naturalWidth > 0"
            )
            async with page.expect_download() as info:
                await frame.locator("#xlsx-2026-11").click()
            download = await info.value
            assert download.suggested_filename == "timesheet-2026-11.xlsx"
            target = Path(tempfile.mkdtemp()) / download.suggested_filename
            await download.save_as(target)
            await page.screenshot(path=shot("reports"))
            assert errors == []
        finally:
            await browser.close()
    workbook = await asyncio.to_thread(load_workbook, target)
    sheet = workbook["Отдел продаж"]
    header = next(r for r in range(1, 15) if sheet.cell(r, 2).value == "Сотрудник")
    columns = {sheet.cell(header, c).value: c for c in range(1, sheet.max_column + 1)}
    row = next(
        r for r in range(header + 1, sheet.max_row + 1) if sheet.cell(r, 2).value == "Мария Иванова"
    )
    assert sheet.cell(row, columns["Часов"]).value == 48
    assert sheet.cell(row, columns["Опозданий"]).value == 1
    assert sheet.cell(row, columns["Таб. №"]).value == 3
    # Days by their number: the 9th a whole day in the office, the 2nd missed, the 14th a
    # Saturday.
    assert sheet.cell(row, columns[9]).value == "Я 8"
    assert sheet.cell(row, columns[2]).value == "НН"
    assert sheet.cell(row, columns[14]).value == "В"


async def test_every_operations_page_renders_cleanly_on_a_phone(
    sqlite_url: str, chromium_path: str
) -> None:
    """No script error or CSP refusal on any page, in Russian and in English."""
    from playwright.async_api import async_playwright, expect

    async with admin_stack(sqlite_url) as stack, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            errors: list[str] = []
            watch(page, errors)
            frame = await open_app_in_browser(page, stack.sandbox_url, ADMIN_USER)
            titles = {
                "rules": ("Правила портала", "Portal rules"),
                "queue": ("Заявки на согласование", "Approvals"),
                "reports": ("Отчёты", "Reports"),
                "audit": ("Журнал действий", "Audit log"),
                "health": ("Подключение к Битрикс24", "Bitrix24 connection"),
                "tokens": ("Токены REST API", "REST API tokens"),
            }
            for lang in (0, 1):
                for name, title in titles.items():
                    await frame.goto(f"{stack.base_url}/bitrix/app/{name}")
                    await expect(frame.locator("h1")).to_have_text(title[lang])
                    await page.screenshot(path=shot(f"{name}-{lang}"), full_page=True)
                if lang == 0:
                    await frame.locator("#lang-switch").click()
                    await expect(frame.locator("#lang-switch")).to_have_text("Русский")
            # The copy button of a new token works without inline script.
            await frame.goto(f"{stack.base_url}/bitrix/app/tokens")
            await frame.locator("#t-name").fill("Kiosk")
            await frame.locator('input[value="marks:write"]').check()
            await frame.locator("#token-issue").click()
            await expect(frame.locator("#issued-token")).to_have_value(
                re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")
            )
            assert errors == []
        finally:
            await browser.close()
