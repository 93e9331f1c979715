"""Check-in links and presence on real databases (SQLite and PostgreSQL): a link works once even
under concurrent use, a blocked check-in keeps only the fix and the link, allowed offices, remote
days, consent, the office-network path and the history behind the speed flag."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.rows import (
    employee_row,
    migrated_with,
    office_row,
    portal_row,
    stored_person,
    zone_row,
)
from tests.unit.geo.places import offset
from timebot.bot.people import plan_for
from timebot.domain.geo import Point
from timebot.domain.marks import MarkKind
from timebot.domain.presence import SuspicionFlag, VerdictKind
from timebot.services.checkin_links import (
    CheckinClaim,
    CheckinLinkError,
    IssuedLink,
    issue_link,
    open_link,
)
from timebot.services.presence import (
    CheckinOutcome,
    CheckinResult,
    ConsentRequired,
    Submission,
    submit_checkin,
)
from timebot.services.tracking import record_mark
from timebot.storage import Database
from timebot.storage.repositories.offices import LinkTokenRepository
from timebot.storage.tables import Employee, EmployeeOffice, LinkToken, LocationFix, Mark

NOW = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)  # Monday 09:05 in Moscow
SECRET = "integration-checkin-secret"
PUBLIC = "https://timebot.example"
MOSCOW = Point(55.7558, 37.6173)
PITER = Point(59.9343, 30.3351)


@dataclass
class World:
    db: Database
    portal_id: int
    moscow_office: int
    moscow_zone: int
    piter_office: int

    async def employee(self, user_id: int, **values: Any) -> int:
        async with self.db.unit_of_work() as uow:
            values = {"consented_at": NOW - timedelta(days=1), **values}
            e = employee_row(self.portal_id, user_id, at=NOW - timedelta(days=30), **values)
            uow.session.add(e)
            await uow.commit()
            return e.id

    async def settings(self, **values: Any) -> None:
        async with self.db.unit_of_work() as uow:
            portal = await uow.portals.get(self.portal_id)
            assert portal is not None
            portal.settings = {**(portal.settings or {}), **values}
            await uow.commit()

    async def link(
        self, employee_id: int, action: str = "check_in", now: datetime = NOW
    ) -> IssuedLink:
        async with self.db.unit_of_work() as uow:
            link = await issue_link(
                uow,
                secret=SECRET,
                public_url=PUBLIC,
                portal_id=self.portal_id,
                employee_id=employee_id,
                action=action,
                now=now,
            )
            await uow.commit()
            return link

    async def submit(
        self, link: IssuedLink, submission: Submission, now: datetime = NOW
    ) -> CheckinResult:
        """What the page's POST does, in one transaction."""
        async with self.db.unit_of_work() as uow:
            claim, _ = await open_link(uow, SECRET, link.token, now)
            portal, employee, person = await stored_person(uow, self.portal_id, claim.employee_id)
            today = now.astimezone(person.tz).date()
            plan = await plan_for(uow, portal, person, start=today, end=today, country="RU")
            result = await submit_checkin(
                uow,
                employee=employee,
                person=person,
                plan=plan,
                claim=claim,
                submission=submission,
                settings=portal.settings,
                now=now,
            )
            await uow.commit()
            return result

    async def rows(self, table: Any, employee_id: int) -> list[Any]:
        async with self.db.unit_of_work() as uow:
            query = select(table).where(table.employee_id == employee_id).order_by(table.id)
            found = list(await uow.session.scalars(query))
            uow.session.expunge_all()  # keep the loaded values past the session's end
            return found

    async def token_row(self, jti: str) -> LinkToken:
        async with self.db.unit_of_work() as uow:
            row = await LinkTokenRepository(uow.session).by_jti(jti)
            assert row is not None
            uow.session.expunge_all()
            return row


