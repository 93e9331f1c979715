"""Signing in to the admin UI over real HTTP against the sandbox portal: the placement POST
Bitrix24 sends when a user opens the application, forged and foreign sign-ins, the session
cookie, its expiry, CSRF, the language switch, logout and the bot's sign-in link."""

from __future__ import annotations

import re
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.chat import chat
from tests.support.admin import (
    ADMIN_USER,
    EMPLOYEE_USER,
    HEAD_USER,
    AdminStack,
    admin_stack,
    csrf_of,
    login_via_placement,
)
from timebot.domain.clock import FixedClock
from timebot.storage.tables import AuditEntry, Employee, LinkToken

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow


async def audit_actions(stack: AdminStack, action: str) -> list[AuditEntry]:
    return await stack.rows(select(AuditEntry).where(AuditEntry.action == action))


def nav_keys(html: str) -> list[str]:
    return re.findall(r'data-nav="(\w+)"', html)


async def test_an_administrator_opening_the_app_is_signed_in_and_sees_today(
    database_url: str,
) -> None:
    async with admin_stack(database_url) as stack:
        http, answer = await login_via_placement(stack.base_url, stack.sandbox_url, ADMIN_USER)
        async with aclosing(http):
            assert answer.status_code == 303
            assert answer.headers["location"] == "/bitrix/app"
            cookie = answer.headers["set-cookie"]
            assert cookie.startswith("timebot_admin=")
            assert "HttpOnly" in cookie
            assert "Path=/bitrix/app" in cookie
            assert "SameSite=lax" in cookie.replace("Lax", "lax")
            assert "Secure" not in cookie  # plain http: Lax, not Secure
            page = await http.get("/bitrix/app")
            assert page.status_code == 200
            assert "<h1>Сегодня</h1>" in page.text
            assert nav_keys(page.text)[:5] == [
                "today",
                "employees",
                "offices",
                "schedules",
                "calendar",
            ]
            assert 'id="who">администратор · #1' in page.text
            csp = page.headers["content-security-policy"]
            assert f"frame-ancestors 'self' http://{stack.portal.domain}" in csp
            assert "script-src 'nonce-" in csp
            assert "unsafe-inline" not in csp
            assert page.headers["cache-control"] == "no-store"
            assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing from a CDN
            # Everyone of the demo company is on the board, nobody in yet.
            assert page.text.count("data-employee=") == 11
        logins = await audit_actions(stack, "admin.login")
        assert [(e.actor, e.details["via"], e.details["role"]) for e in logins] == [
            ("user:1", "placement", "admin")
        ]
        async with stack.uow() as uow:
            anna = await uow.employees.by_bitrix_id(await stack.portal_id(), ADMIN_USER)
            assert anna is not None
            assert anna.is_admin


async def test_a_forged_auth_id_is_refused_and_nothing_is_issued(database_url: str) -> None:
    async with admin_stack(database_url, sync=False) as stack:
        http, answer = await login_via_placement(
            stack.base_url, stack.sandbox_url, ADMIN_USER, AUTH_ID="forged-token-0123456789"
        )
        async with aclosing(http):
            assert answer.status_code == 403
            assert "set-cookie" not in answer.headers
            assert "Битрикс24 не подтвердил вход" in answer.text
            assert answer.headers["x-timebot-reason"] == "denied.unverified"
            # The refusal shows inside the portal's frame.
            assert (
                f"frame-ancestors 'self' http://{stack.portal.domain}"
                in answer.headers["content-security-policy"]
            )
            assert (await http.get("/bitrix/app")).status_code == 401
        assert await audit_actions(stack, "admin.login") == []


async def test_a_token_of_another_application_of_the_portal_is_refused(
    database_url: str,
) -> None:
    async with admin_stack(database_url, sync=False) as stack:
        # A real user token, but the placement does not carry our application's token.
        http, answer = await login_via_placement(
            stack.base_url, stack.sandbox_url, ADMIN_USER, APPLICATION_TOKEN="0" * 32
        )
        async with aclosing(http):
            assert answer.status_code == 403
            assert "set-cookie" not in answer.headers
        assert await audit_actions(stack, "admin.login") == []


async def test_an_unknown_portal_gets_401(database_url: str) -> None:
    async with admin_stack(database_url, sync=False) as stack:
        http, answer = await login_via_placement(
            stack.base_url, stack.sandbox_url, ADMIN_USER, member_id="f" * 32
        )
        async with aclosing(http):
            assert answer.status_code == 401
            assert "не установлено" in answer.text
            assert "set-cookie" not in answer.headers


