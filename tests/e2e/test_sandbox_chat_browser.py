"""A person in headless Chromium opens the sandbox chat, presses a button and sees the reply."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.servers import free_port, serve_asgi
from timebot.demo import build_demo

pytestmark = pytest.mark.browser


async def _wait_for_bot(portal: Any) -> Any:
    for _ in range(300):
        if portal.bots():
            return portal.bots()[0]
        await asyncio.sleep(0.1)
    raise AssertionError("the bot was never registered")


async def test_pressing_a_keyboard_button_in_the_web_chat_gets_the_bots_reply(
    sqlite_url: str, chromium_path: str
) -> None:
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import async_playwright, expect

    port = free_port()
    demo, _ = build_demo(host="127.0.0.1", port=port, database_url=sqlite_url)
    portal = demo.sandbox_app.state.portal
    with serve_asgi(demo, port=port) as base:
        await _wait_for_bot(portal)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium_path,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 844})
                await page.goto(f"{base}/sandbox/")
                await page.select_option("#employee", "3")
                dialog = page.locator("#dialogs li", has_text="timebot").first
                try:
                    await dialog.click(timeout=5_000)
                except PlaywrightTimeout:
                    await page.click("#toggle-sidebar")  # phone layout: slide the list in
                    await dialog.click()
                # Opening the dialog sends JOINCHAT; the welcome carries a "Помощь" button.
                button = page.locator("#messages .keyboard button", has_text="Помощь").first
                await expect(button).to_be_visible(timeout=20_000)
                await button.click()
                reply = page.locator("#messages .message", has_text="Что я умею")
                await expect(reply.first).to_be_visible(timeout=20_000)
                await page.screenshot(path=str(_shot_path()))
            finally:
                await browser.close()


def _shot_path() -> Any:
    import tempfile
    from pathlib import Path

    return Path(tempfile.gettempdir()) / "timebot-sandbox-chat.png"
