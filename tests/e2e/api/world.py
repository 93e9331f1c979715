"""Two portals with people, places, plans, marks and tokens, served by the real app on a real
port: what the REST API tests and the Schemathesis run work against.

Portal A ("api-a", Moscow) has two departments, four people, an office with a 100 m circle,
a fixed 09:00–18:00 schedule and two weeks of marks (Boris late once, excused; Vera absent;
Anna's day open now). Portal B ("api-b") has its own person, office, zone, schedule and marks.
The clock stands at NOW, Wednesday 18 November 2026, 12:00 in Moscow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
from sqlalchemy import select

from tests.support.rows import (
    assignment_row,
    department_row,
    employee_row,
    mark_row,
    office_row,
    portal_row,
    schedule_row,
    work_day_rows,
    zone_row,
)
from tests.support.servers import free_port, serve_asgi
from tests.unit.geo.places import offset
from timebot.config import Settings
from timebot.domain.clock import FixedClock
from timebot.domain.geo import Point
from timebot.services.api_tokens import (
    SCOPES,
    issue_token,
    revoke_token,
    signing_key_from_secret,
)
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.tables import (
    ApiToken,
    AuditEntry,
    Employee,
    EmployeeOffice,
    Explanation,
    LocationFix,
    Mark,
    Office,
    OutboxMessage,
    Portal,
    Schedule,
    ScheduleAssignment,
    Zone,
)
from timebot.web.app import create_app

SECRET = "api-e2e-secret-key-0123456789"
MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # Wednesday, 12:00 in Moscow
MONDAY = date(2026, 11, 16)
PREVIOUS_MONDAY = date(2026, 11, 9)
OFFICE = Point(55.7558, 37.6173)
INSIDE = offset(OFFICE, 20.0, 15.0)
OUTSIDE = offset(OFFICE, 0.0, 2_100.0)
FIXED_WEEK: dict[str, Any] = {
    "week": [{"start": "09:00", "end": "18:00", "break": 60}] * 5 + [None, None],
    "week_hours": 40,
    "follow_calendar": True,
}
READ_SCOPES = [s for s in SCOPES if s.endswith(":read")]


def at(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=MSK).astimezone(UTC)


@dataclass
class PortalIds:
    """One portal's rows, by what the tests call them."""

    id: int
    member_id: str
    departments: dict[str, int] = field(default_factory=dict)  # name -> departments.id
    employees: dict[str, int] = field(default_factory=dict)  # name -> employees.id
    office: int = 0
    zone: int = 0
    schedule: int = 0
    assignment: int = 0
    mark: int = 0


