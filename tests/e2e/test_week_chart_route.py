"""GET /charts/week/{token}.png over real HTTP against a migrated database with real marks."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from matplotlib.image import imread

from tests.support.rows import employee_row, mark_row, portal_row
from tests.support.servers import free_port, serve_asgi
from timebot.config import Settings
from timebot.domain.clock import FixedClock
from timebot.reports.week_chart import COLORS
from timebot.services.links import sign, week_chart_url
from timebot.storage.database import Database
from timebot.storage.migrate import upgrade
from timebot.web.app import create_app

SECRET = "e2e-week-chart-secret"
MSK = ZoneInfo("Europe/Moscow")
# Wednesday 18 Nov 2026, 12:00 in Moscow: the current week is 16–22 Nov.
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 16)


@dataclass(frozen=True)
class Seeded:
    portal_id: int
    employee_id: int
    other_portal_id: int
    other_employee_id: int


def at(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=MSK).astimezone(UTC)


async def seed(url: str, *, late: bool) -> Seeded:
    db = Database.from_url(url)
    try:
        async with db.unit_of_work() as uow:
            s = uow.session
            created = NOW - timedelta(days=60)
            portal = portal_row(member_id="chart-a", at=created)
            other = portal_row(member_id="chart-b", at=created)
            s.add_all([portal, other])
            await uow.flush()
            joined = NOW - timedelta(days=30)
            anna = employee_row(
                portal.id, 15, name="Анна Петрова", tz="Europe/Moscow", departments=[1], at=joined
            )
            boris = employee_row(other.id, 15, name="Борис Иванов", at=joined)
            s.add_all([anna, boris])
            await uow.flush()
            marks = []
            # Previous week Monday to Friday 09:00–18:00, Wednesday (maybe) at 09:40.
            for i in range(5):
                d = MONDAY - timedelta(days=7 - i)
                start = at(d, 9, 40) if late and i == 2 else at(d, 9)
                marks += [
                    mark_row(portal.id, anna.id, "check_in", start),
                    mark_row(portal.id, anna.id, "check_out", at(d, 18)),
                ]
            # Current week: Monday and Tuesday done, Wednesday open since 09:02.
            for i in range(2):
                d = MONDAY + timedelta(days=i)
                marks += [
                    mark_row(portal.id, anna.id, "check_in", at(d, 9)),
                    mark_row(portal.id, anna.id, "check_out", at(d, 18)),
                ]
            marks.append(
                mark_row(portal.id, anna.id, "check_in", at(MONDAY + timedelta(days=2), 9, 2))
            )
            marks.append(mark_row(other.id, boris.id, "check_in", at(MONDAY, 9)))
            s.add_all(marks)
            await uow.commit()
            return Seeded(portal.id, anna.id, other.id, boris.id)
    finally:
        await db.dispose()


@dataclass(frozen=True)
class Server:
    base: str
    ids: Seeded


@asynccontextmanager
async def running(database_url: str, *, late: bool) -> AsyncIterator[Server]:
    """A migrated, seeded database and the app serving it on a real port, clock fixed at NOW."""
    await upgrade(database_url)
    ids = await seed(database_url, late=late)
    settings = Settings(database_url=database_url, secret_key=SECRET)
    app = create_app(settings=settings, clock=FixedClock(NOW))
    port = free_port()
    with serve_asgi(app, port=port) as base:
        yield Server(base, ids)


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[Server]:
    async with running(database_url, late=True) as server:
        yield server


def chart_path(
    base: str,
    portal_id: int,
    employee_id: int,
    *,
    now: datetime = NOW,
    ttl: timedelta | None = None,
) -> str:
    url = week_chart_url(
        base,
        SECRET,
        portal_id=portal_id,
        employee_id=employee_id,
        week=NOW.astimezone(MSK).date(),
        now=now,
        ttl=ttl or timedelta(days=14),
    )
    return url.removeprefix(base)


def late_pixels(png: bytes) -> int:
    image: np.ndarray[Any, Any] = np.asarray(imread(io.BytesIO(png), format="png"))
    assert image.shape == (400, 800, 4)
    rgb = np.array([int(COLORS["late"][i : i + 2], 16) for i in (1, 3, 5)]) / 255
    plot = image[:300, :, :3]
    return int(np.all(np.abs(plot - rgb) < 1.5 / 255, axis=-1).sum())


async def test_signed_link_gives_the_employees_chart(server: Server) -> None:
    ids = server.ids
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.get(chart_path(server.base, ids.portal_id, ids.employee_id))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["cache-control"] == "private, max-age=300"
    assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(r.content) < 100_000
    # The late Wednesday of the previous week came from the marks through the plan.
    assert late_pixels(r.content) > 1000


async def test_chart_without_late_marks_has_no_late_bars(sqlite_url: str) -> None:
    async with running(sqlite_url, late=False) as server:
        ids = server.ids
        async with httpx.AsyncClient(base_url=server.base) as http:
            r = await http.get(chart_path(server.base, ids.portal_id, ids.employee_id))
    assert r.status_code == 200, r.text
    assert late_pixels(r.content) == 0


async def test_bad_links_are_404_with_a_reason(server: Server) -> None:
    ids = server.ids
    good = chart_path(server.base, ids.portal_id, ids.employee_id)
    token = good.removeprefix("/charts/week/").removesuffix(".png")
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    expired = chart_path(server.base, ids.portal_id, ids.employee_id, now=NOW - timedelta(days=15))
    wrong_purpose = sign(
        SECRET,
        "check-in",
        {"p": ids.portal_id, "e": ids.employee_id, "w": "2026-11-16"},
        NOW + timedelta(days=1),
    )
    cases = {
        expired: "устарела",
        f"/charts/week/{flipped}.png": "повреждена",
        f"/charts/week/{wrong_purpose}.png": "не для графика",
        "/charts/week/nonsense.png": "повреждена",
    }
    async with httpx.AsyncClient(base_url=server.base) as http:
        for path, reason in cases.items():
            r = await http.get(path)
            assert r.status_code == 404, path
            assert reason in r.text, (path, r.text)
            assert r.headers["content-type"].startswith("text/plain")


async def test_links_to_someone_outside_the_portal_are_404(server: Server) -> None:
    ids = server.ids
    paths = [
        # Another portal's employee under this portal's id.
        chart_path(server.base, ids.portal_id, ids.other_employee_id),
        chart_path(server.base, ids.other_portal_id, ids.employee_id),
        chart_path(server.base, ids.portal_id, 999_999),
        chart_path(server.base, 999_999, ids.employee_id),
    ]
    async with httpx.AsyncClient(base_url=server.base) as http:
        for path in paths:
            r = await http.get(path)
            assert r.status_code == 404, path
            assert "Нет такого графика" in r.text
        # The other portal's own link still works: the refusal above was about ownership.
        ok = await http.get(chart_path(server.base, ids.other_portal_id, ids.other_employee_id))
        assert ok.status_code == 200
