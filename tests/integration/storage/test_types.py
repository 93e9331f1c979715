"""UtcDateTime and JSON columns behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from timebot.storage.database import Database
from timebot.storage.tables import Mark, OutboxMessage, Portal
from timebot.storage.types import NaiveDatetimeError

from .rows import NOW, new_employee, new_mark, new_portal


async def _stored_at(database: Database, at: datetime) -> datetime:
    async with database.unit_of_work() as uow:
        portal = new_portal("acme")
        uow.session.add(portal)
        await uow.flush()
        employee = new_employee(portal.id)
        uow.session.add(employee)
        await uow.flush()
        uow.session.add(new_mark(portal.id, employee.id, at=at))
        await uow.commit()
    async with database.unit_of_work() as uow:
        stored = await uow.session.scalar(sa.select(Mark.at))
    assert stored is not None
    return stored


async def test_an_aware_utc_datetime_comes_back_aware_and_equal(database: Database) -> None:
    at = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=UTC)
    stored = await _stored_at(database, at)
    assert stored == at
    assert stored.tzinfo is UTC


async def test_other_zones_are_stored_as_the_same_instant_in_utc(database: Database) -> None:
    moscow = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    stored = await _stored_at(database, moscow)
    assert stored == moscow
    assert stored.utcoffset() == timedelta(0)
    assert (stored.hour, stored.minute) == (6, 0)


async def test_utc_instants_compare_in_sql_as_in_python(database: Database) -> None:
    async with database.unit_of_work() as uow:
        portal = new_portal("acme")
        uow.session.add(portal)
        await uow.flush()
        employee = new_employee(portal.id)
        uow.session.add(employee)
        await uow.flush()
        # 08:30 in Yekaterinburg (UTC+5) is 03:30 UTC, earlier than 09:00 UTC.
        early = datetime(2026, 11, 20, 8, 30, tzinfo=timezone(timedelta(hours=5)))
        uow.session.add_all(
            [new_mark(portal.id, employee.id, at=NOW), new_mark(portal.id, employee.id, at=early)]
        )
        await uow.commit()
    async with database.unit_of_work() as uow:
        before = await uow.session.scalars(
            sa.select(Mark.at).where(Mark.at < datetime(2026, 11, 20, 5, 0, tzinfo=UTC))
        )
        assert list(before) == [early]


async def test_a_naive_datetime_is_refused(database: Database) -> None:
    async with database.unit_of_work() as uow:
        portal = new_portal("acme")
        portal.installed_at = datetime(2026, 11, 20, 9, 0)  # noqa: DTZ001 (the point of the test)
        uow.session.add(portal)
        with pytest.raises(StatementError) as raised:
            await uow.flush()
    assert isinstance(raised.value.orig, NaiveDatetimeError)


async def test_a_naive_datetime_is_refused_in_a_where_clause_too(database: Database) -> None:
    naive = datetime(2026, 11, 20, 9, 0)  # noqa: DTZ001
    async with database.unit_of_work() as uow:
        with pytest.raises(StatementError) as raised:
            await uow.session.execute(sa.select(Portal.id).where(Portal.installed_at < naive))
    assert isinstance(raised.value.orig, NaiveDatetimeError)


async def test_json_documents_round_trip_and_none_is_sql_null(database: Database) -> None:
    payload = {"dialogId": "15", "fields": {"message": "Привет", "keyboard": [1, 2.5, True]}}
    async with database.unit_of_work() as uow:
        portal = new_portal("acme")
        uow.session.add(portal)
        await uow.flush()
        uow.session.add(
            OutboxMessage(
                portal_id=portal.id,
                kind="message",
                method="imbot.v2.Chat.Message.send",
                payload=payload,
                result=None,
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
        await uow.commit()
    async with database.unit_of_work() as uow:
        row = (
            await uow.session.execute(sa.select(OutboxMessage.payload, OutboxMessage.result))
        ).one()
        null_results = await uow.session.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.result.is_(None))
        )
        settings = await uow.session.scalar(sa.select(Portal.settings))
    assert row.payload == payload
    assert row.result is None
    assert null_results == 1
    assert settings == {}
