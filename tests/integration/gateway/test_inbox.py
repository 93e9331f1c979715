"""The event inbox on real SQLite and PostgreSQL: intake stores and answers, appliers apply.

Events go through the real intake (`receive_event` with the group-commit writer, or HTTP into
the app) and the real bot; nothing is faked. The clock is fixed, so receipt and apply times
are told apart.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.integration.gateway.wire import (
    MEMBER,
    MONDAY,
    TOKEN,
    form,
    message,
    portal_database,
)
from tests.support.rows import employee_row
from tests.support.servers import serve_asgi
from timebot.bitrix import parse_event
from timebot.bootstrap import build_container
from timebot.bot.app import build_dispatcher
from timebot.config import Settings
from timebot.domain.clock import FixedClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.inbox import LEASE, InboxApplier, InboxWriter
from timebot.gateway.intake import Outcome, PortalCache, receive_event, verified_portal
from timebot.jobs.inbox import SWEEP_GRACE
from timebot.jobs.worker import Worker
from timebot.storage import Database
from timebot.storage.tables import (
    AuditEntry,
    Employee,
    Mark,
    OutboxMessage,
    Portal,
    ProcessedEvent,
)
from timebot.web.app import create_app

ACTIONS = (("пришёл", "check_in"), ("перерыв", "break_start"), ("вернулся", "break_end"))
ACTIONS += (("ушёл", "check_out"),)


@dataclass
class World:
    database: Database
    portal_id: int
    clock: FixedClock
    portals: PortalCache
    writer: InboxWriter
    database_url: str
    next_message: int = 5000

    async def receive(self, user_id: int, text: str, **wire: Any) -> Outcome:
        """A pushed message from `user_id`, through verification and the writer."""
        self.next_message += 1
        payload = message(user_id, self.next_message, text, **wire)
        return await receive_event(
            parse_event(payload),
            payload,
            portals=self.portals,
            store=self.writer.store,
            now=self.clock.now(),
        )

    def applier(self, name: str, **options: Any) -> InboxApplier:
        return InboxApplier(
            self.database,
            self.clock,
            build_dispatcher(),
            GatewayConfig(),
            worker=name,
            **options,
        )

    async def scalar(self, stmt: Any) -> Any:
        async with self.database.unit_of_work() as uow:
            return await uow.session.scalar(stmt)

    async def rows(self, stmt: Any) -> list[Any]:
        async with self.database.unit_of_work() as uow:
            return list((await uow.session.execute(stmt)).all())

    async def statuses(self) -> Counter[str]:
        async with self.database.unit_of_work() as uow:
            return Counter(await uow.events.counts())

    async def marks_of(self, user_id: int) -> list[tuple[str, Any]]:
        stmt = (
            select(Mark.kind, Mark.at)
            .join(Employee, Employee.id == Mark.employee_id)
            .where(Employee.bitrix_user_id == user_id)
            .order_by(Mark.at, Mark.id)
        )
        return [(kind, at) for kind, at in await self.rows(stmt)]


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    database, portal_id = await portal_database(database_url)
    try:
        yield World(
            database,
            portal_id,
            FixedClock(MONDAY),
            PortalCache(database),
            InboxWriter(database),
            database_url,
        )
    finally:
        await database.dispose()


async def test_a_received_event_is_visible_to_another_connection_when_intake_returns(
    world: World,
) -> None:
    """Each receive, the moment it returns, is committed (test_inbox_durability kills the
    process right after the answers to prove it), and stored without credentials."""
    observer = Database.from_url(world.database_url)
    try:

        async def receive_then_look(user_id: int) -> tuple[Outcome, int]:
            outcome = await world.receive(user_id, "пришёл")
            async with observer.unit_of_work() as uow:
                seen = await uow.session.scalar(
                    select(func.count())
                    .select_from(ProcessedEvent)
                    .where(ProcessedEvent.person_key == str(user_id))
                )
            return outcome, int(seen or 0)

        results = await asyncio.gather(*(receive_then_look(u) for u in range(100, 140)))
    finally:
        await observer.dispose()
    assert {outcome for outcome, _ in results} == {Outcome.ACCEPTED}
    assert [seen for _, seen in results] == [1] * 40
    assert await world.statuses() == Counter(pending=40)
    # Stored without credentials: verification was their only use.
    payloads = await world.rows(select(ProcessedEvent.payload))
    assert not any("access-" in p or TOKEN in p or "refresh-" in p for (p,) in payloads)


async def test_forged_unknown_and_uninstalled_events_are_refused_and_not_stored(
    world: World,
) -> None:
    assert await world.receive(1, "пришёл", token="forged") is Outcome.FORGED
    assert await world.receive(1, "пришёл", member_id="nobody") is Outcome.UNKNOWN_PORTAL
    async with world.database.unit_of_work() as uow:
        await uow.session.execute(update(Portal).values(status="uninstalled"))
        await uow.commit()
    world.portals.forget(MEMBER)
    assert await world.receive(1, "пришёл") is Outcome.IGNORED
    assert await world.statuses() == Counter()


async def test_a_new_application_token_is_trusted_at_once_and_the_old_one_dropped_after_the_ttl(
    world: World,
) -> None:
    """Another process reinstalled the application: this one's cache still holds the old token."""
    now = [0.0]
    portals = PortalCache(world.database, ttl=10.0, timer=lambda: now[0])
    old = parse_event(message(1, 1, "пришёл"))
    assert (await verified_portal(portals, old))[1] is None
    async with world.database.unit_of_work() as uow:
        await uow.session.execute(update(Portal).values(application_token="new-token"))
        await uow.commit()
    new = parse_event(message(1, 2, "пришёл", token="new-token"))
    assert (await verified_portal(portals, new))[1] is None  # a mismatch reads afresh
    assert (await verified_portal(portals, old))[1] is Outcome.FORGED
    now[0] = 11.0
    assert (await verified_portal(portals, new))[1] is None


