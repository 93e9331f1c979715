"""The check-in page in headless Chromium with emulated geolocation, and the sandbox chat beside it.

One tap inside the office records the mark; outside it is recorded with a note (or refused when
the portal blocks outside check-ins); with location access denied the page explains how to allow
it; a replayed or expired link shows why it does not work. Nothing is recorded unless the page
says so, and the person's chat with the bot gets exactly the answers the page promises.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.chat import commands_of, wait_for
from tests.e2e.test_checkin_page import INSIDE, MONDAY_0905_MSK, OUTSIDE, Stand, stand
from timebot.domain.geo import Point
from timebot.storage import Database
from timebot.storage.tables import LinkToken, LocationFix, Mark

pytestmark = pytest.mark.browser

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "ru-RU",
    "timezone_id": "Europe/Moscow",
}
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def shot(name: str) -> str:
    return str(Path(tempfile.gettempdir()) / f"timebot-checkin-{name}.png")


@asynccontextmanager
async def phone(chromium_path: str, where: Point | None = None) -> AsyncIterator[Any]:
    """A browser context like a phone's, at `where` with location allowed (denied when None);
    its clock agrees with the server's fixed one, so no skew flag is raised."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, args=LAUNCH_ARGS)
        try:
            if where is None:
                context = await browser.new_context(permissions=[], **PHONE)
            else:
                context = await browser.new_context(
                    geolocation={"latitude": where.lat, "longitude": where.lon, "accuracy": 20},
                    permissions=["geolocation"],
                    **PHONE,
                )
            yield context
        finally:
            await browser.close()


async def new_page(context: Any, errors: list[str]) -> Any:
    page = await context.new_page()
    await page.clock.set_fixed_time(MONDAY_0905_MSK)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


async def tap_check_in(page: Any) -> Any:
    """Consent (first use) and the big button; returns the result block once it shows."""
    from playwright.async_api import expect

    if await page.locator("#consent").count():
        await page.locator("#consent").check()
    await page.locator("#locate").click()
    result = page.locator("#result .result")
    await expect(result).to_be_visible(timeout=15_000)
    return result


async def nothing_more_in_chat(s: Stand, user_id: int, before: int, status: str) -> None:
    """No bot message since `before`: every answer goes through the ordered outbox, so once the
    answer to a later «статус» arrives, anything queued earlier would have arrived before it.
    The status answer itself must start with `status` (working or not)."""
    probe = await s.bot.says(user_id, "статус")
    assert probe.text.startswith(status), probe.text
    assert s.bot.bot_messages(str(user_id))[before:] == [probe], [
        m.text for m in s.bot.bot_messages(str(user_id))[before:]
    ]


async def test_one_tap_on_the_phone_records_the_check_in(
    sqlite_url: str, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright, expect

    async with stand(sqlite_url) as s:
        zone_id = await s.configure(settings={"location_required": True})
        link = await s.link_for(3)
        before = len(s.bot.bot_messages("3"))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=LAUNCH_ARGS)
            try:
                context = await browser.new_context(
                    geolocation={
                        "latitude": INSIDE.lat,
                        "longitude": INSIDE.lon,
                        "accuracy": 20,
                    },
                    permissions=["geolocation"],
                    **PHONE,
                )
                page = await context.new_page()
                # The phone's clock agrees with the server's (fixed) one: no skew flag.
                await page.clock.set_fixed_time(MONDAY_0905_MSK)
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on(
                    "console",
                    lambda m: errors.append(m.text) if m.type == "error" else None,
                )
                await page.goto(link)
                await expect(page.locator("h1")).to_have_text("Отметка прихода")
                button = page.locator("#locate")
                await expect(button).to_be_visible()
                box = await button.bounding_box()
                assert box is not None
                assert box["height"] >= 64  # a thumb-sized target
                assert box["width"] >= 300

                # Consent first: pressing without it only asks for it.
                await button.click()
                await expect(page.locator("#consent-error")).to_be_visible()
                assert await s.rows(LocationFix, 3) == []

                await page.locator("#consent").check()
                await button.click()
                result = page.locator("#result .result")
                await expect(result).to_be_visible(timeout=15_000)
                await expect(result).to_contain_text("Приход отмечен в 09:05")
                await expect(result).to_contain_text("Вы в офисе «Главный офис»")
                await expect(page.locator("#controls")).to_be_hidden()
                assert await result.get_attribute("data-tone") == "ok"
                await page.screenshot(path=shot("done"), full_page=True)
                assert errors == []
            finally:
                await browser.close()
        (mark,) = await s.rows(Mark, 3)
        assert (mark.location_verdict, mark.zone_id, mark.source, mark.flags) == (
            "inside",
            zone_id,
            "checkin_page",
            [],
        )
        (fix,) = await s.rows(LocationFix, 3)
        assert (fix.lat, fix.lon) == pytest.approx((INSIDE.lat, INSIDE.lon), abs=1e-9)
        assert fix.accuracy_m == 20
        assert fix.device_time == MONDAY_0905_MSK
        chat = await wait_for(lambda: s.bot.bot_messages("3")[before:])
        assert "Приход отмечен" in chat[-1].text