async def test_a_domain_that_is_not_the_portals_is_refused_before_any_call(
    database_url: str,
) -> None:
    async with admin_stack(database_url, sync=False) as stack:
        before = stack.portal.stats.requests
        http, answer = await login_via_placement(
            stack.base_url, stack.sandbox_url, ADMIN_USER, DOMAIN="evil.example"
        )
        async with aclosing(http):
            assert answer.status_code == 403
            assert answer.headers["x-timebot-reason"] == "denied.domain_mismatch"
            assert "set-cookie" not in answer.headers
        # The token never left for the portal (nor for evil.example).
        assert stack.portal.stats.requests == before


async def test_a_placement_post_without_auth_id_is_a_clear_400(database_url: str) -> None:
    async with admin_stack(database_url, sync=False) as stack:
        http, answer = await login_via_placement(
            stack.base_url, stack.sandbox_url, ADMIN_USER, AUTH_ID=""
        )
        async with aclosing(http):
            assert answer.status_code == 400
            assert "missing AUTH_ID" in answer.text
            empty = await http.post("/bitrix/app", content=b"")
            assert empty.status_code == 400


async def test_the_cookie_is_fit_for_the_bitrix24_iframe_on_https(sqlite_url: str) -> None:
    async with admin_stack(sqlite_url, public_url="https://timebot.example", sync=False) as stack:
        http, answer = await login_via_placement(stack.base_url, stack.sandbox_url, ADMIN_USER)
        async with aclosing(http):
            assert answer.status_code == 303
            cookie = answer.headers["set-cookie"]
            for attribute in ("HttpOnly", "Secure", "SameSite=None", "Partitioned"):
                assert attribute in cookie, cookie
            assert "Max-Age=28800" in cookie


async def test_a_session_expires_after_eight_hours(sqlite_url: str) -> None:
    clock = FixedClock(NOW)
    async with admin_stack(sqlite_url, clock=clock, sync=False) as stack:
        admin = await stack.login(ADMIN_USER)
        clock.set(NOW + timedelta(hours=7, minutes=59))
        assert (await admin.get("/bitrix/app")).status_code == 200
        clock.set(NOW + timedelta(hours=8, seconds=1))
        expired = await admin.get("/bitrix/app")
        assert expired.status_code == 401
        assert "Сеанс истёк" in expired.text
        # A form posted with the old session changes nothing either.
        assert (await admin.post("/bitrix/app/lang", {"lang": "en"})).status_code == 401


async def test_an_altered_or_foreign_cookie_is_no_session(sqlite_url: str) -> None:
    async with admin_stack(sqlite_url, sync=False) as stack:
        admin = await stack.login(ADMIN_USER)
        value = admin.cookie
        assert value
        async with httpx.AsyncClient(base_url=stack.base_url) as other:
            # Upgrading the role inside the cookie breaks its signature.
            forged = value.replace(value[5], "A" if value[5] != "A" else "B", 1)
            other.cookies.set("timebot_admin", forged, path="/bitrix/app")
            assert (await other.get("/bitrix/app")).status_code == 401
            other.cookies.set("timebot_admin", "garbage", path="/bitrix/app")
            assert (await other.get("/bitrix/app")).status_code == 401
            assert (await other.get("/bitrix/app")).headers["x-timebot-reason"] == (
                "denied.expired"
            )
        async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
            page = await anonymous.get("/bitrix/app", headers={"Accept-Language": "en"})
            assert page.status_code == 401
            assert "You are not signed in" in page.text


async def test_employees_and_heads_get_their_own_roles(database_url: str) -> None:
    async with admin_stack(database_url) as stack:
        employee = await stack.login(EMPLOYEE_USER)
        mine = await employee.get("/bitrix/app")
        assert mine.status_code == 200
        assert "Мой день" in mine.text
        assert "Мария Иванова" in mine.text
        assert nav_keys(mine.text) == ["today"]
        assert "data-employee=" not in mine.text  # nobody else's day

        head = await stack.login(HEAD_USER)
        board = await head.get("/bitrix/app")
        assert 'id="who">руководитель · #2' in board.text
        assert "employees" in nav_keys(board.text)
        assert "offices" not in nav_keys(board.text)
        # Sales only: Игорь himself, Мария and Дмитрий.
        assert board.text.count("data-employee=") == 3
        assert "Дмитрий Кузнецов" in board.text
        assert "Алексей Попов" not in board.text


async def test_state_changes_need_the_csrf_token(database_url: str) -> None:
    async with admin_stack(database_url, sync=False) as stack:
        admin = await stack.login(ADMIN_USER)
        missing = await admin.post("/bitrix/app/lang", {"lang": "en"}, csrf=False)
        assert missing.status_code == 403
        assert "CSRF" in missing.text
        wrong = await admin.post(
            "/bitrix/app/lang", {"lang": "en", "csrf_token": "x" * 32}, csrf=False
        )
        assert wrong.status_code == 403
        other = await stack.login(HEAD_USER)
        # Another session's token is no good either.
        stolen = await admin.post(
            "/bitrix/app/logout", {"csrf_token": other.csrf_token}, csrf=False
        )
        assert stolen.status_code == 403
        page = await admin.get("/bitrix/app")
        assert page.status_code == 200  # still signed in
        assert "<h1>Сегодня</h1>" in page.text  # still Russian