async def test_a_person_s_events_apply_in_order_across_two_appliers_with_receipt_times(
    world: World,
) -> None:
    people = range(200, 212)
    async with world.database.unit_of_work() as uow:  # known people, as after a directory sync
        uow.session.add_all(employee_row(world.portal_id, u) for u in people)
        await uow.commit()
    received: dict[int, list[Any]] = {u: [] for u in people}
    # Each person's four events back to back in the queue: two appliers taking the next due
    # event each would take one person's check-in and break at the same time.
    for u in people:
        for text, _ in ACTIONS:
            assert await world.receive(u, text) is Outcome.ACCEPTED
            received[u].append(world.clock.now())
            world.clock.advance(timedelta(seconds=20))
    applied_from = world.clock.advance(timedelta(hours=2))
    # Two appliers with their own connections (two processes' worth), one event per claim.
    databases = [Database.from_url(world.database_url) for _ in range(2)]
    try:
        appliers = [
            InboxApplier(db, world.clock, build_dispatcher(), GatewayConfig(), worker=n, batch=1)
            for db, n in zip(databases, "ab", strict=True)
        ]
        claimed = await asyncio.gather(*(a.drain() for a in appliers))
    finally:
        for db in databases:
            await db.dispose()
    assert sum(claimed) == len(people) * len(ACTIONS)
    assert all(claimed)  # both took part
    assert await world.statuses() == Counter(applied=len(people) * len(ACTIONS))
    for u in people:
        # All four recorded, in order, each at the moment it was received, not applied.
        assert await world.marks_of(u) == list(
            zip([kind for _, kind in ACTIONS], received[u], strict=True)
        )
    applied = await world.rows(select(ProcessedEvent.applied_at, ProcessedEvent.outcome))
    assert {at for at, _ in applied} == {applied_from}
    assert {outcome for _, outcome in applied} == {"accepted"}
    replies = await world.scalar(select(func.count()).select_from(OutboxMessage))
    assert replies == len(people) * len(ACTIONS)


async def test_a_poison_event_is_retried_then_parked_without_blocking_anyone(
    world: World,
) -> None:
    # A user id no integer column holds: storing the person fails every time.
    poison_user = 10**20
    assert await world.receive(poison_user, "пришёл") is Outcome.ACCEPTED
    # An event stored by an older version that this one cannot parse, then the person's next.
    async with world.database.unit_of_work() as uow:
        uow.session.add(
            ProcessedEvent(
                portal_id=world.portal_id,
                event_key="legacy:1",
                person_key="301",
                payload='{"event": "ONIMBOTV2MESSAGEADD", "auth": {"member_id": "x"}}',
                status="pending",
                received_at=world.clock.now(),
            )
        )
        await uow.commit()
    assert await world.receive(301, "пришёл") is Outcome.ACCEPTED
    assert await world.receive(302, "пришёл") is Outcome.ACCEPTED

    applier = world.applier("web", max_attempts=3, retry_base=timedelta(seconds=2))
    await applier.drain()
    # The unparsable one is parked at once and 301's check-in goes on; 302 is not held up.
    assert [k for k, _ in await world.marks_of(301)] == ["check_in"]
    assert [k for k, _ in await world.marks_of(302)] == ["check_in"]
    assert await world.statuses() == Counter(applied=2, dead=1, pending=1)

    for wait in (2, 4):  # the back-off doubles; the third failure parks it
        assert await applier.drain() == 0  # not due yet
        world.clock.advance(timedelta(seconds=wait))
        assert await applier.drain() == 1
    assert await world.statuses() == Counter(applied=2, dead=2)
    dead = await world.rows(
        select(ProcessedEvent.person_key, ProcessedEvent.attempts, ProcessedEvent.payload)
        .where(ProcessedEvent.status == "dead")
        .order_by(ProcessedEvent.id)
    )
    assert [(person, attempts) for person, attempts, _ in dead] == [
        (str(poison_user), 3),
        ("301", 1),
    ]
    assert all(payload for _, _, payload in dead)  # kept for whoever looks into it
    parked = await world.rows(select(AuditEntry.details).where(AuditEntry.action == "event.parked"))
    assert sorted(d["attempts"] for (d,) in parked) == [1, 3]