@dataclass
class World:
    base: str
    database_url: str
    a: PortalIds
    b: PortalIds
    tokens: dict[str, str]  # what the token is -> the token
    jtis: dict[str, str]
    app: Any = None  # the served FastAPI app (its `state` holds the rate limiter)

    def client(self, token: str | None = "a", **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client for the API with the named token (or a raw token string)."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            raw = self.tokens.get(token, token)
            headers["Authorization"] = f"Bearer {raw}"
        return httpx.AsyncClient(base_url=self.base, headers=headers, timeout=60, **kwargs)


async def _seed_a(db: Database) -> PortalIds:
    async with db.unit_of_work() as uow:
        s = uow.session
        portal = portal_row(
            member_id="api-a",
            bot_id=77,
            settings={"timeman_mirror": True, "cors_origins": ["https://hr.example.com"]},
        )
        s.add(portal)
        await uow.flush()
        ids = PortalIds(portal.id, portal.member_id)
        sales = department_row(portal.id, 1, name="Продажи", head=10)
        dev = department_row(portal.id, 2, name="Разработка", parent=1, head=20)
        s.add_all([sales, dev])
        await uow.flush()
        ids.departments = {"sales": sales.id, "dev": dev.id}
        people = {
            "anna": employee_row(portal.id, 10, name="Анна Петрова", departments=[1]),
            "boris": employee_row(portal.id, 11, name="Борис Иванов", departments=[1]),
            "vera": employee_row(portal.id, 20, name="Вера Смирнова", departments=[2]),
            "gleb": employee_row(portal.id, 21, name="Глеб Орлов", departments=[2]),
        }
        s.add_all(people.values())
        await uow.flush()
        ids.employees = {k: e.id for k, e in people.items()}
        office = office_row(portal.id, name="Главный офис", ip_ranges=["10.0.0.0/8"])
        s.add(office)
        await uow.flush()
        zone = zone_row(
            portal.id, office.id, name="БЦ", lat=OFFICE.lat, lon=OFFICE.lon, radius_m=100
        )
        schedule = schedule_row(
            portal.id, name="Офис 9–18", definition=FIXED_WEEK, tolerance_min=10
        )
        s.add_all([zone, schedule])
        await uow.flush()
        assignment = assignment_row(portal.id, schedule.id, valid_from=date(2026, 1, 1))
        s.add(assignment)
        ids.office, ids.zone, ids.schedule = office.id, zone.id, schedule.id
        marks: list[Mark] = []
        for i in range(5):
            d = PREVIOUS_MONDAY + timedelta(days=i)
            marks += work_day_rows(portal.id, people["anna"].id, d, MSK, time(9))
            start = time(9, 40) if i == 2 else time(9)
            marks += work_day_rows(portal.id, people["boris"].id, d, MSK, start)
        for i in range(2):
            d = MONDAY + timedelta(days=i)
            marks += work_day_rows(portal.id, people["anna"].id, d, MSK, time(9))
            marks += work_day_rows(portal.id, people["boris"].id, d, MSK, time(9, 5))
        marks.append(
            mark_row(portal.id, people["anna"].id, "check_in", at(MONDAY + timedelta(days=2), 9))
        )
        s.add_all(marks)
        s.add(
            Explanation(
                portal_id=portal.id,
                employee_id=people["boris"].id,
                local_date=PREVIOUS_MONDAY + timedelta(days=2),
                violation_kind="late_start",
                reason="врач",
                requested_at=NOW - timedelta(days=6),
                answered_at=NOW - timedelta(days=6),
                status="accepted",
                decided_by=10,
                decided_at=NOW - timedelta(days=6),
            )
        )
        await uow.flush()
        ids.assignment = assignment.id
        ids.mark = marks[0].id
        await uow.commit()
    return ids


async def _seed_b(db: Database) -> PortalIds:
    async with db.unit_of_work() as uow:
        s = uow.session
        portal = portal_row(member_id="api-b", bot_id=88)
        s.add(portal)
        await uow.flush()
        ids = PortalIds(portal.id, portal.member_id)
        dept = department_row(portal.id, 1, name="B-Dept", head=10)
        s.add(dept)
        await uow.flush()
        ids.departments = {"main": dept.id}
        bob = employee_row(portal.id, 10, name="Bob Brown", departments=[1])
        s.add(bob)
        await uow.flush()
        ids.employees = {"bob": bob.id}
        office = office_row(portal.id, name="B Office")
        s.add(office)
        await uow.flush()
        zone = zone_row(portal.id, office.id, name="B Zone", lat=59.93, lon=30.31, radius_m=80)
        schedule = schedule_row(portal.id, name="B 9-18", definition=FIXED_WEEK)
        s.add_all([zone, schedule])
        await uow.flush()
        assignment = assignment_row(portal.id, schedule.id)
        s.add(assignment)
        marks = work_day_rows(portal.id, bob.id, MONDAY, MSK, time(9))
        s.add_all(marks)
        await uow.flush()
        ids.office, ids.zone, ids.schedule = office.id, zone.id, schedule.id
        ids.assignment, ids.mark = assignment.id, marks[0].id
        await uow.commit()
    return ids


async def _tokens(
    db: Database, a: PortalIds, b: PortalIds
) -> tuple[dict[str, str], dict[str, str]]:
    key = signing_key_from_secret(SECRET)
    clock = FixedClock(NOW)
    tokens: dict[str, str] = {}
    jtis: dict[str, str] = {}
    month = NOW + timedelta(days=30)
    async with db.unit_of_work() as uow:
        for label, portal, scopes, expires in (
            ("a", a.id, list(SCOPES), month),
            ("b", b.id, list(SCOPES), month),
            ("a_read", a.id, READ_SCOPES, None),
            ("a_revoked", a.id, list(SCOPES), month),
        ):
            token, record = await issue_token(
                uow,
                portal_id=portal,
                name=f"test {label}",
                scopes=scopes,
                expires_at=expires,
                created_by=10,
                clock=clock,
                signing_key=key,
            )
            tokens[label], jtis[label] = token, record.jti
        await revoke_token(uow, clock=clock, jti=jtis["a_revoked"], revoked_by=10)
        earlier = FixedClock(NOW - timedelta(days=10))
        token, record = await issue_token(
            uow,
            portal_id=a.id,
            name="test expired",
            scopes=list(SCOPES),
            expires_at=NOW - timedelta(days=1),
            created_by=10,
            clock=earlier,
            signing_key=key,
        )
        tokens["a_expired"], jtis["a_expired"] = token, record.jti
        await uow.commit()
    # Signed with another key (an attacker's, or another installation's).
    tokens["forged"] = jwt.encode(
        jwt.decode(tokens["a"], options={"verify_signature": False}),
        signing_key_from_secret("another-installation-secret"),
        algorithm="HS256",
    )
    return tokens, jtis


# The API's rate limit in the shared world: far above anything a test (or the Schemathesis run,
# ~1,300 requests with one token) sends, so only the rate-limit tests, which pass their own
# settings, ever see a 429; the `RateLimit-*` headers are still on every response.
UNTHROTTLED: dict[str, Any] = {"api_rate_per_second": 1000.0, "api_rate_burst": 100_000}


@asynccontextmanager
async def running_world(database_url: str, **settings: Any) -> AsyncIterator[World]:
    """A migrated, seeded database and the app serving it on a real port, clock at NOW;
    `settings` override the app's (`UNTHROTTLED` by default)."""
    await upgrade(database_url)
    db = Database.from_url(database_url)
    try:
        a = await _seed_a(db)
        b = await _seed_b(db)
        tokens, jtis = await _tokens(db, a, b)
    finally:
        await db.dispose()
    chosen = Settings(database_url=database_url, secret_key=SECRET, **{**UNTHROTTLED, **settings})
    app = create_app(settings=chosen, clock=FixedClock(NOW))
    with serve_asgi(app, port=free_port()) as base:
        yield World(base, database_url, a, b, tokens, jtis, app)


# --- Reading the database back ------------------------------------------------------------------

SNAPSHOT_TABLES: tuple[Any, ...] = (
    Portal,
    Employee,
    Office,
    Zone,
    Schedule,
    ScheduleAssignment,
    Mark,
    LocationFix,
    Explanation,
    ApiToken,
    AuditEntry,
    OutboxMessage,
)


def _row_dict(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


async def snapshot(database_url: str, portal_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of the portal in the tables the API touches (and its employees' office
    links), for before/after comparisons."""
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            found: dict[str, list[dict[str, Any]]] = {}
            for table in SNAPSHOT_TABLES:
                column = table.id if table is Portal else table.portal_id
                rows = await uow.session.scalars(
                    select(table).where(column == portal_id).order_by(table.id)
                )
                found[table.__tablename__] = [_row_dict(r) for r in rows]
            employees = [e["id"] for e in found["employees"]]
            links = await uow.session.scalars(
                select(EmployeeOffice)
                .where(EmployeeOffice.employee_id.in_(employees))
                .order_by(EmployeeOffice.employee_id, EmployeeOffice.office_id)
            )
            found["employee_offices"] = [_row_dict(r) for r in links]
            return found
    finally:
        await db.dispose()


async def rows(database_url: str, table: Any, *conditions: Any) -> list[dict[str, Any]]:
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            order = [c for c in table.__table__.primary_key.columns]
            found = await uow.session.scalars(select(table).where(*conditions).order_by(*order))
            return [_row_dict(r) for r in found]
    finally:
        await db.dispose()


def ids_in(payload: Any, key: str = "id") -> set[int]:
    """Every integer under `key` anywhere in a JSON document."""
    found: set[int] = set()
    if isinstance(payload, dict):
        for k, v in payload.items():
            if k == key and isinstance(v, int):
                found.add(v)
            found |= ids_in(v, key)
    elif isinstance(payload, list):
        for item in payload:
            found |= ids_in(item, key)
    return found


def names(items: Iterable[dict[str, Any]]) -> set[str]:
    return {str(i.get("name")) for i in items}