async def test_denied_location_shows_how_to_allow_it(sqlite_url: str, chromium_path: str) -> None:
    from playwright.async_api import async_playwright, expect

    async with stand(sqlite_url) as s:
        await s.configure(settings={"location_required": True})
        link = await s.link_for(2)
        before = len(s.bot.bot_messages("2"))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path, args=LAUNCH_ARGS)
            try:
                context = await browser.new_context(permissions=[], **PHONE)
                page = await context.new_page()
                await page.goto(link)
                await page.locator("#consent").check()
                await page.locator("#locate").click()
                problem = page.locator("#problem")
                await expect(problem).to_be_visible(timeout=15_000)
                await expect(page.locator("#problem-title")).to_have_text(
                    "Доступ к геолокации запрещён"
                )
                await expect(page.locator("body")).to_have_attribute("data-problem", "denied")
                await expect(page.locator("#help-android")).to_contain_text("Разрешения")
                await expect(page.locator("#help-ios summary")).to_have_text(
                    "iPhone / iPad (Safari)"
                )
                await page.locator("#help-b24 summary").click()
                await expect(page.locator("#help-b24")).to_contain_text("Открыть в браузере")
                await expect(page.locator("#retry")).to_be_visible()
                await expect(page.locator("#locate")).to_be_enabled()
                await page.screenshot(path=shot("denied"), full_page=True)
            finally:
                await browser.close()
        assert await s.rows(Mark, 2) == []
        assert await s.rows(LocationFix, 2) == []
        # The page never posted anything: the chat stays silent.
        await nothing_more_in_chat(s, 2, before, "Сейчас вы не на работе.")


async def test_outside_the_office_is_recorded_with_a_note(
    sqlite_url: str, chromium_path: str
) -> None:
    from playwright.async_api import expect

    async with stand(sqlite_url) as s:
        await s.configure(settings={"location_required": True})
        link = await s.link_for(2)
        before = len(s.bot.bot_messages("2"))
        errors: list[str] = []
        async with phone(chromium_path, OUTSIDE) as context:
            page = await new_page(context, errors)
            await page.goto(link)
            result = await tap_check_in(page)
            await expect(result.locator("h2")).to_have_text("⚠️ Приход отмечен в 09:05")
            await expect(result).to_contain_text("Вы в 2,0 км от офиса «Главный офис».")
            await expect(result).to_contain_text(
                "Отметка сохранена с пометкой — руководитель её увидит."
            )
            await expect(result).to_contain_text("Ответ продублирован в чат с ботом")
            assert await result.get_attribute("data-tone") == "warn"
            await expect(page.locator("body")).to_have_attribute("data-outcome", "recorded")
            await expect(page.locator("#controls")).to_be_hidden()
            await page.screenshot(path=shot("outside"), full_page=True)
            assert errors == []
        (mark,) = await s.rows(Mark, 2)
        assert (mark.kind, mark.source, mark.location_verdict) == (
            "check_in",
            "checkin_page",
            "outside",
        )
        assert mark.distance_m == pytest.approx(2_000, abs=1)
        (fix,) = await s.rows(LocationFix, 2)
        assert (fix.verdict, fix.mark_id) == ("outside", mark.id)
        assert (fix.lat, fix.lon) == pytest.approx((OUTSIDE.lat, OUTSIDE.lon), abs=1e-9)
        (chat,) = await wait_for(lambda: s.bot.bot_messages("2")[before:])
        assert "Приход отмечен" in chat.text
        assert "Вы в 2,0 км от офиса «Главный офис»." in chat.text
        assert "Отметка сохранена с пометкой для руководителя." in chat.text
        assert commands_of(chat) == ["break", "checkout", "status", "week"]
        await nothing_more_in_chat(s, 2, before + 1, "🟢 Работаете с")


async def test_outside_is_refused_when_the_portal_blocks_it(
    sqlite_url: str, chromium_path: str
) -> None:
    from playwright.async_api import expect

    async with stand(sqlite_url) as s:
        await s.configure(settings={"location_required": True, "block_outside": True})
        link = await s.link_for(4)
        before = len(s.bot.bot_messages("4"))
        errors: list[str] = []
        async with phone(chromium_path, OUTSIDE) as context:
            page = await new_page(context, errors)
            await page.goto(link)
            result = await tap_check_in(page)
            await expect(result.locator("h2")).to_have_text("⛔ Приход не отмечен")
            await expect(result).to_contain_text("Вы в 2,0 км от офиса «Главный офис».")
            await expect(result).to_contain_text(
                "Подойдите к офису и нажмите кнопку ещё раз — ссылка действует до 09:15."
            )
            assert await result.get_attribute("data-tone") == "error"
            await expect(page.locator("body")).to_have_attribute("data-outcome", "rejected")
            # The link stays usable: the button is still there for a second try.
            await expect(page.locator("#controls")).to_be_visible()
            await expect(page.locator("#locate")).to_be_enabled()
            await page.screenshot(path=shot("blocked"), full_page=True)
            assert errors == []
        assert await s.rows(Mark, 4) == []
        (fix,) = await s.rows(LocationFix, 4)
        assert (fix.verdict, fix.mark_id) == ("outside", None)
        (chat,) = await wait_for(lambda: s.bot.bot_messages("4")[before:])
        expires = int((MONDAY_0905_MSK + timedelta(minutes=10)).timestamp())
        assert chat.text.split("[br]") == [
            "Приход не отмечен.",
            "Вы в 2,0 км от офиса «Главный офис».",
            "Подойдите к офису и откройте ссылку снова — она действует до "
            f"[timestamp={expires} format=SHORT_TIME_FORMAT].",
        ]
        assert commands_of(chat) == ["checkin", "week"]
        await nothing_more_in_chat(s, 4, before + 1, "Сейчас вы не на работе.")