async def test_the_worker_sweeps_events_a_dead_web_process_left(world: World) -> None:
    # Answered, then the web process died: one event never claimed, one claimed and not done.
    assert await world.receive(401, "пришёл") is Outcome.ACCEPTED
    assert await world.receive(402, "пришёл") is Outcome.ACCEPTED
    received = world.clock.now()
    async with world.database.unit_of_work() as uow:
        claimed = await uow.events.claim(now=received, worker="dead-web", lease=LEASE, limit=1)
        await uow.commit()
    assert [c.person_key for c in claimed] == ["401"]

    settings = Settings(database_url=world.database_url, bitrix_event_mode="webhook")
    container = build_container(settings, clock=world.clock, configure_logs=False)
    try:
        worker = Worker(container)
        world.clock.advance(timedelta(seconds=1))
        assert not await worker.sweep_inbox()  # the web process may still be at it
        world.clock.advance(SWEEP_GRACE)
        assert await worker.sweep_inbox()  # the unclaimed one
        assert await world.marks_of(402) == [("check_in", received)]
        assert await world.marks_of(401) == []  # still leased to the dead process
        world.clock.advance(LEASE)
        assert await worker.sweep_inbox()
        assert await world.marks_of(401) == [("check_in", received)]
        assert not await worker.sweep_inbox()
    finally:
        await container.aclose()
    assert await world.statuses() == Counter(applied=2)


async def test_over_http_duplicates_are_stored_and_applied_once(world: World) -> None:
    settings = Settings(
        database_url=world.database_url,
        public_url="https://timebot.example.com",
        bitrix_event_mode="webhook",
    )
    app = create_app(settings=settings, clock=world.clock)
    body = form(message(501, 9001, "пришёл"))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    with serve_asgi(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            burst = await asyncio.gather(
                *(http.post("/bitrix/events", content=body, headers=headers) for _ in range(6))
            )
            assert {r.status_code for r in burst} == {200}
            results = Counter(r.json()["result"] for r in burst)
            assert results == Counter(accepted=1, duplicate=5)
            for _ in range(200):
                if await world.statuses() == Counter(applied=1):
                    break
                await asyncio.sleep(0.05)
            again = await http.post("/bitrix/events", content=body, headers=headers)
            assert again.json()["result"] == "duplicate"
            forged = await http.post(
                "/bitrix/events",
                content=form(message(501, 9002, "ушёл", token="x")),
                headers=headers,
            )
            assert forged.status_code == 403
    assert await world.statuses() == Counter(applied=1)
    assert await world.marks_of(501) == [("check_in", MONDAY)]
    assert await world.scalar(select(func.count()).select_from(OutboxMessage)) == 1


@pytest.mark.parametrize("where", ["application_token", "text"])
async def test_a_json_event_with_an_unpaired_surrogate_is_refused_with_a_reason(
    world: World, where: str
) -> None:
    """JSON can escape half a UTF-16 pair; such an event can be neither verified nor stored, so
    it gets a 400 that says why (not a 500 or a 503 "retry"), and nothing is stored."""
    settings = Settings(
        database_url=world.database_url,
        public_url="https://timebot.example.com",
        bitrix_event_mode="webhook",
    )
    app = create_app(settings=settings, clock=world.clock)
    good = message(502, 9101, "пришёл")
    bad = message(502, 9102, "пришёл")
    if where == "text":
        bad["data"]["message"]["text"] = "LONE"
    else:
        bad["auth"]["application_token"] = "LONE"
    raw = json.dumps(bad).replace('"LONE"', '"\\ud800x"').encode()
    headers = {"content-type": "application/json"}
    with serve_asgi(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            refused = await http.post("/bitrix/events", content=raw, headers=headers)
            assert refused.status_code == 400
            assert "surrogate" in refused.json()["detail"]
            accepted = await http.post("/bitrix/events", json=good)
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["result"] == "accepted"
    assert await world.scalar(select(func.count()).select_from(ProcessedEvent)) == 1