def at(point: Point, accuracy: float = 12.0, **kw: Any) -> Submission:
    values: dict[str, Any] = {
        "point": point,
        "accuracy_m": accuracy,
        "device_time": NOW,
        "ip": "10.1.2.3",
    }
    values.update(kw)
    return Submission(**values)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    portal = portal_row(
        member_id="presence", settings={"location_required": True}, at=NOW - timedelta(days=60)
    )
    db, portal_id = await migrated_with(database_url, portal)
    async with db.unit_of_work() as uow:
        moscow, piter, closed = offices = [
            office_row(portal_id, name="Москва", ip_ranges=["10.0.0.0/8"], at=NOW),
            office_row(portal_id, name="Питер", at=NOW),
            office_row(portal_id, name="Закрыт", active=False, at=NOW),
        ]
        uow.session.add_all(offices)
        await uow.flush()
        lat, lon = MOSCOW.lat, MOSCOW.lon
        zone = zone_row(
            portal_id, moscow.id, name="Главный вход", lat=lat, lon=lon, radius_m=100.0, at=NOW
        )
        corners = [offset(PITER, e, n) for e, n in [(0, 0), (80, 0), (80, 80), (0, 80)]]
        ring = [[p.lon, p.lat] for p in [*corners, corners[0]]]
        polygon = {"type": "Polygon", "coordinates": [ring]}
        uow.session.add_all(
            [
                zone,
                zone_row(portal_id, piter.id, name="Корпус", polygon=polygon, at=NOW),
                # An inactive zone and a closed office never count.
                zone_row(
                    portal_id,
                    piter.id,
                    name="Старый",
                    lat=0.0,
                    lon=0.0,
                    radius_m=100.0,
                    active=False,
                    at=NOW,
                ),
                zone_row(
                    portal_id, closed.id, name="Закрыт", lat=1.0, lon=1.0, radius_m=100.0, at=NOW
                ),
            ]
        )
        await uow.commit()
        ids = (portal_id, moscow.id, zone.id, piter.id)
    try:
        yield World(db, *ids)
    finally:
        await db.dispose()


async def test_a_link_is_stored_and_honoured_once(world: World) -> None:
    emp = await world.employee(10)
    link = await world.link(emp)
    assert link.url == f"{PUBLIC}/checkin/{link.token}"
    stored = await world.token_row(link.jti)
    assert (stored.portal_id, stored.employee_id, stored.action) == (
        world.portal_id,
        emp,
        "check_in",
    )
    assert stored.expires_at == NOW + timedelta(minutes=10)
    assert stored.used_at is None

    result = await world.submit(link, at(offset(MOSCOW, 10, 10)), NOW + timedelta(seconds=20))
    assert result.outcome is CheckinOutcome.RECORDED
    assert result.verdict.kind is VerdictKind.INSIDE
    assert (await world.token_row(link.jti)).used_at == NOW + timedelta(seconds=20)

    (mark,) = await world.rows(Mark, emp)
    assert (mark.kind, mark.source, mark.location_verdict, mark.zone_id) == (
        "check_in",
        "checkin_page",
        "inside",
        world.moscow_zone,
    )
    assert mark.at == NOW + timedelta(seconds=20)  # the server's time, not the phone's
    assert mark.idempotency_key == f"checkin:{link.jti}"
    (fix,) = await world.rows(LocationFix, emp)
    assert (fix.mark_id, fix.verdict, fix.zone_id, fix.ip) == (
        mark.id,
        "inside",
        world.moscow_zone,
        "10.1.2.3",
    )
    assert fix.distance_m == pytest.approx(mark.distance_m)

    with pytest.raises(CheckinLinkError) as replay:
        await world.submit(link, at(MOSCOW), NOW + timedelta(minutes=1))
    assert replay.value.reason == "used"
    assert len(await world.rows(Mark, emp)) == 1
    assert len(await world.rows(LocationFix, emp)) == 1


async def test_an_expired_link_records_nothing(world: World) -> None:
    emp = await world.employee(11)
    link = await world.link(emp)
    with pytest.raises(CheckinLinkError) as caught:
        await world.submit(link, at(MOSCOW), NOW + timedelta(minutes=10))
    assert caught.value.reason == "expired"
    assert await world.rows(Mark, emp) == []
    assert await world.rows(LocationFix, emp) == []


async def test_two_simultaneous_submissions_record_exactly_one_mark(world: World) -> None:
    for user in range(20, 25):
        emp = await world.employee(user)
        link = await world.link(emp)
        outcomes = await asyncio.gather(
            world.submit(link, at(offset(MOSCOW, 5, 5))),
            world.submit(link, at(offset(MOSCOW, 6, 5))),
            return_exceptions=True,
        )
        recorded = [o for o in outcomes if isinstance(o, CheckinResult)]
        refused = [o for o in outcomes if isinstance(o, CheckinLinkError)]
        assert len(recorded) == 1, outcomes
        assert [r.reason for r in refused] == ["used"], outcomes
        assert recorded[0].outcome is CheckinOutcome.RECORDED
        assert len(await world.rows(Mark, emp)) == 1
        assert len(await world.rows(LocationFix, emp)) == 1


