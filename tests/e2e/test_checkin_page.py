"""Presence by geolocation end to end over real HTTP: the portal requires a location proof, the
person says «пришёл» in the sandbox chat, gets a one-tap link, and the check-in page records the
mark (or refuses it) and answers in the chat. Replayed, expired, altered and foreign links
record nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.chat import ChatDriver, wait_for
from tests.support.servers import free_port, serve_asgi
from tests.unit.geo.places import offset
from timebot.domain.clock import FixedClock
from timebot.domain.geo import Point
from timebot.gateway.install import COMMANDS
from timebot.services.links import sign
from timebot.storage import Database
from timebot.storage.tables import Employee, LinkToken, LocationFix, Mark, Office, Portal, Zone

MONDAY_0905_MSK = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
OFFICE = Point(55.7558, 37.6173)
INSIDE = offset(OFFICE, 20.0, 15.0)
OUTSIDE = offset(OFFICE, 0.0, 2_100.0)  # 2 km beyond the 100 m circle


@dataclass
class Stand:
    bot: ChatDriver
    secret: str

    @property
    def base(self) -> str:
        return self.bot.base_url

    async def configure(
        self, *, settings: dict[str, Any], ip_ranges: list[str] | None = None
    ) -> int:
        """Portal settings plus one office with a 100 m circle; returns the zone id."""
        db = Database.from_url(self.bot.database_url)
        try:
            async with db.unit_of_work() as uow:
                portal = (await uow.session.scalars(select(Portal))).one()
                portal.settings = {**(portal.settings or {}), **settings}
                office = Office(
                    portal_id=portal.id,
                    name="Главный офис",
                    timezone=None,
                    ip_ranges=ip_ranges or [],
                    created_at=MONDAY_0905_MSK,
                )
                uow.session.add(office)
                await uow.flush()
                zone = Zone(
                    portal_id=portal.id,
                    office_id=office.id,
                    name="Бизнес-центр",
                    kind="circle",
                    lat=OFFICE.lat,
                    lon=OFFICE.lon,
                    radius_m=100.0,
                    created_at=MONDAY_0905_MSK,
                )
                uow.session.add(zone)
                await uow.commit()
                return zone.id
        finally:
            await db.dispose()

    async def set_settings(self, **values: Any) -> None:
        db = Database.from_url(self.bot.database_url)
        try:
            async with db.unit_of_work() as uow:
                portal = (await uow.session.scalars(select(Portal))).one()
                portal.settings = {**(portal.settings or {}), **values}
                await uow.commit()
        finally:
            await db.dispose()

    async def update_employee(self, user_id: int, **values: Any) -> None:
        db = Database.from_url(self.bot.database_url)
        try:
            async with db.unit_of_work() as uow:
                employee = (
                    await uow.session.scalars(
                        select(Employee).where(Employee.bitrix_user_id == user_id)
                    )
                ).one()
                for key, value in values.items():
                    setattr(employee, key, value)
                await uow.commit()
        finally:
            await db.dispose()

    async def rows(self, table: Any, user_id: int) -> list[Any]:
        db = Database.from_url(self.bot.database_url)
        try:
            async with db.unit_of_work() as uow:
                employee = (
                    await uow.session.scalars(
                        select(Employee).where(Employee.bitrix_user_id == user_id)
                    )
                ).one()
                found = list(
                    await uow.session.scalars(
                        select(table).where(table.employee_id == employee.id).order_by(table.id)
                    )
                )
                uow.session.expunge_all()
                return found
        finally:
            await db.dispose()

    async def link_for(self, user_id: int, words: str = "пришёл") -> str:
        """The person asks to check in; the answer must carry the check-in link button."""
        answer = await self.bot.says(user_id, words)
        links = [b["LINK"] for b in answer.keyboard or [] if b.get("LINK")]
        assert len(links) == 1, answer
        assert links[0].startswith(f"{self.base}/checkin/")
        return str(links[0])

    async def chat_after(self, user_id: int, count: int, within: float = 20.0) -> Any:
        """The bot's next message in the person's dialog after `count` earlier ones."""
        return await wait_for(
            lambda: (m := self.bot.bot_messages(str(user_id)))[count:] and m[-1], within
        )


@asynccontextmanager
async def stand(database_url: str, start: datetime = MONDAY_0905_MSK) -> AsyncIterator[Stand]:
    """`tests.e2e.chat.chat` with the check-in routes mounted and the secret at hand."""
    from timebot.demo import build_demo

    clock = FixedClock(start)
    port = free_port()
    demo, settings = build_demo(
        host="127.0.0.1", port=port, database_url=database_url, event_mode="webhook", clock=clock
    )
    portal = demo.sandbox_app.state.portal
    with serve_asgi(demo, port=port) as base:
        bots = await wait_for(lambda: portal.bots(), within=30)
        await wait_for(
            lambda: len(portal.state.bot_commands(bots[0].id)) >= len(COMMANDS), within=30
        )
        driver = ChatDriver(portal, clock, bots[0].id, base, database_url)
        yield Stand(driver, settings.secret_key.get_secret_value())


def nonce_of(html: str) -> str:
    found = re.search(r'name="nonce" value="([0-9a-f]{32})"', html)
    assert found, html[:500]
    return found.group(1)


def where(point: Point, accuracy: float = 18.0, **extra: Any) -> dict[str, Any]:
    return {
        "lat": point.lat,
        "lon": point.lon,
        "accuracy": accuracy,
        "device_time": MONDAY_0905_MSK.isoformat(),
        **extra,
    }


async def open_page(http: httpx.AsyncClient, link: str) -> tuple[str, str]:
    page = await http.get(link)
    assert page.status_code == 200, page.text
    return page.text, nonce_of(page.text)


async def test_a_check_in_proved_inside_the_office(database_url: str) -> None:
    async with stand(database_url) as s, httpx.AsyncClient(timeout=20) as http:
        zone_id = await s.configure(settings={"location_required": True})
        link = await s.link_for(3)
        assert await s.rows(Mark, 3) == []  # nothing recorded until the position is in

        html, nonce = await open_page(http, link)
        assert "Отметка прихода" in html
        assert "📍 Отметиться здесь" in html
        assert "Согласен(на) на обработку" in html  # first use: consent
        assert "Android" in html
        assert "iPhone" in html
        assert "Битрикс24" in html
        assert "<script nonce=" in html
        assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere
        assert "Я за рабочим компьютером" not in html  # no office networks configured
        page = await http.get(link)
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "script-src 'nonce-" in page.headers["content-security-policy"]

        before = len(s.bot.bot_messages("3"))
        # Without consent nothing happens, and the link still works.
        refused = await http.post(link, json=where(INSIDE, nonce=nonce))
        assert refused.status_code == 400
        assert refused.json()["outcome"] == "consent_required"

        done = await http.post(link, json=where(INSIDE, nonce=nonce, consent=True))
        assert done.status_code == 200, done.text
        body = done.json()
        assert (body["ok"], body["outcome"], body["verdict"], body["flags"]) == (
            True,
            "recorded",
            "inside",
            [],
        )
        assert "Приход отмечен в 09:05" in body["html"]
        assert "Вы в офисе «Главный офис» (зона «Бизнес-центр»)." in body["message"]

        (mark,) = await s.rows(Mark, 3)
        assert (mark.kind, mark.source, mark.location_verdict, mark.zone_id) == (
            "check_in",
            "checkin_page",
            "inside",
            zone_id,
        )
        assert mark.at == MONDAY_0905_MSK
        assert mark.distance_m == pytest.approx(100 - 25, abs=0.1)
        (fix,) = await s.rows(LocationFix, 3)
        assert (fix.lat, fix.lon, fix.accuracy_m, fix.ip) == (
            INSIDE.lat,
            INSIDE.lon,
            18.0,
            "127.0.0.1",
        )
        assert fix.mark_id == mark.id
        chat = await s.chat_after(3, before)
        assert "Приход отмечен" in chat.text
        assert "Вы в офисе «Главный офис»" in chat.text
        assert [b.get("COMMAND") for b in chat.keyboard if b.get("COMMAND")] == [
            "break",
            "checkout",
            "status",
            "week",
        ]

        # The same link again: refused, nothing new.
        replay = await http.post(link, json=where(INSIDE, nonce=nonce, consent=True))
        assert replay.status_code == 410
        assert replay.json()["reason"] == "used"
        again = await http.get(link)
        assert again.status_code == 410
        assert "уже использована" in again.text
        assert len(await s.rows(Mark, 3)) == 1
        assert len(await s.rows(LocationFix, 3)) == 1

        # Consent is asked once.
        s.bot.at(MONDAY_0905_MSK + timedelta(hours=9))
        await s.set_settings(location_required_actions=["check_in", "check_out"])
        out_link = await s.link_for(3, "ушёл")
        html, _ = await open_page(http, out_link)
        assert "Отметка ухода" in html
        assert "Согласен(на)" not in html


async def test_outside_is_flagged_by_default_and_blocked_when_the_portal_says_so(
    sqlite_url: str,
) -> None:
    async with stand(sqlite_url) as s, httpx.AsyncClient(timeout=20) as http:
        await s.configure(settings={"location_required": True, "timeman_mirror": True})
        await s.bot.says(2, "статус")
        await s.update_employee(2, consented_at=MONDAY_0905_MSK - timedelta(days=3))
        await s.bot.says(4, "статус")
        await s.update_employee(4, consented_at=MONDAY_0905_MSK - timedelta(days=3))

        # Flagged: recorded with the distance, and the person is told so.
        link = await s.link_for(2)
        _, nonce = await open_page(http, link)
        before = len(s.bot.bot_messages("2"))
        flagged = (await http.post(link, json=where(OUTSIDE, nonce=nonce))).json()
        assert (flagged["outcome"], flagged["verdict"], flagged["decision"]) == (
            "recorded",
            "outside",
            "accept_flagged",
        )
        assert "Вы в 2,0 км от офиса «Главный офис»." in flagged["message"]
        assert "с пометкой" in flagged["message"]
        (mark,) = await s.rows(Mark, 2)
        assert mark.location_verdict == "outside"
        assert mark.distance_m == pytest.approx(2_000, abs=1)
        chat = await s.chat_after(2, before)
        assert "Приход отмечен" in chat.text
        assert "2,0 км" in chat.text
        assert "пометкой" in chat.text
        # Mirrored into Bitrix24's Work Time with the phone's coordinates.
        workdays = s.bot.portal.state.workdays
        await wait_for(lambda: 2 in workdays)
        assert workdays[2].start == MONDAY_0905_MSK
        assert (workdays[2].lat_open, workdays[2].lon_open) == pytest.approx(
            (OUTSIDE.lat, OUTSIDE.lon)
        )

        # Blocked: only the fix is kept; the same link works once the person is inside.
        await s.set_settings(block_outside=True)
        link = await s.link_for(4)
        _, nonce = await open_page(http, link)
        before = len(s.bot.bot_messages("4"))
        blocked = await http.post(link, json=where(OUTSIDE, nonce=nonce))
        assert blocked.status_code == 200
        body = blocked.json()
        assert (body["ok"], body["outcome"], body["retry"]) == (False, "rejected", True)
        assert "Приход не отмечен" in body["title"]
        assert "ссылка действует до 09:15" in body["message"]
        assert await s.rows(Mark, 4) == []
        (fix,) = await s.rows(LocationFix, 4)
        assert (fix.verdict, fix.mark_id) == ("outside", None)
        chat = await s.chat_after(4, before)
        assert "Приход не отмечен" in chat.text
        assert [b.get("COMMAND") for b in chat.keyboard if b.get("COMMAND")] == [
            "checkin",
            "week",
        ]

        s.bot.at(MONDAY_0905_MSK + timedelta(minutes=3))
        inside = (await http.post(link, json=where(INSIDE, nonce=nonce))).json()
        assert inside["outcome"] == "recorded"
        (mark,) = await s.rows(Mark, 4)
        assert (mark.location_verdict, mark.at) == (
            "inside",
            MONDAY_0905_MSK + timedelta(minutes=3),
        )


async def test_expired_altered_and_foreign_links_record_nothing(sqlite_url: str) -> None:
    async with stand(sqlite_url) as s, httpx.AsyncClient(timeout=20) as http:
        await s.configure(settings={"location_required": True, "checkin_link_minutes": 5})
        link = await s.link_for(3)
        html, nonce = await open_page(http, link)
        token = link.rsplit("/", 1)[1]

        # Altered: one character of the payload changed.
        altered = f"{s.base}/checkin/{token[:10]}{'A' if token[10] != 'A' else 'B'}{token[11:]}"
        page = await http.get(altered)
        assert page.status_code == 404
        assert "Ссылка недействительна" in page.text
        assert (await http.post(altered, json=where(INSIDE, nonce=nonce))).status_code == 404

        # Foreign: correctly signed, but naming another portal than the stored link's.
        db = Database.from_url(s.bot.database_url)
        try:
            async with db.unit_of_work() as uow:
                row = (await uow.session.scalars(select(LinkToken))).one()
                payload: dict[str, str | int] = {
                    "j": row.jti,
                    "p": row.portal_id + 1,
                    "e": row.employee_id,
                    "a": "check_in",
                }
                expires = row.expires_at
        finally:
            await db.dispose()
        forged = sign(s.secret, "checkin", payload, expires)
        response = await http.post(
            f"{s.base}/checkin/{forged}", json=where(INSIDE, nonce=nonce, consent=True)
        )
        assert response.status_code == 404
        assert response.json()["reason"] == "foreign"

        # Without the page's nonce (a POST not made from the page) nothing happens either.
        no_nonce = await http.post(link, json=where(INSIDE, consent=True))
        assert no_nonce.status_code == 403
        assert no_nonce.json()["outcome"] == "stale_page"
        # A malformed body is a clear 400, never a 500.
        broken = await http.post(link, content=b"{", headers={"content-type": "application/json"})
        assert broken.status_code == 400
        assert "not JSON" in broken.json()["title"]
        far = await http.post(link, json={"lat": 123, "lon": 0, "nonce": nonce})
        assert far.status_code == 400
        assert "latitude" in far.json()["title"]

        # Expired: five minutes later (the portal's setting) the link is gone.
        s.bot.at(MONDAY_0905_MSK + timedelta(minutes=5))
        page = await http.get(link)
        assert page.status_code == 410
        assert "Срок действия ссылки истёк" in page.text
        late = await http.post(link, json=where(INSIDE, nonce=nonce, consent=True))
        assert late.status_code == 410
        assert late.json()["reason"] == "expired"

        assert await s.rows(Mark, 3) == []
        assert await s.rows(LocationFix, 3) == []
        assert "<html" in html


async def test_two_simultaneous_posts_record_one_mark(database_url: str) -> None:
    async with stand(database_url) as s, httpx.AsyncClient(timeout=20) as http:
        await s.configure(settings={"location_required": True})
        link = await s.link_for(3)
        _, nonce = await open_page(http, link)
        body = where(INSIDE, nonce=nonce, consent=True)
        first, second = await asyncio.gather(http.post(link, json=body), http.post(link, json=body))
        assert sorted([first.status_code, second.status_code]) == [200, 410]
        assert len(await s.rows(Mark, 3)) == 1
        assert len(await s.rows(LocationFix, 3)) == 1


async def test_a_desktop_in_the_office_network_checks_in_without_gps(sqlite_url: str) -> None:
    """A plain form post (works without JavaScript): «Я за рабочим компьютером в офисе»."""
    async with stand(sqlite_url) as s, httpx.AsyncClient(timeout=20) as http:
        await s.configure(settings={"location_required": True}, ip_ranges=["127.0.0.0/8"])
        answer = await s.bot.says(3, "пришёл")
        assert "«Я за рабочим компьютером в офисе»" in answer.text
        link = next(b["LINK"] for b in answer.keyboard if b.get("LINK"))
        html, nonce = await open_page(http, link)
        assert "🖥 Я за рабочим компьютером в офисе" in html
        response = await http.post(link, data={"nonce": nonce, "mode": "ip", "consent": "1"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "Приход отмечен в 09:05" in response.text
        assert "IP-адрес 127.0.0.1 — из сети офиса" in response.text
        (mark,) = await s.rows(Mark, 3)
        assert (mark.location_verdict, mark.zone_id) == ("inside", None)
        # Checked in already: the chat explains, and sends no new link.
        again = await s.bot.says(3, "пришёл")
        assert "Вы уже отметились" in again.text
        assert not [b for b in again.keyboard or [] if b.get("LINK")]


async def test_remote_people_and_english_speakers(sqlite_url: str) -> None:
    async with stand(sqlite_url) as s, httpx.AsyncClient(timeout=20) as http:
        await s.configure(settings={"location_required": True})
        # A remote person checks in from the chat as before.
        await s.bot.says(2, "статус")
        await s.update_employee(2, remote_always=True)
        answer = await s.bot.says(2, "пришёл")
        assert "Приход отмечен" in answer.text
        assert not [b for b in answer.keyboard or [] if b.get("LINK")]
        (mark,) = await s.rows(Mark, 2)
        assert mark.source == "chat"

        # English: the chat button and the page speak it.
        await s.bot.says(4, "/lang en")
        answer = await s.bot.says(4, "I'm in")
        assert "To check in, confirm that you are at the office" in answer.text
        (button,) = [b for b in answer.keyboard if b.get("LINK")]
        assert button["TEXT"] == "📍 Confirm location"
        html, nonce = await open_page(http, button["LINK"])
        assert "Check in here" in html
        assert "I agree to the processing" in html
        done = await http.post(button["LINK"], json=where(INSIDE, nonce=nonce, consent=True))
        assert "Checked in at 09:05" in done.json()["html"]
        assert "You are at the office “Главный офис”" in done.json()["message"]
