"""The retention job on real SQLite and PostgreSQL: raw coordinates, accuracy, IP and device time
of location fixes older than the portal's period are erased in batches, verdicts and distances
stay, each portal is audited once per run, a second run finds nothing, and two workers at once
erase every row exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.rows import employee_row, flushed, portal_row
from timebot.domain.clock import FixedClock
from timebot.jobs.retention import (
    EVENT_DEDUPE_WINDOW,
    erase_expired_locations,
    forget_applied_events,
)
from timebot.services.retention import (
    DEFAULT_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    RETENTION_SETTING,
    erase_cutoff,
    retention_days,
)
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.tables import AuditEntry, LocationFix, ProcessedEvent

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


# --- the period -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "days"),
    [
        (None, DEFAULT_RETENTION_DAYS),
        ({}, DEFAULT_RETENTION_DAYS),
        ({RETENTION_SETTING: 30}, 30),
        ({RETENTION_SETTING: "14"}, 14),
        ({RETENTION_SETTING: 7.0}, 7),
        ({RETENTION_SETTING: 0}, 1),  # at least a day
        ({RETENTION_SETTING: -5}, 1),
        ({RETENTION_SETTING: 100_000}, MAX_RETENTION_DAYS),  # never forever
        ({RETENTION_SETTING: "soon"}, DEFAULT_RETENTION_DAYS),
        ({RETENTION_SETTING: 2.5}, DEFAULT_RETENTION_DAYS),
        ({RETENTION_SETTING: True}, DEFAULT_RETENTION_DAYS),
        ({RETENTION_SETTING: None}, DEFAULT_RETENTION_DAYS),
    ],
)
def test_the_retention_period_comes_from_portal_settings(
    settings: dict[str, Any] | None, days: int
) -> None:
    assert retention_days(settings) == days
    assert erase_cutoff(NOW, settings) == NOW - timedelta(days=days)


def test_the_cutoff_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        erase_cutoff(datetime(2026, 1, 1), {})  # noqa: DTZ001


# --- the job ----------------------------------------------------------------------------------


@dataclass
class World:
    db: Database
    url: str

    async def portal(self, member_id: str, **settings: Any) -> tuple[int, int]:
        """A portal with one employee; returns (portal id, employee id)."""
        async with self.db.unit_of_work() as uow:
            portal = await flushed(uow, portal_row(member_id=member_id, settings=settings, at=NOW))
            employee = employee_row(portal.id, 7, name="Мария Соколова", at=NOW)
            uow.session.add(employee)
            await uow.commit()
            return portal.id, employee.id

    async def fixes(self, portal_id: int, employee_id: int, ages: list[timedelta]) -> None:
        async with self.db.unit_of_work() as uow:
            for i, age in enumerate(ages):
                at = NOW - age
                uow.session.add(
                    LocationFix(
                        portal_id=portal_id,
                        employee_id=employee_id,
                        at=at,
                        lat=55.7558 + i * 1e-5,
                        lon=37.6173,
                        accuracy_m=12.0,
                        device_time=at - timedelta(seconds=3),
                        ip="203.0.113.7",
                        verdict="inside" if i % 2 else "outside",
                        distance_m=float(i),
                        flags=["zero_accuracy"] if i == 0 else [],
                    )
                )
            await uow.commit()

    async def rows(self, portal_id: int) -> list[LocationFix]:
        async with self.db.unit_of_work() as uow:
            found = list(
                await uow.session.scalars(
                    select(LocationFix)
                    .where(LocationFix.portal_id == portal_id)
                    .order_by(LocationFix.id)
                )
            )
            uow.session.expunge_all()
            return found

    async def audits(self) -> list[AuditEntry]:
        async with self.db.unit_of_work() as uow:
            found = list(
                await uow.session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action == "locations.erased")
                    .order_by(AuditEntry.id)
                )
            )
            uow.session.expunge_all()
            return found


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    await upgrade(database_url)
    db = Database.from_url(database_url)
    try:
        yield World(db, database_url)
    finally:
        await db.dispose()


def raw(fix: LocationFix) -> tuple[Any, ...]:
    return (fix.lat, fix.lon, fix.accuracy_m, fix.ip, fix.device_time)


async def test_expired_fixes_lose_their_raw_data_and_keep_the_verdict(world: World) -> None:
    days = timedelta(days=1)
    default_pid, default_emp = await world.portal("default")
    short_pid, short_emp = await world.portal("short", **{RETENTION_SETTING: 30})
    # Default 90 days: 7 expired (one a second past the limit), 3 kept (one exactly at it).
    default_ages = [91 * days, 400 * days, 90 * days + timedelta(seconds=1)] + [95 * days] * 4
    default_ages += [90 * days, 89 * days, timedelta(hours=1)]
    await world.fixes(default_pid, default_emp, default_ages)
    # 30 days: 2 expired, 1 kept.
    await world.fixes(short_pid, short_emp, [31 * days, 45 * days, 29 * days])

    before = {f.id: f for f in await world.rows(default_pid) + await world.rows(short_pid)}
    clock = FixedClock(NOW)
    erased = await erase_expired_locations(world.db, clock=clock, batch_size=3)
    assert erased == 9

    for pid, ages, limit in (
        (default_pid, default_ages, 90 * days),
        (short_pid, [31 * days, 45 * days, 29 * days], 30 * days),
    ):
        rows = await world.rows(pid)
        assert len(rows) == len(ages)
        for fix, age in zip(rows, ages, strict=True):
            old = before[fix.id]
            # What stays, always: when, the verdict, zone, distance and flags.
            assert (fix.at, fix.verdict, fix.zone_id, fix.distance_m, fix.flags) == (
                old.at,
                old.verdict,
                old.zone_id,
                old.distance_m,
                old.flags,
            )
            if age > limit:
                assert raw(fix) == (None, None, None, None, None)
                assert fix.erased_at == NOW
            else:
                assert raw(fix) == raw(old)
                assert fix.lat is not None
                assert fix.erased_at is None

    audits = await world.audits()
    assert [(a.portal_id, a.details["count"], a.details["retention_days"]) for a in audits] == [
        (default_pid, 7, 90),
        (short_pid, 2, 30),
    ]
    assert all(a.actor == "system" and a.at == NOW for a in audits)
    assert audits[0].details["before"] == (NOW - 90 * days).isoformat()

    # Nothing left to do: no erasure, no new audit entry.
    assert await erase_expired_locations(world.db, clock=clock, batch_size=3) == 0
    assert len(await world.audits()) == 2

    # An hour later the fix that was exactly at the limit has expired too; the earlier
    # erasures keep their time.
    clock.advance(timedelta(hours=1))
    assert await erase_expired_locations(world.db, clock=clock) == 1
    erased_at = {f.erased_at for f in await world.rows(default_pid) if f.lat is None}
    assert erased_at == {NOW, NOW + timedelta(hours=1)}


async def test_a_batch_exactly_full_still_finishes_and_audits_once(world: World) -> None:
    pid, emp = await world.portal("exact")
    await world.fixes(pid, emp, [timedelta(days=100)] * 6)
    assert await erase_expired_locations(world.db, clock=FixedClock(NOW), batch_size=3) == 6
    (audit,) = await world.audits()
    assert audit.details["count"] == 6


async def test_uninstalled_portals_are_erased_too(world: World) -> None:
    pid, emp = await world.portal("gone")
    async with world.db.unit_of_work() as uow:
        portal = await uow.portals.get(pid)
        assert portal is not None
        portal.status = "uninstalled"
        await uow.commit()
    await world.fixes(pid, emp, [timedelta(days=120)])
    assert await erase_expired_locations(world.db, clock=FixedClock(NOW)) == 1


async def test_two_workers_at_once_erase_every_row_exactly_once(world: World) -> None:
    pid, emp = await world.portal("busy")
    await world.fixes(pid, emp, [timedelta(days=100 + i % 7) for i in range(120)])
    other = Database.from_url(world.url)
    try:
        counts = await asyncio.gather(
            erase_expired_locations(world.db, clock=FixedClock(NOW), batch_size=7),
            erase_expired_locations(other, clock=FixedClock(NOW), batch_size=11),
        )
    finally:
        await other.dispose()
    assert sum(counts) == 120
    assert all(raw(f) == (None, None, None, None, None) for f in await world.rows(pid))
    assert sum(a.details["count"] for a in await world.audits()) == 120


async def test_a_batch_size_below_one_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        await erase_expired_locations(world.db, clock=FixedClock(NOW), batch_size=0)


# --- the inbox --------------------------------------------------------------------------------


async def test_applied_events_leave_the_inbox_after_their_dedupe_window(database_url: str) -> None:
    await upgrade(database_url)
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            portal = await flushed(uow, portal_row())
            old = NOW - EVENT_DEDUPE_WINDOW - timedelta(minutes=1)
            recent = NOW - EVENT_DEDUPE_WINDOW + timedelta(minutes=1)
            for key, at, status in [
                ("old-applied", old, "applied"),
                ("old-pending", old, "pending"),
                ("old-dead", old, "dead"),
                ("recent-applied", recent, "applied"),
            ]:
                uow.session.add(
                    ProcessedEvent(
                        portal_id=portal.id, event_key=key, received_at=at, status=status
                    )
                )
            await uow.commit()

        assert await forget_applied_events(db, clock=FixedClock(NOW)) == 1
        assert await forget_applied_events(db, clock=FixedClock(NOW)) == 0

        async with db.unit_of_work() as uow:
            keys = set(await uow.session.scalars(select(ProcessedEvent.event_key)))
        assert keys == {"old-pending", "old-dead", "recent-applied"}
    finally:
        await db.dispose()
