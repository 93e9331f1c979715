"""Events that arrive twice, out of order, or not from the portal at all.

Duplicated and reordered: the sandbox holds every bot event back 0–0.6 s (so events of
different people overtake each other) and sends three in ten a second time, unchanged, up to
3 s later — by then the person has usually acted again, so the copy arrives after their next
event. Bitrix24 does not re-send a webhook by itself; a copy is what a proxy retry or an
at-least-once relay produces, and it carries the same message id and `ts`. Our assumption on
order: Bitrix24 may deliver different people's events in any order, but one person's
*distinct* actions arrive in the order they were made (the next button is on the bot's answer
to the previous one); only a repeated copy may come late. Each copy is applied once: no second
mark, no second reply.

Forged: events with a wrong, missing or foreign application token, or naming an unknown
portal (member_id), as forms and as JSON, sent to every serve process, are refused with
401/403 and change nothing in the database.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fleet import SCRIPT, Fleet, overtakes
from timebot.bitrix import parse_form
from timebot.sandbox.phpquery import http_build_query

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STAFF = 30
# Tables the workers' own background chores write to (directory sync, jobs, token refresh).
BACKGROUND_TABLES = {"departments", "employees", "job_runs", "portals"}


async def test_duplicated_and_reordered_events(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(postgres_url, tmp_path / "fleet", serve=3, workers=2, staff=STAFF) as fleet:
        await fleet.set_faults(
            event_jitter=0.6, event_duplicate_rate=0.3, event_replay_delay=3.0, seed=11
        )
        actions = await fleet.people.run(fleet.staff, SCRIPT)
        await fleet.portal.flush()  # the late copies too
        report = await fleet.settle(actions, label="duplicated and reordered events")
        records = [r for r in fleet.ledger.records() if r.key]
        copies = Counter(r.key for r in records)
        late = 0  # copies that came after another event of the same person
        for key, n in copies.items():
            if n > 1:
                same = [r for r in records if r.key == key]
                first, last, user = same[0].seq, same[-1].seq, same[0].user_id
                late += any(
                    r.user_id == user and r.key != key and first < r.seq < last for r in records
                )
        report.extra["order"] = (
            f"{overtakes(actions)} pairs of actions arrived in the other order, "
            f"{sum(n - 1 for n in copies.values())} repeated deliveries, "
            f"{late} copies arrived after the person's next event"
        )
        publish(report.line())
        assert report.problems() == [], report.line() + "\n" + fleet.logs()
        assert report.event_copies > 0
        assert overtakes(actions) > 0
        assert late > 0
        # Every repeated copy was answered 200 and applied once (no second reply above).
        assert all(r.status == 200 for r in records), Counter(r.status for r in records)


def _forge(body: str, **changes: Any) -> dict[str, Any]:
    payload = parse_form(body)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                if key in changes:
                    if changes[key] is None:
                        del node[key]
                    else:
                        node[key] = changes[key]
                else:
                    walk(node[key])

    walk(payload)
    return payload


async def test_forged_events_change_nothing(
    postgres_url: str, tmp_path: Path, publish: Callable[[str], None]
) -> None:
    async with Fleet(postgres_url, tmp_path / "fleet", serve=2, workers=1, staff=STAFF) as fleet:
        honest, target = fleet.staff[:10], fleet.staff[10]
        actions = await fleet.people.run(honest, ("open", "checkin"))
        report = await fleet.settle(actions, label="forged events (honest traffic)")
        assert report.problems() == [], report.line() + "\n" + fleet.logs()
        # A real /checkin of someone who has not checked in yet: the template of the forgeries.
        await fleet.people.act(target, "open")
        sample = next(
            d.body
            for d in reversed(fleet.portal.deliveries)
            if d.event == "ONIMBOTV2COMMANDADD" and d.status == 200
        )
        fresh = {"id": "999999", "text": "/checkin"}
        foreign = secrets.token_hex(16)
        forgeries = {
            "wrong token": _forge(sample, application_token=foreign),
            "no token": _forge(sample, application_token=None),
            "unknown portal": _forge(sample, member_id=secrets.token_hex(16)),
            "unknown portal, its token": _forge(
                sample, member_id=secrets.token_hex(16), application_token=foreign
            ),
        }
        # A new check-in of `target` (a message the portal never saw) with a wrong token.
        new_checkin = _forge(sample, application_token=foreign)
        new_checkin["data"]["message"].update(fresh)
        new_checkin["data"]["user"]["id"] = str(target)
        forgeries["new check-in, wrong token"] = new_checkin
        await asyncio.sleep(2)
        tables = [t for t in await fleet.table_names() if t not in BACKGROUND_TABLES]
        before = {t: await fleet.table_count(t) for t in tables}
        chat_before = fleet.portal.stats.messages_by_bot.get(fleet.bot_id, 0)
        answers: dict[str, list[int]] = {}
        async with httpx.AsyncClient(base_url=fleet.base_url, timeout=30) as client:
            for name, payload in forgeries.items():
                for _ in fleet.serve_procs:  # round-robin: every serve process gets each one
                    form = await client.post(
                        "/bitrix/events",
                        content=http_build_query(payload),
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                    as_json = await client.post(
                        "/bitrix/events",
                        content=json.dumps(payload),
                        headers={"Content-Type": "application/json"},
                    )
                    answers.setdefault(name, []).extend([form.status_code, as_json.status_code])
        await asyncio.sleep(3)  # an applier would have acted by now
        after = {t: await fleet.table_count(t) for t in tables}
        changed = {t: (before[t], after[t]) for t in tables if before[t] != after[t]}
        stored = await fleet.stored_marks()
        chat_after = fleet.portal.stats.messages_by_bot.get(fleet.bot_id, 0)
        statuses = Counter(s for codes in answers.values() for s in codes)
        line = (
            f"[forged events] {sum(statuses.values())} forged events: answers "
            f"{dict(sorted(statuses.items()))}; tables changed {changed or 'none'}; "
            f"marks of the target {sum(n for (u, _), n in stored.items() if u == target)}; "
            f"chat messages {chat_after - chat_before}"
        )
        publish(line)
        assert {n: sorted(set(c)) for n, c in answers.items()} == {
            "wrong token": [403],
            "no token": [403],
            "unknown portal": [401],
            "unknown portal, its token": [401],
            "new check-in, wrong token": [403],
        }, line
        assert changed == {}, line
        assert all(u != target for u, _ in stored), line
        assert chat_after == chat_before, line
