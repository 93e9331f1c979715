"""The reminders job: check-in and check-out reminders, and the provisional close of forgotten
days (rules and defaults: `timebot.services.reminders`).

Every run, per active portal with a bot, a scan reads in a handful of queries (not per person)
who could be due: the active employees, each one's last standing mark in the look-back window,
the marks of those with an open day, the "still working" answers, the office zones and the
work plans. Only the people with something due get their own transaction, which locks the
employee row, re-reads their day, decides again and writes: the reminder as an outbox row (and,
for a close, the check-out mark) under the dedupe key `remind:{kind}:{employee}:{local date}`.
The key is unique per portal, so however many workers run the job at once, each reminder and
close happens once; a loser's transaction is rolled back whole. No REST calls: the outbox
dispatcher delivers later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import aliased

from timebot.bitrix import send_message_params
from timebot.bot.i18n import lang_of
from timebot.bot.people import person_for, plan_for, portal_calendar
from timebot.bot.reminders import (
    auto_closed_message,
    checkin_reminder,
    checkout_reminder,
    confirmations_of,
)
from timebot.bot.replies import Reply
from timebot.domain.clock import Clock
from timebot.domain.marks import MarkKind
from timebot.domain.timezones import local_day_bounds
from timebot.gateway.config import GatewayConfig
from timebot.logs import get_logger
from timebot.services.plans import WorkPlan, load_plans
from timebot.services.reminders import AUTO_CLOSED_FLAG, Due, ReminderKind, ReminderRules, due
from timebot.services.timesheet import load_people
from timebot.services.tracking import (
    OPEN_DAY_LOOKBACK,
    Person,
    Recorded,
    day_view,
    record_mark,
    view_of,
)
from timebot.storage import Database, UnitOfWork
from timebot.storage.repositories.people import EmployeeRepository
from timebot.storage.tables import Employee, Mark, OutboxMessage, Portal

log = get_logger(__name__)

REMINDERS_INTERVAL_SECONDS = 30.0


@dataclass
class ReminderStats:
    """What one run did (for logs and tests)."""

    portals: int = 0
    candidates: int = 0  # people whose day was looked at closely
    done: dict[str, int] = field(default_factory=dict)  # reminder kind → how many sent

    def add(self, kind: ReminderKind) -> None:
        self.done[kind.value] = self.done.get(kind.value, 0) + 1


class _LastMark(NamedTuple):
    kind: str
    at: datetime


# --- Sending ----------------------------------------------------------------------------------


async def enqueue_message(
    uow: UnitOfWork,
    portal: Portal,
    reply: Reply,
    *,
    key: str,
    now: datetime,
    config: GatewayConfig,
) -> bool:
    """Queue one bot message under `key`; False when that key was queued before (as
    `gateway.replies.enqueue_replies` does, but with the caller's key)."""
    if portal.bot_id is None:
        return False
    method, params = send_message_params(
        "v2",
        portal.bot_id,
        reply.dialog_id,
        reply.text,
        keyboard=reply.keyboard,
        attach=reply.attach,
        bot_token=portal.bot_token if portal.connection == "webhook" else None,
        client_id=config.client_id if portal.connection == "oauth" else None,
        message_id_key=key,
    )
    return await uow.outbox.enqueue(
        portal_id=portal.id,
        kind="message",
        method=method,
        payload={"params": params},
        now=now,
        dedupe_key=key[:191],
    )


# --- The scan: who could be due (a few queries per portal) -------------------------------------


def _standing() -> ColumnElement[bool]:
    newer = aliased(Mark)
    return ~exists().where(newer.supersedes_mark_id == Mark.id)


async def _last_marks(
    uow: UnitOfWork, portal_id: int, since: datetime, until: datetime
) -> dict[int, _LastMark]:
    """Each employee's latest standing mark in [since, until): one query (a window function)."""
    ranked = (
        select(
            Mark.employee_id,
            Mark.kind,
            Mark.at,
            func.row_number()
            .over(partition_by=Mark.employee_id, order_by=(Mark.at.desc(), Mark.id.desc()))
            .label("rn"),
        )
        .where(Mark.portal_id == portal_id, Mark.at >= since, Mark.at < until, _standing())
        .subquery()
    )
    query = select(ranked.c.employee_id, ranked.c.kind, ranked.c.at).where(ranked.c.rn == 1)
    return {
        int(eid): _LastMark(str(kind), at) for eid, kind, at in (await uow.session.execute(query))
    }


async def _marks_of(
    uow: UnitOfWork, portal_id: int, employee_ids: Sequence[int], since: datetime, until: datetime
) -> dict[int, list[Mark]]:
    """Standing marks of several employees in [since, until), in time order: one query."""
    found: dict[int, list[Mark]] = {}
    if not employee_ids:
        return found
    query = (
        select(Mark)
        .where(
            Mark.portal_id == portal_id,
            Mark.employee_id.in_(list(employee_ids)),
            Mark.at >= since,
            Mark.at < until,
            _standing(),
        )
        .order_by(Mark.employee_id, Mark.at, Mark.id)
    )
    for row in await uow.session.scalars(query):
        found.setdefault(row.employee_id, []).append(row)
    return found


async def plans_of(
    uow: UnitOfWork, portal: Portal, people: Sequence[Person], *, now: datetime, country: str
) -> dict[int, WorkPlan]:
    """Work plans for many people: the portal's assignments and calendar are read once; only
    shift rosters are personal (read per person when the portal uses shift schedules)."""
    if not people:
        return {}
    first_day = (now - OPEN_DAY_LOOKBACK).date() - timedelta(days=1)
    last_day = now.date() + timedelta(days=1)
    calendar = await portal_calendar(uow, portal, country=country, start=first_day, end=last_day)

    return await load_plans(
        uow,
        portal_id=portal.id,
        people=[(p.employee_id, p.department_ids, p.tz) for p in people],
        start=first_day,
        end=last_day,
        calendar=calendar,
    )


async def _already_queued(uow: UnitOfWork, portal_id: int, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        chunk = list(keys[i : i + 500])
        rows = await uow.session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.portal_id == portal_id, OutboxMessage.dedupe_key.in_(chunk)
            )
        )
        found.update(k for k in rows if k)
    return found