async def test_a_replayed_link_records_nothing_more(database_url: str, chromium_path: str) -> None:
    from playwright.async_api import expect

    async with stand(database_url) as s:
        await s.configure(settings={"location_required": True})
        link = await s.link_for(3)
        before = len(s.bot.bot_messages("3"))
        errors: list[str] = []
        async with phone(chromium_path, INSIDE) as context:
            # The same link open in two tabs; the first one checks in.
            first = await new_page(context, errors)
            second = await new_page(context, errors)
            await first.goto(link)
            await second.goto(link)
            await expect(first.locator("#locate")).to_be_visible()
            result = await tap_check_in(first)
            await expect(result).to_contain_text("Приход отмечен в 09:05")
            (confirmation,) = await wait_for(lambda: s.bot.bot_messages("3")[before:])
            assert "Приход отмечен" in confirmation.text

            # The second tab, opened before the link was used, presses the button: refused.
            stale = await tap_check_in(second)
            await expect(stale.locator("h2")).to_have_text("⛔ Ссылка не работает")
            await expect(stale).to_contain_text(
                "Эта ссылка уже использована — отметка по ней сделана."
            )
            await expect(second.locator("body")).to_have_attribute("data-outcome", "invalid_link")
            await expect(second.locator("#controls")).to_be_hidden()

            # Opening the link again: the "already used" page, with nothing to press.
            response = await first.goto(link)
            assert response is not None
            assert response.status == 410
            await expect(first.locator("h2")).to_have_text("⛔ Ссылка не работает")
            await expect(first.locator(".result")).to_contain_text(
                "Эта ссылка уже использована — отметка по ней сделана."
            )
            await expect(first.locator(".result .hint")).to_have_text(
                "Напишите боту «пришёл» (или нажмите «Пришёл»), чтобы получить новую ссылку."
            )
            assert await first.locator("button, input, form").count() == 0
            await first.screenshot(path=shot("used"), full_page=True)
            # The browser logs each 410 (the stale tab's post, the reopened page); nothing else.
            gone = "Failed to load resource: the server responded with a status of 410 (Gone)"
            await wait_for(lambda: len(errors) >= 2)
            assert errors == [gone, gone]
        (mark,) = await s.rows(Mark, 3)
        assert mark.location_verdict == "inside"
        assert len(await s.rows(LocationFix, 3)) == 1
        await nothing_more_in_chat(s, 3, before + 1, "🟢 Работаете с")


async def test_an_expired_link_records_nothing(sqlite_url: str, chromium_path: str) -> None:
    from playwright.async_api import expect

    async with stand(sqlite_url) as s:
        await s.configure(settings={"location_required": True})
        link = await s.link_for(3)
        db = Database.from_url(s.bot.database_url)
        try:
            async with db.unit_of_work() as uow:
                expires_at = (await uow.session.scalars(select(LinkToken))).one().expires_at
        finally:
            await db.dispose()
        assert expires_at == MONDAY_0905_MSK + timedelta(minutes=10)  # the default lifetime
        s.bot.at(expires_at + timedelta(seconds=1))
        before = len(s.bot.bot_messages("3"))
        errors: list[str] = []
        async with phone(chromium_path, INSIDE) as context:
            page = await new_page(context, errors)
            response = await page.goto(link)
            assert response is not None
            assert response.status == 410
            await expect(page.locator("h2")).to_have_text("⛔ Ссылка не работает")
            await expect(page.locator(".result")).to_contain_text("Срок действия ссылки истёк.")
            await expect(page.locator(".result .hint")).to_contain_text("Напишите боту «пришёл»")
            assert await page.locator("button, input, form").count() == 0
            await page.screenshot(path=shot("expired"), full_page=True)
        assert await s.rows(Mark, 3) == []
        assert await s.rows(LocationFix, 3) == []
        await nothing_more_in_chat(s, 3, before, "Сейчас вы не на работе.")
        # A new link from the chat works as usual.
        fresh = await s.link_for(3)
        assert fresh != link
