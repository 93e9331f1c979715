"""Office IP ranges imported from the sandbox portal's `timeman.networkrange.get` over real HTTP,
on SQLite and PostgreSQL: ranges become CIDR blocks on the right office, a portal without
offices gets one, importing again changes nothing, and a refusal writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.integration.gateway.webhook import WebhookSetup, running_sandbox, webhook_setup
from timebot.bitrix import BitrixError
from timebot.domain.geofence import Office as OfficeZones
from timebot.domain.networks import parse_networks
from timebot.domain.presence import evaluate_ip_only
from timebot.gateway.networks import (
    NETWORK_RANGES_FAILED_AT,
    NETWORK_RANGES_IMPORTED_AT,
    import_due,
    import_network_ranges,
    range_to_cidrs,
)
from timebot.sandbox import Portal as SandboxPortal
from timebot.storage.tables import AuditEntry, Office, Portal

START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
MOSCOW_RANGE = "192.168.10.0-192.168.10.255"  # the demo company's, named "Офис Москва"


@pytest.mark.parametrize(
    ("text", "cidrs"),
    [
        (MOSCOW_RANGE, ("192.168.10.0/24",)),
        ("10.0.0.0-10.255.255.255", ("10.0.0.0/8",)),
        (
            "192.168.1.10-192.168.1.20",
            ("192.168.1.10/31", "192.168.1.12/30", "192.168.1.16/30", "192.168.1.20/32"),
        ),
        (" 172.16.0.9 - 172.16.0.8 ", ("172.16.0.8/31",)),  # reversed
        ("203.0.113.7", ("203.0.113.7/32",)),
        ("198.51.100.7/24", ("198.51.100.0/24",)),
        ("2001:db8::-2001:db8::ff", ("2001:db8::/120",)),
    ],
)
def test_ranges_become_the_cidr_blocks_that_cover_them_exactly(
    text: str, cidrs: tuple[str, ...]
) -> None:
    assert range_to_cidrs(text) == cidrs
    # What presence checks read back: every block parses.
    assert [str(n) for n in parse_networks(cidrs)] == list(cidrs)


@pytest.mark.parametrize("text", ["10.0.0.1-2001:db8::1", "office", "10.0.0.300-10.0.0.400"])
def test_unreadable_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        range_to_cidrs(text)


class Setup(WebhookSetup):
    async def run(self) -> int:
        return await import_network_ranges(
            self.database, self.client, self.portal_id, clock=self.clock
        )

    async def offices(self) -> list[tuple[str, list[str]]]:
        async with self.database.unit_of_work() as uow:
            rows = await uow.session.scalars(
                select(Office).where(Office.portal_id == self.portal_id).order_by(Office.id)
            )
            return [(o.name, list(o.ip_ranges)) for o in rows]

    async def add_office(self, name: str, ip_ranges: list[str] | None = None) -> None:
        async with self.database.unit_of_work() as uow:
            uow.session.add(
                Office(
                    portal_id=self.portal_id,
                    name=name,
                    ip_ranges=ip_ranges or [],
                    created_at=START,
                )
            )
            await uow.commit()

    async def settings(self) -> dict[str, object]:
        async with self.database.unit_of_work() as uow:
            portal = await uow.portals.get(self.portal_id)
            assert portal is not None
            return dict(portal.settings)

    async def audits(self) -> int:
        async with self.database.unit_of_work() as uow:
            count = await uow.session.scalar(
                select(func.count(AuditEntry.id)).where(
                    AuditEntry.action == "network_ranges.imported"
                )
            )
            return int(count or 0)


@pytest.fixture
def sandbox() -> Iterator[SandboxPortal]:
    with running_sandbox() as portal:
        yield portal


@pytest.fixture
async def setup(database_url: str, sandbox: SandboxPortal) -> AsyncIterator[Setup]:
    async with webhook_setup(Setup, database_url, sandbox, "networks-test", START) as setup:
        yield setup


async def test_a_portal_without_offices_gets_one_named_after_the_range(setup: Setup) -> None:
    setup.sandbox.reset_stats()
    assert await setup.run() == 1
    assert setup.sandbox.stats.requests == 1
    assert await setup.offices() == [("Офис Москва", ["192.168.10.0/24"])]
    assert (await setup.settings())[NETWORK_RANGES_IMPORTED_AT] == START.isoformat()
    assert await setup.audits() == 1

    # Idempotent: nothing new, nothing written but the time of the check.
    setup.clock.advance(timedelta(hours=1))
    assert await setup.run() == 0
    assert await setup.offices() == [("Офис Москва", ["192.168.10.0/24"])]
    assert await setup.audits() == 1
    assert (await setup.settings())[NETWORK_RANGES_IMPORTED_AT] == (
        START + timedelta(hours=1)
    ).isoformat()

    # The imported ranges are what an IP-only presence check reads.
    office = OfficeZones("1", "Офис Москва")
    verdict = evaluate_ip_only("192.168.10.77", {office: ["192.168.10.0/24"]})
    assert verdict.kind.value == "inside"


async def test_ranges_go_to_the_office_of_their_name_else_the_first(setup: Setup) -> None:
    await setup.add_office("Склад", ["10.1.0.0/16"])
    await setup.add_office("офис  москва")  # names match ignoring case and spacing
    setup.sandbox.state.network_ranges.extend(
        [
            {"ip_range": "172.16.0.0-172.16.0.255", "name": "Гостевой Wi-Fi"},
            {"ip_range": "10.1.0.0-10.1.255.255", "name": "Склад"},  # there already
            {"ip_range": "not-a-range", "name": "Ошибка"},  # skipped, the rest still imported
        ]
    )
    assert await setup.run() == 2
    assert await setup.offices() == [
        ("Склад", ["10.1.0.0/16", "172.16.0.0/24"]),  # the first office takes the unmatched
        ("офис  москва", ["192.168.10.0/24"]),
    ]
    assert await setup.run() == 0


async def test_a_range_an_admin_moved_is_not_added_again(setup: Setup) -> None:
    await setup.add_office("Главный")
    await setup.add_office("Переговорная", ["192.168.10.0/24"])
    assert await setup.run() == 0
    assert await setup.offices() == [("Главный", []), ("Переговорная", ["192.168.10.0/24"])]


async def test_a_refusal_writes_nothing_and_is_retried_later(setup: Setup) -> None:
    setup.sandbox.state.users[setup.sandbox.config.webhook_user_id].is_admin = False
    with pytest.raises(BitrixError) as caught:
        await setup.run()
    assert caught.value.code == "ACCESS_ERROR"
    assert await setup.offices() == []
    assert NETWORK_RANGES_IMPORTED_AT not in await setup.settings()

    # import_due logs it, notes the failure and leaves the portal alone for a while.
    assert await import_due(setup.database, setup.client, clock=setup.clock) == 0
    assert (await setup.settings())[NETWORK_RANGES_FAILED_AT] == START.isoformat()
    setup.sandbox.state.users[setup.sandbox.config.webhook_user_id].is_admin = True
    setup.clock.advance(timedelta(hours=1))
    assert await import_due(setup.database, setup.client, clock=setup.clock) == 0
    assert await setup.offices() == []

    setup.clock.advance(timedelta(hours=6))
    assert await import_due(setup.database, setup.client, clock=setup.clock) == 1
    assert await setup.offices() == [("Офис Москва", ["192.168.10.0/24"])]
    assert NETWORK_RANGES_FAILED_AT not in await setup.settings()
    # Done for today.
    setup.clock.advance(timedelta(hours=23))
    assert await import_due(setup.database, setup.client, clock=setup.clock) == 0


async def test_inactive_portals_are_not_asked(setup: Setup) -> None:
    async with setup.database.unit_of_work() as uow:
        portal = await uow.session.get(Portal, setup.portal_id)
        assert portal is not None
        portal.status = "uninstalled"
        await uow.commit()
    setup.sandbox.reset_stats()
    assert await import_due(setup.database, setup.client, clock=setup.clock) == 0
    assert setup.sandbox.stats.requests == 0