async def scan_portal(
    database: Database, portal_id: int, *, now: datetime, country: str
) -> list[tuple[int, Due]]:
    """Who of the portal's active employees has a reminder or close due now, not yet sent."""
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        if portal is None or portal.status != "active" or portal.bot_id is None:
            return []
        rules = ReminderRules.from_settings(portal.settings)
        if not rules.any:
            return []
        employees = await EmployeeRepository(uow.session).active(portal_id)
        if not employees:
            return []
        since, until = now - OPEN_DAY_LOOKBACK, now + timedelta(seconds=1)
        last = await _last_marks(uow, portal_id, since, until)
        people = await load_people(uow, portal, employees)
        open_ids: list[int] = []
        candidates: list[int] = []
        for e in employees:
            mark = last.get(e.id)
            if mark is not None and mark.kind != MarkKind.CHECK_OUT.value:
                open_ids.append(e.id)
                candidates.append(e.id)
            elif rules.remind_checkin_after_minutes is not None:
                tz = people[e.id].tz
                midnight = local_day_bounds(now.astimezone(tz).date(), tz)[0]
                if mark is None or mark.at < midnight:
                    candidates.append(e.id)
        if not candidates:
            return []
        marks = await _marks_of(uow, portal_id, open_ids, since, until)
        answers = (
            await confirmations_of(uow, portal_id, since=since, employee_ids=open_ids)
            if open_ids
            else {}
        )
        plans = await plans_of(
            uow, portal, [people[i] for i in candidates], now=now, country=country
        )
        found: list[tuple[int, Due]] = []
        for eid in candidates:
            view = view_of(marks.get(eid, []), people[eid], plans[eid], now)
            d = due(view, rules, answers.get(eid, ()))
            if d is not None:
                found.append((eid, d))
        if not found:
            return []
        queued = await _already_queued(uow, portal_id, [d.dedupe_key(eid) for eid, d in found])
        return [(eid, d) for eid, d in found if d.dedupe_key(eid) not in queued]