async def test_the_second_claim_waits_for_the_first_transaction(world: World) -> None:
    """The claim is a conditional UPDATE: a concurrent claim blocks until the first
    transaction ends, then sees the link used (commit) or takes it (rollback)."""
    emp = await world.employee(30)
    for first_commits in (True, False):
        link = await world.link(emp)

        async def second_claim(jti: str = link.jti) -> bool:
            async with world.db.unit_of_work() as uow:
                won = await LinkTokenRepository(uow.session).claim(jti, NOW)
                await uow.commit()
                return won

        async with world.db.unit_of_work() as first:
            assert await LinkTokenRepository(first.session).claim(link.jti, NOW)
            contender = asyncio.create_task(second_claim())
            await asyncio.sleep(0.5)
            assert not contender.done()  # blocked behind the first transaction
            if first_commits:
                await first.commit()
            else:
                await first.rollback()
        assert await asyncio.wait_for(contender, 10) is (not first_commits)
        assert (await world.token_row(link.jti)).used_at == NOW


async def test_a_blocked_check_in_keeps_only_the_fix_and_the_link(world: World) -> None:
    await world.settings(block_outside=True)
    emp = await world.employee(40)
    link = await world.link(emp)
    away = offset(MOSCOW, 0, 2_100)
    rejected = await world.submit(link, at(away))
    assert rejected.outcome is CheckinOutcome.REJECTED
    assert rejected.verdict.kind is VerdictKind.OUTSIDE
    assert rejected.verdict.distance_m == pytest.approx(2_000, abs=1)
    assert await world.rows(Mark, emp) == []
    (fix,) = await world.rows(LocationFix, emp)
    assert (fix.verdict, fix.mark_id) == ("outside", None)
    assert (fix.lat, fix.lon) == (away.lat, away.lon)
    assert (await world.token_row(link.jti)).used_at is None  # may be retried

    later = NOW + timedelta(minutes=4)
    accepted = await world.submit(link, at(offset(MOSCOW, 3, 3)), later)
    assert accepted.outcome is CheckinOutcome.RECORDED
    (mark,) = await world.rows(Mark, emp)
    assert (mark.location_verdict, mark.at) == ("inside", later)
    assert [f.mark_id for f in await world.rows(LocationFix, emp)] == [None, mark.id]


async def test_outside_is_recorded_with_its_distance_when_not_blocked(world: World) -> None:
    emp = await world.employee(41)
    link = await world.link(emp)
    result = await world.submit(link, at(offset(MOSCOW, 600, 0)))
    assert result.outcome is CheckinOutcome.RECORDED
    assert result.flagged
    (mark,) = await world.rows(Mark, emp)
    assert mark.location_verdict == "outside"
    assert mark.distance_m == pytest.approx(500, abs=0.5)
    assert mark.zone_id == world.moscow_zone


async def test_only_the_persons_own_offices_count(world: World) -> None:
    emp = await world.employee(50, all_offices=False)
    async with world.db.unit_of_work() as uow:
        uow.session.add(EmployeeOffice(employee_id=emp, office_id=world.piter_office))
        await uow.commit()
    link = await world.link(emp)
    # Inside the Moscow circle, but this person works in St Petersburg only.
    result = await world.submit(link, at(MOSCOW, ip="192.0.2.1"))
    assert result.verdict.kind is VerdictKind.OUTSIDE
    assert result.verdict.office_id == str(world.piter_office)
    assert result.verdict.distance_m == pytest.approx(635_000, rel=0.01)

    other = await world.employee(51, all_offices=False)
    async with world.db.unit_of_work() as uow:
        uow.session.add(EmployeeOffice(employee_id=other, office_id=world.piter_office))
        await uow.commit()
    result = await world.submit(await world.link(other), at(offset(PITER, 40, 40)))
    assert result.verdict.kind is VerdictKind.INSIDE
    assert result.verdict.office_id == str(world.piter_office)


async def test_a_remote_day_needs_no_position_and_keeps_none(world: World) -> None:
    emp = await world.employee(60, remote_weekdays=[1])  # Mondays
    link = await world.link(emp)
    result = await world.submit(link, at(offset(MOSCOW, 0, 50_000)))
    assert result.outcome is CheckinOutcome.RECORDED
    assert result.verdict.kind is VerdictKind.REMOTE
    (mark,) = await world.rows(Mark, emp)
    assert mark.location_verdict == "remote"
    (fix,) = await world.rows(LocationFix, emp)
    assert (fix.lat, fix.lon, fix.accuracy_m, fix.verdict) == (None, None, None, "remote")


async def test_consent_is_required_once_and_stored(world: World) -> None:
    emp = await world.employee(70)
    async with world.db.unit_of_work() as uow:
        employee = await uow.session.get(Employee, emp)
        assert employee is not None
        employee.consented_at = None
        await uow.commit()
    link = await world.link(emp)
    with pytest.raises(ConsentRequired):
        await world.submit(link, at(MOSCOW))
    assert await world.rows(LocationFix, emp) == []
    assert (await world.token_row(link.jti)).used_at is None

    later = NOW + timedelta(seconds=30)
    await world.submit(link, at(MOSCOW, consent=True), later)
    async with world.db.unit_of_work() as uow:
        employee = await uow.session.get(Employee, emp)
        assert employee is not None
        assert employee.consented_at == later


