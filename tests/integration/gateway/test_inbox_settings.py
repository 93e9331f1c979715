"""The inbox's lease and attempts come from settings (TIMEBOT_INBOX_LEASE_SECONDS,
TIMEBOT_INBOX_MAX_ATTEMPTS) and reach every applier a process builds."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from tests.integration.gateway.wire import MONDAY, message, portal_database
from timebot.bootstrap import build_container
from timebot.config import Settings
from timebot.domain.clock import FixedClock
from timebot.gateway.inbox import LEASE, MAX_ATTEMPTS
from timebot.gateway.poller import EventPoller
from timebot.jobs.inbox import SWEEP_GRACE, Inbox
from timebot.jobs.worker import Worker
from timebot.storage import Database
from timebot.storage.tables import ProcessedEvent


def test_the_settings_are_read_from_the_environment_and_validated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = Settings()
    assert timedelta(seconds=defaults.inbox_lease_seconds) == LEASE
    assert defaults.inbox_max_attempts == MAX_ATTEMPTS
    monkeypatch.setenv("TIMEBOT_INBOX_LEASE_SECONDS", "7.5")
    monkeypatch.setenv("TIMEBOT_INBOX_MAX_ATTEMPTS", "2")
    settings = Settings()
    assert (settings.inbox_lease_seconds, settings.inbox_max_attempts) == (7.5, 2)
    for name, value in [
        ("TIMEBOT_INBOX_LEASE_SECONDS", "0"),
        ("TIMEBOT_INBOX_LEASE_SECONDS", "-1"),
        ("TIMEBOT_INBOX_LEASE_SECONDS", "inf"),
        ("TIMEBOT_INBOX_LEASE_SECONDS", "soon"),
        ("TIMEBOT_INBOX_MAX_ATTEMPTS", "0"),
        ("TIMEBOT_INBOX_MAX_ATTEMPTS", "2.5"),
    ]:
        with monkeypatch.context() as env:
            env.setenv(name, value)
            with pytest.raises(ValidationError, match=name.removeprefix("TIMEBOT_").lower()):
                Settings()


async def test_every_applier_of_a_process_takes_them_and_the_worker_parks_after_them(
    database_url: str,
) -> None:
    database, portal_id = await portal_database(database_url)
    clock = FixedClock(MONDAY)
    settings = Settings(
        database_url=database_url,
        bitrix_event_mode="webhook",
        inbox_lease_seconds=7,
        inbox_max_attempts=2,
    )
    container = build_container(settings, clock=clock, configure_logs=False)
    try:
        worker = Worker(container)
        inbox = Inbox(container)
        poller = EventPoller(
            container.database, container.bitrix, clock, container.dispatcher, container.gateway
        )
        for applier in (worker.inbox, inbox.applier, poller.applier):
            assert applier.lease == timedelta(seconds=7)
            assert applier.max_attempts == 2

        # A user id no integer column holds: every claim fails, and the second one parks it.
        async with database.unit_of_work() as uow:
            uow.session.add(
                ProcessedEvent(
                    portal_id=portal_id,
                    event_key="poison:1",
                    person_key="1",
                    payload=json.dumps(message(10**20, 1, "пришёл")),
                    status="pending",
                    received_at=clock.now(),
                )
            )
            await uow.commit()
        clock.advance(SWEEP_GRACE + timedelta(seconds=1))
        assert await worker.sweep_inbox()
        assert await _status(database) == ("pending", 1)
        clock.advance(timedelta(minutes=1))  # past the back-off
        assert await worker.sweep_inbox()
        assert await _status(database) == ("dead", 2)  # not the default 5
    finally:
        await container.aclose()
        await database.dispose()


async def _status(database: Database) -> tuple[str, int]:
    async with database.unit_of_work() as uow:
        row = (
            await uow.session.execute(select(ProcessedEvent.status, ProcessedEvent.attempts))
        ).one()
    return str(row.status), int(row.attempts)