# --- Acting on one person (own transaction) ---------------------------------------------------


async def remind_one(
    database: Database, portal_id: int, employee_id: int, *, clock: Clock, config: GatewayConfig
) -> ReminderKind | None:
    """Decide again for one person under a lock on their row, and send or close; returns what
    was done (None: nothing was due any more, or another worker did it)."""
    async with database.unit_of_work() as uow:
        employee = (
            await uow.session.scalars(
                select(Employee)
                .where(Employee.id == employee_id)
                .with_for_update(key_share=True)
                .execution_options(populate_existing=True)
            )
        ).one_or_none()
        portal = await uow.portals.get(portal_id)
        if employee is None or not employee.active or portal is None or portal.bot_id is None:
            return None
        now = clock.now()
        person = await person_for(uow, portal, employee)
        today = now.astimezone(person.tz).date()
        plan = await plan_for(
            uow,
            portal,
            person,
            start=today - timedelta(days=3),
            end=today,
            country=config.bot.country,
        )
        view = await day_view(uow, person, plan=plan, now=now)
        rules = ReminderRules.from_settings(portal.settings)
        answers = await confirmations_of(
            uow, portal_id, since=now - OPEN_DAY_LOOKBACK, employee_ids=[employee_id]
        )
        d = due(view, rules, answers.get(employee_id, ()))
        if d is None:
            return None
        lang = lang_of(employee.language, portal.language)
        if d.kind is ReminderKind.AUTO_CLOSE:
            assert d.close_at is not None
            result = await record_mark(
                uow,
                person,
                MarkKind.CHECK_OUT,
                plan=plan,
                now=now,
                at=d.close_at,
                provisional=True,
                source="auto_close",
                flags=[AUTO_CLOSED_FLAG],
            )
            if not isinstance(result, Recorded):
                return None
            uow.audit.record(
                portal_id=portal_id,
                at=now,
                actor="system",
                action="mark.auto_closed",
                entity="mark",
                entity_id=result.mark_id,
                details={"employee_id": employee_id, "local_date": d.local_date.isoformat()},
            )
            text, keyboard = auto_closed_message(result, lang)
        elif d.kind is ReminderKind.CHECK_OUT:
            text, keyboard = checkout_reminder(view, d, lang)
        else:
            text, keyboard = checkin_reminder(d, lang)
        reply = Reply(str(employee.bitrix_user_id), text, keyboard)
        key = d.dedupe_key(employee_id)
        if not await enqueue_message(uow, portal, reply, key=key, now=now, config=config):
            return None  # sent by another worker: roll back whatever was written here
        await uow.commit()
    log.info("reminders.sent", kind=d.kind.value, employee_id=employee_id, key=key)
    return d.kind


async def run_reminders(
    database: Database, *, clock: Clock, config: GatewayConfig
) -> ReminderStats:
    """One pass over every active portal; a failing portal or person is logged and skipped."""
    stats = ReminderStats()
    async with database.unit_of_work() as uow:
        portal_ids = [p.id for p in await uow.portals.active() if p.bot_id is not None]
    for portal_id in portal_ids:
        stats.portals += 1
        try:
            found = await scan_portal(
                database, portal_id, now=clock.now(), country=config.bot.country
            )
        except Exception:
            log.exception("reminders.scan_failed", portal_id=portal_id)
            continue
        stats.candidates += len(found)
        for employee_id, _ in found:
            try:
                done = await remind_one(
                    database, portal_id, employee_id, clock=clock, config=config
                )
            except Exception:
                log.exception("reminders.failed", portal_id=portal_id, employee_id=employee_id)
                continue
            if done is not None:
                stats.add(done)
    return stats