async def test_office_network_path_for_desktops(world: World) -> None:
    emp = await world.employee(80)
    link = await world.link(emp)
    refused = await world.submit(link, Submission(None, None, NOW, "198.51.100.7", ip_only=True))
    assert refused.outcome is CheckinOutcome.REJECTED
    assert refused.ip_only
    assert await world.rows(Mark, emp) == []

    result = await world.submit(link, Submission(None, None, NOW, "10.9.8.7", ip_only=True))
    assert result.outcome is CheckinOutcome.RECORDED
    assert result.verdict.office_id == str(world.moscow_office)
    (mark,) = await world.rows(Mark, emp)
    assert (mark.location_verdict, mark.zone_id) == ("inside", None)
    fixes = await world.rows(LocationFix, emp)
    assert [(f.lat, f.ip, f.verdict) for f in fixes] == [
        (None, "198.51.100.7", "uncertain"),
        (None, "10.9.8.7", "inside"),
    ]


async def test_earlier_fixes_feed_the_speed_check(world: World) -> None:
    emp = await world.employee(90)
    # Yesterday evening's check-out in St Petersburg, five minutes "ago" for the morning fix.
    async with world.db.unit_of_work() as uow:
        uow.session.add(
            LocationFix(
                portal_id=world.portal_id,
                employee_id=emp,
                at=NOW - timedelta(minutes=5),
                lat=PITER.lat,
                lon=PITER.lon,
                accuracy_m=20.0,
                verdict="inside",
                flags=[],
            )
        )
        await uow.commit()
    result = await world.submit(await world.link(emp), at(offset(MOSCOW, 5, 5)))
    assert result.verdict.kind is VerdictKind.INSIDE
    assert SuspicionFlag.IMPLAUSIBLE_SPEED in result.verdict.flags
    (mark,) = await world.rows(Mark, emp)
    assert "implausible_speed" in mark.flags


async def test_a_check_in_while_working_is_refused_and_uses_the_link(world: World) -> None:
    emp = await world.employee(100)
    async with world.db.unit_of_work() as uow:
        portal, _, person = await stored_person(uow, world.portal_id, emp)
        plan = await plan_for(uow, portal, person, start=NOW.date(), end=NOW.date(), country="RU")
        await record_mark(uow, person, MarkKind.CHECK_IN, plan=plan, now=NOW - timedelta(hours=1))
        await uow.commit()
    link = await world.link(emp)
    result = await world.submit(link, at(MOSCOW))
    assert result.outcome is CheckinOutcome.REFUSED
    assert len(await world.rows(Mark, emp)) == 1
    (fix,) = await world.rows(LocationFix, emp)
    assert fix.mark_id is None
    assert (await world.token_row(link.jti)).used_at == NOW


async def test_a_check_out_link(world: World) -> None:
    emp = await world.employee(110)
    first = await world.submit(await world.link(emp), at(MOSCOW))
    assert first.outcome is CheckinOutcome.RECORDED
    later = NOW + timedelta(hours=9)
    out_link = await world.link(emp, "check_out", later)
    result = await world.submit(out_link, at(offset(MOSCOW, 20, 0)), later + timedelta(seconds=5))
    assert (result.outcome, result.kind) == (CheckinOutcome.RECORDED, MarkKind.CHECK_OUT)
    assert [m.kind for m in await world.rows(Mark, emp)] == ["check_in", "check_out"]


async def test_a_link_for_another_person_cannot_be_used_for_someone_else(world: World) -> None:
    anna, boris = await world.employee(120), await world.employee(121)
    link = await world.link(anna)
    async with world.db.unit_of_work() as uow:
        claim, _ = await open_link(uow, SECRET, link.token, NOW)
        portal, employee, person = await stored_person(uow, world.portal_id, boris)
        plan = await plan_for(uow, portal, person, start=NOW.date(), end=NOW.date(), country="RU")
        with pytest.raises(CheckinLinkError) as caught:
            await submit_checkin(
                uow,
                employee=employee,
                person=person,
                plan=plan,
                claim=CheckinClaim(claim.jti, claim.portal_id, anna, claim.action),
                submission=at(MOSCOW),
                settings={},
                now=NOW,
            )
        assert caught.value.reason == "foreign"
    async with world.db.unit_of_work() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(LocationFix))
        assert count == 0
