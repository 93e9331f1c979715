"""`timebot inbox list` and `timebot inbox revive` as an operator runs them, on both databases:
a dead event is found, revived (audited), and then applied by a real applier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.integration.gateway.wire import DOMAIN, MONDAY, message, portal_database
from tests.support.rows import portal_row
from timebot.bot.app import build_dispatcher
from timebot.cli import app
from timebot.domain.clock import FixedClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.inbox import InboxApplier
from timebot.storage.tables import AuditEntry, Employee, Mark, ProcessedEvent

TIMEBOT = [sys.executable, "-m", "timebot.cli"]


def run(args: list[str], db: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
    return subprocess.run(
        [*TIMEBOT, "inbox", *args],
        capture_output=True,
        text=True,
        env={**clean, "TIMEBOT_DATABASE_URL": db, "TIMEBOT_LOG_LEVEL": "WARNING"},
        timeout=120,
    )


def event_row(portal_id: int, key: str, payload: dict[str, Any], **fields: Any) -> ProcessedEvent:
    return ProcessedEvent(
        portal_id=portal_id,
        event_key=key,
        person_key=str(payload["auth"]["user_id"]),
        source="webhook",
        payload=json.dumps(payload),
        received_at=MONDAY,
        **fields,
    )


async def test_dead_events_are_listed_revived_and_then_applied(database_url: str) -> None:
    database, portal_a = await portal_database(database_url)
    try:
        async with database.unit_of_work() as uow:
            other = portal_row(member_id="m2")
            uow.portals.add(other)
            await uow.flush()
            # Failed while the database was away (the cause is gone now): dead, payload kept.
            dead = event_row(
                portal_a,
                "a:1",
                message(301, 1, "пришёл"),
                status="dead",
                attempts=5,
                last_error="OperationalError: database is locked",
            )
            applied = event_row(
                portal_a, "a:2", message(302, 2, "пришёл"), status="applied", attempts=1
            )
            foreign = event_row(
                other.id,
                "b:1",
                message(401, 3, "пришёл"),
                status="dead",
                attempts=5,
                last_error="KeyError: 'b-only'",
            )
            uow.session.add_all([dead, applied, foreign])
            await uow.commit()
            ids = dead.id, applied.id, foreign.id

        listed = run(["list", "--status", "dead"], database_url)
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0] == "applied=1  dead=2"
        assert [line.split()[0] for line in lines[1:]] == [f"#{ids[2]}", f"#{ids[0]}"]
        assert f"#{ids[0]} {DOMAIN} dead ONIMBOTV2MESSAGEADD person=301 attempts=5" in lines[2]
        assert lines[2].endswith("OperationalError: database is locked")
        assert "m2.bitrix24.ru" in lines[1]

        mine = run(["list", "--portal", f"https://{DOMAIN}/"], database_url)
        assert mine.returncode == 0, mine.stderr
        assert mine.stdout.splitlines()[0] == "applied=1  dead=1"
        assert "b-only" not in mine.stdout
        assert f"#{ids[1]} {DOMAIN} applied" in mine.stdout

        nowhere = run(["list", "--portal", "nowhere.bitrix24.ru"], database_url)
        assert nowhere.returncode == 2, nowhere.stderr
        assert "no portal 'nowhere.bitrix24.ru'" in nowhere.stderr

        # One dead, one not: the dead one is revived, the other named, the exit code says so.
        revived = run(["revive", str(ids[0]), str(ids[1])], database_url)
        assert revived.returncode == 1, revived.stderr
        assert revived.stdout.strip() == f"1 event(s) queued again: #{ids[0]}"
        assert f"not dead (or no such event): #{ids[1]}" in revived.stderr
        async with database.unit_of_work() as uow:
            row = await uow.session.get(ProcessedEvent, ids[0])
            assert row is not None
            assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, None)
            audited = (
                await uow.session.execute(
                    select(AuditEntry.portal_id, AuditEntry.action, AuditEntry.entity_id)
                )
            ).all()
        assert [tuple(a) for a in audited] == [(portal_a, "event.revived", str(ids[0]))]

        # The revived event is applied as if it had just come in: the person's check-in, at
        # the time it was received.
        clock = FixedClock(MONDAY + timedelta(hours=1))
        applier = InboxApplier(database, clock, build_dispatcher(), GatewayConfig(), worker="w")
        assert await applier.drain() == 1
        async with database.unit_of_work() as uow:
            marks = (
                await uow.session.execute(
                    select(Employee.bitrix_user_id, Mark.kind, Mark.at).join(
                        Employee, Employee.id == Mark.employee_id
                    )
                )
            ).all()
        assert [tuple(m) for m in marks] == [(301, "check_in", MONDAY)]

        everything = run(["revive", "--all-dead", "--portal", "m2.bitrix24.ru"], database_url)
        assert everything.returncode == 0, everything.stderr
        assert everything.stdout.strip() == f"1 event(s) queued again: #{ids[2]}"
        again = run(["revive", "--all-dead"], database_url)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == "0 event(s) queued again"
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["list", "--status", "gone"], "--status is one of pending, applied, dead"),
        (["list", "--limit", "0"], "--limit"),
        (["revive"], "name the events' ids, or pass --all-dead"),
        (["revive", "7", "--all-dead"], "(not both)"),
        (["revive", "7", "--portal", DOMAIN], "--portal goes with --all-dead"),
        (["revive", "seven"], "unable to parse string as an integer"),
    ],
)
def test_bad_arguments_are_refused_before_the_database_is_touched(
    args: list[str], complaint: str
) -> None:
    result = CliRunner().invoke(app, ["inbox", *args])
    assert result.exit_code == 2, result.output
    assert complaint in " ".join(result.stderr.replace("│", " ").split())