async def test_the_language_switch_and_logout(database_url: str) -> None:
    async with admin_stack(database_url, sync=False) as stack:
        admin = await stack.login(ADMIN_USER)
        switched = await admin.post(
            "/bitrix/app/lang", {"lang": "en", "next": "https://evil.example/"}
        )
        assert switched.status_code == 303
        assert switched.headers["location"] == "/bitrix/app?flash=flash.language"
        page = await admin.get(switched.headers["location"])
        assert "<h1>Today</h1>" in page.text
        assert "Interface language changed." in page.text
        assert csrf_of(page.text) == admin.csrf_token  # the same session
        bad = await admin.post("/bitrix/app/lang", {"lang": "de"})
        assert bad.status_code == 400

        out = await admin.post("/bitrix/app/logout")
        assert out.status_code == 200
        assert "You are logged out." in out.text
        assert "timebot_admin=" in out.headers["set-cookie"]
        assert (await admin.get("/bitrix/app")).status_code == 401


async def test_the_bots_admin_command_sends_a_single_use_sign_in_link(
    database_url: str,
) -> None:
    async with chat(database_url, "webhook", NOW) as bot, httpx.AsyncClient(timeout=20) as http:
        answer = await bot.says(ADMIN_USER, "/admin")
        links = [b["LINK"] for b in answer.keyboard or [] if b.get("LINK")]
        assert len(links) == 1, answer
        link = links[0]
        assert link.startswith(f"{bot.base_url}/bitrix/app/login/")
        assert "один раз" in answer.text

        page = await http.get(link)
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer"
        assert 'method="post"' in page.text
        # Looking at the link (a previewer) does not use it up.
        assert (await http.get(link)).status_code == 200

        signed_in = await http.post(link)
        assert signed_in.status_code == 303
        assert "timebot_admin=" in signed_in.headers["set-cookie"]
        home = await http.get(f"{bot.base_url}/bitrix/app")
        assert home.status_code == 200
        assert "<h1>Сегодня</h1>" in home.text

        async with httpx.AsyncClient(timeout=20) as again:
            assert (await again.post(link)).status_code == 410
            assert (await again.get(link)).status_code == 410
            tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
            assert (await again.get(tampered)).status_code == 404

        # Employees get a link too; signed in, they see their own day.
        employee = await bot.says(EMPLOYEE_USER, "админка")
        employee_link = next(b["LINK"] for b in employee.keyboard or [] if b.get("LINK"))
        async with httpx.AsyncClient(timeout=20) as person:
            assert (await person.post(employee_link)).status_code == 303
            mine = await person.get(f"{bot.base_url}/bitrix/app")
            assert "Мой день" in mine.text

        db_rows = await _link_rows(database_url)
        assert [(row.action, row.used_at is not None) for row in db_rows] == [
            ("admin_login", True),
            ("admin_login", True),
        ]


async def _link_rows(database_url: str) -> list[LinkToken]:
    from timebot.storage import Database

    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            rows = list(await uow.session.scalars(select(LinkToken).order_by(LinkToken.id)))
            uow.session.expunge_all()
            count = await uow.session.scalar(select(func.count()).select_from(Employee))
            assert count
            return rows
    finally:
        await db.dispose()


@pytest.mark.parametrize("path", ["/bitrix/app/login/x", "/bitrix/app/login/" + "a" * 5000])
async def test_a_malformed_sign_in_link_is_a_404_page(sqlite_url: str, path: str) -> None:
    async with (
        admin_stack(sqlite_url, sync=False) as stack,
        httpx.AsyncClient(base_url=stack.base_url) as http,
    ):
        page = await http.get(path)
        assert page.status_code == 404
        assert "Ссылка для входа недействительна" in page.text
        assert (await http.post(path)).status_code == 404


async def test_asked_in_a_group_chat_the_bot_sends_the_link_privately(sqlite_url: str) -> None:
    async with chat(sqlite_url, "webhook", NOW) as bot:
        mention = f"[USER={bot.bot_id}]timebot[/USER] admin"
        await bot.says(HEAD_USER, mention, dialog="chat1", answers=2)
        (note,) = [m for m in bot.bot_messages("chat1") if "личный чат" in m.text]
        assert not note.keyboard
        assert "/bitrix/app/login/" not in note.text
        private = bot.bot_messages(str(HEAD_USER))[-1]
        links = [b["LINK"] for b in private.keyboard or [] if b.get("LINK")]
        assert len(links) == 1
        assert "/bitrix/app/login/" in links[0]
