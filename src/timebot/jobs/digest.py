"""The daily digest job: yesterday's violations of a portal's people, to their managers, in the
chat (one message per manager in their private dialog with the bot) and by e-mail.

One run covers one portal and one local date. It reads in a handful of queries (not per
person) the active employees, the org chart, the standing marks around the date, the work plans
and the explanations; `timebot.services.digest` decides who is told what, and
`timebot.reports.digest` words it. Everything is written in one transaction as outbox rows
under the keys `digest:{date}:{manager}:{part}` (chat) and `digest-mail:{date}:{manager}`
(e-mail): the scheduler claims each (portal, date) once, and a forced re-run queues only what
is missing. No REST or SMTP calls here: the dispatchers deliver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import aliased

from timebot.bot.i18n import lang_of
from timebot.bot.people import portal_calendar
from timebot.bot.replies import Reply
from timebot.domain.calendar import ProductionCalendar
from timebot.domain.timezones import local_day_bounds
from timebot.domain.workday import assemble
from timebot.gateway.config import GatewayConfig
from timebot.gateway.mail import Attachment, MailDispatcher, SmtpConfig, enqueue_email
from timebot.jobs.reminders import enqueue_message
from timebot.logs import get_logger
from timebot.reports.digest import XLSX_MIME, digest_chat, digest_email
from timebot.services.digest import (
    DigestRules,
    ManagerDigest,
    PersonDay,
    build_digests,
    digest_window,
    person_day,
)
from timebot.services.plans import WorkPlan, load_plans
from timebot.services.timesheet import load_people
from timebot.services.tracking import OPEN_DAY_LOOKBACK, Person, to_domain
from timebot.storage import Database, UnitOfWork
from timebot.storage.repositories.explanations import ExplanationRepository
from timebot.storage.tables import Employee, Mark, Portal

__all__ = [
    "DigestResult",
    "build_mail_dispatcher",
    "chat_key",
    "collect_digests",
    "email_key",
    "run_digest",
]

if TYPE_CHECKING:
    from timebot.bootstrap import Container

log = get_logger(__name__)


def chat_key(local_date: date, manager_user_id: int, part: int) -> str:
    return f"digest:{local_date.isoformat()}:{manager_user_id}:{part}"


def email_key(local_date: date, manager_user_id: int) -> str:
    return f"digest-mail:{local_date.isoformat()}:{manager_user_id}"


@dataclass
class DigestResult:
    """What one run did (for the job's detail, logs and tests)."""

    portal_id: int
    local_date: date
    people: int = 0
    managers: int = 0  # digests built (managers with something to tell)
    lines: int = 0  # violations listed, over all digests
    messages: int = 0  # chat messages queued now
    emails: int = 0  # e-mails queued now
    skipped: list[str] = field(default_factory=list)

    def detail(self) -> str:
        text = (
            f"{self.local_date.isoformat()}: {self.people} people, {self.managers} digests, "
            f"{self.lines} violations; queued {self.messages} messages, {self.emails} e-mails"
        )
        if self.skipped:
            text += "; " + ", ".join(self.skipped)
        return text


# --- Reading (a few queries per portal) ----------------------------------------------------------


def _standing_marks(
    portal_id: int, employee_ids: Sequence[int], since: datetime, until: datetime
) -> Select[Mark]:
    newer = aliased(Mark)
    return (
        select(Mark)
        .where(
            Mark.portal_id == portal_id,
            Mark.employee_id.in_(list(employee_ids)),
            Mark.at >= since,
            Mark.at < until,
            ~exists().where(newer.supersedes_mark_id == Mark.id),
        )
        .order_by(Mark.employee_id, Mark.at, Mark.id)
    )


async def _marks_of(
    uow: UnitOfWork, portal_id: int, employee_ids: Sequence[int], since: datetime, until: datetime
) -> dict[int, list[Mark]]:
    found: dict[int, list[Mark]] = {}
    for i in range(0, len(employee_ids), 500):
        query = _standing_marks(portal_id, employee_ids[i : i + 500], since, until)
        for row in await uow.session.scalars(query):
            found.setdefault(row.employee_id, []).append(row)
    return found


async def _plans_of(
    uow: UnitOfWork,
    portal: Portal,
    people: Sequence[Person],
    *,
    first: date,
    last: date,
    calendar: ProductionCalendar | None,
) -> dict[int, WorkPlan]:
    """Work plans for [first, last]: assignments and calendar read once, shift rosters per
    person only when the portal uses shift schedules."""
    if not people:
        return {}

    return await load_plans(
        uow,
        portal_id=portal.id,
        people=[(p.employee_id, p.department_ids, p.tz) for p in people],
        start=first,
        end=last,
        calendar=calendar,
    )


async def collect_digests(
    uow: UnitOfWork,
    portal: Portal,
    local_date: date,
    *,
    now: datetime,
    country: str,
    rules: DigestRules,
) -> tuple[list[ManagerDigest], list[PersonDay]]:
    """The managers' digests of `local_date` (judged at `now`) and the people's days."""
    employees = await uow.employees.active(portal.id)
    departments = {d.bitrix_id: d for d in await uow.departments.all(portal.id)}
    if not employees:
        return [], []
    people = await load_people(uow, portal, employees)
    first, last = digest_window(local_date)
    calendar = await portal_calendar(uow, portal, country=country, start=first, end=last)
    plans = await _plans_of(
        uow, portal, list(people.values()), first=first, last=last, calendar=calendar
    )
    since = min(local_day_bounds(first, p.tz)[0] for p in people.values()) - OPEN_DAY_LOOKBACK
    marks = await _marks_of(
        uow, portal.id, [e.id for e in employees], since, now + timedelta(seconds=1)
    )
    explanations = await ExplanationRepository(uow.session).by_employee(
        portal.id, first=first, last=last
    )
    days: list[PersonDay] = []
    for employee in employees:
        person = people[employee.id]
        plan = plans[employee.id]
        rows = marks.get(employee.id, [])
        dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        days.append(
            person_day(
                employee_id=employee.id,
                user_id=employee.bitrix_user_id,
                name=employee.name,
                department_ids=list(employee.department_ids or []),
                local_date=local_date,
                work_days=assemble([to_domain(r) for r in rows], person.tz, now=now).days,
                expectations={d: plan.expected(d, person.tz) for d in dates},
                tz=person.tz,
                now=now,
                calendar=calendar,
                marks=rows,
                explanations=explanations.get(employee.id, []),
            )
        )
    digests = build_digests(
        days, departments, local_date=local_date, send_empty=rules.send_empty, kinds=rules.kinds
    )
    return digests, days


# --- Writing ------------------------------------------------------------------------------------


async def _managers(uow: UnitOfWork, portal_id: int) -> Mapping[int, Employee]:
    return {e.bitrix_user_id: e for e in await uow.employees.all(portal_id)}


async def run_digest(
    database: Database,
    portal_id: int,
    local_date: date,
    *,
    now: datetime,
    config: GatewayConfig,
    email: bool,
) -> DigestResult:
    """Build the digests of `local_date` for one portal and queue them (one transaction).

    `email` says whether e-mail can be sent at all (SMTP is configured); the portal's
    `digest_email` / `digest_chat` settings choose among the channels.
    """
    result = DigestResult(portal_id, local_date)
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        if portal is None or portal.status != "active":
            result.skipped.append("portal not active")
            return result
        rules = DigestRules.from_settings(portal.settings)
        digests, days = await collect_digests(
            uow,
            portal,
            local_date,
            now=now,
            country=config.bot.country,
            rules=rules,
        )
        result.people = len(days)
        result.managers = len(digests)
        result.lines = sum(len(d.lines) for d in digests)
        managers = await _managers(uow, portal_id)
        chat = rules.chat and portal.bot_id is not None
        if rules.chat and portal.bot_id is None:
            result.skipped.append("no bot")
        for digest in digests:
            manager = managers.get(digest.manager_user_id)
            if manager is not None and not manager.active:
                continue
            lang = lang_of(manager.language if manager else None, portal.language)
            if chat:
                for part, message in enumerate(digest_chat(digest, lang)):
                    reply = Reply(
                        str(digest.manager_user_id),
                        message.text,
                        message.keyboard,
                        message.attach,
                    )
                    key = chat_key(local_date, digest.manager_user_id, part)
                    if await enqueue_message(uow, portal, reply, key=key, now=now, config=config):
                        result.messages += 1
            address = (manager.email or "").strip() if manager else ""
            if email and rules.email and address:
                mail = digest_email(digest, lang, manager_name=manager.name if manager else None)
                attachments = (
                    [Attachment(mail.filename, XLSX_MIME, mail.xlsx)]
                    if mail.filename and mail.xlsx
                    else []
                )
                if await enqueue_email(
                    uow,
                    portal_id=portal_id,
                    to=[address],
                    subject=mail.subject,
                    html=mail.html,
                    text=mail.text,
                    attachments=attachments,
                    now=now,
                    dedupe_key=email_key(local_date, digest.manager_user_id),
                ):
                    result.emails += 1
        await uow.commit()
    log.info(
        "digest.queued",
        portal_id=portal_id,
        local_date=local_date.isoformat(),
        managers=result.managers,
        messages=result.messages,
        emails=result.emails,
    )
    return result


def build_mail_dispatcher(container: Container, *, worker: str) -> MailDispatcher | None:
    """The e-mail dispatcher for a worker, None when no SMTP server is configured."""
    s = container.settings
    if s.smtp_url is None:
        return None
    return MailDispatcher(
        container.database,
        container.clock,
        SmtpConfig.from_url(s.smtp_url.get_secret_value(), sender=s.smtp_from),
        worker=worker,
        max_attempts=s.outbox_max_attempts,
        lease=timedelta(seconds=s.outbox_lease_seconds),
    )
