"""The daily digest job on real SQLite and PostgreSQL: yesterday's marks, plans, explanations
and org chart in; one chat message per manager (ATTACH grid + buttons) and one e-mail per
manager with an address out, as outbox rows; the e-mail delivered to a real SMTP server
(aiosmtpd), its HTML table and XLSX attachment read back; SMTP failures retried."""

from __future__ import annotations

import email
import io
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from openpyxl import load_workbook
from sqlalchemy import select, update

from tests.support.rows import (
    department_row,
    employee_row,
    flushed,
    mark_row,
    migrated_with,
    portal_row,
)
from tests.support.servers import free_port
from timebot.domain.clock import FixedClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.mail import MailDispatcher, SmtpConfig
from timebot.jobs.digest import run_digest
from timebot.storage import Database
from timebot.storage.tables import Explanation, Mark, OutboxMessage, Portal

MSK = ZoneInfo("Europe/Moscow")
MONDAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # Tuesday 09:00 in Moscow
CONFIG = GatewayConfig()
SENDER = "timebot@romashka.example"
IGOR_MAIL = "igor.petrov@romashka.example"


def msk(hhmm: str, d: date = MONDAY) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(d.year, d.month, d.day, h, m, tzinfo=MSK).astimezone(UTC)


# --- A real SMTP server --------------------------------------------------------------------------


class Collector:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = [bytes(e.original_content) for e in self.envelopes]
        parsed = [email.message_from_bytes(r, policy=default_policy) for r in raw]
        assert all(isinstance(m, EmailMessage) for m in parsed)
        return parsed  # type: ignore[return-value]


@dataclass
class Smtp:
    port: int
    collector: Collector
    controller: Controller | None = None

    @property
    def config(self) -> SmtpConfig:
        return SmtpConfig.from_url(
            f"smtp://127.0.0.1:{self.port}?starttls=0&timeout=5", sender=SENDER
        )

    def start(self) -> None:
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp(free_port(), Collector())
    try:
        yield server
    finally:
        server.stop()


# --- The company -------------------------------------------------------------------------------


@dataclass
class World:
    db: Database
    portal_id: int
    ids: dict[int, int]  # Bitrix user id → employee id

    async def settings(self, **values: Any) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.session.execute(
                update(Portal).where(Portal.id == self.portal_id).values(settings=values)
            )
            await uow.commit()

    async def digest(self, now: datetime = NOW, *, mail: bool = True) -> Any:
        return await run_digest(self.db, self.portal_id, MONDAY, now=now, config=CONFIG, email=mail)

    async def outbox(self) -> dict[str, OutboxMessage]:
        async with self.db.unit_of_work() as uow:
            rows = list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            uow.session.expunge_all()
        return {r.dedupe_key or "": r for r in rows}


PEOPLE = [
    # Bitrix id, name, department, e-mail, language
    (1, "Анна Смирнова", 1, None, "en"),
    (2, "Игорь Петров", 2, IGOR_MAIL, None),
    (3, "Мария Иванова", 2, "maria@romashka.example", None),
    (4, "Дмитрий Кузнецов", 2, None, None),
    (5, "Елена Соколова", 2, None, None),
    (8, "Сергей Козлов", 2, None, None),
    (10, "Павел Морозов", 2, None, None),
]


def mark(
    employee_id: int,
    portal_id: int,
    kind: str,
    at: datetime,
    *,
    verdict: str | None = "inside",
    distance: float | None = None,
    flags: list[str] | None = None,
    provisional: bool = False,
) -> Mark:
    return mark_row(
        portal_id,
        employee_id,
        kind,
        at,
        location_verdict=verdict,
        distance_m=distance,
        flags=flags or [],
        provisional=provisional,
    )


def ordinary(employee_id: int, portal_id: int, start: str, end: str, **kw: Any) -> list[Mark]:
    return [
        mark(employee_id, portal_id, "check_in", msk(start), **kw),
        mark(employee_id, portal_id, "break_start", msk("13:00")),
        mark(employee_id, portal_id, "break_end", msk("14:00")),
        mark(employee_id, portal_id, "check_out", msk(end)),
    ]


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db, pid = await migrated_with(database_url, portal_row(member_id="romashka", bot_id=77))
    async with db.unit_of_work() as uow:
        for bitrix_id, name, parent, head in ((1, "Ромашка", None, 1), (2, "Продажи", 1, 2)):
            uow.departments.add(department_row(pid, bitrix_id, name=name, parent=parent, head=head))
        ids = {}
        for uid, name, dept, address, lang in PEOPLE:
            e = employee_row(pid, uid, name=name, departments=[dept], language=lang, email=address)
            ids[uid] = (await flushed(uow, e)).id
        rows: list[Mark] = []
        rows += ordinary(ids[2], pid, "09:00", "18:00", verdict="outside", distance=350.4)
        rows += ordinary(ids[3], pid, "09:22", "18:22")  # late
        rows += [  # the reminders job closed a forgotten day
            mark(ids[8], pid, "check_in", msk("09:00")),
            mark(
                ids[8],
                pid,
                "check_out",
                msk("18:00"),
                verdict=None,
                flags=["auto_closed"],
                provisional=True,
            ),
        ]
        rows += ordinary(ids[10], pid, "09:00", "18:00")  # a clean day
        # Дмитрий (4) and Елена (5) did not come; Елена's reason was accepted.
        for row in rows:
            uow.marks.add(row)
        for uid, reason, status in ((4, "болел", "answered"), (5, "отгул", "accepted")):
            uow.session.add(
                Explanation(
                    portal_id=pid,
                    employee_id=ids[uid],
                    local_date=MONDAY,
                    violation_kind="absent",
                    reason=reason,
                    requested_at=NOW,
                    status=status,
                )
            )
        await uow.commit()
    try:
        yield World(db, pid, ids)
    finally:
        await db.dispose()


def grid(params: dict[str, Any]) -> list[tuple[str, str]]:
    [block] = params["fields"]["attach"]["BLOCKS"]
    return [(row["NAME"], row["VALUE"]) for row in block["GRID"]]


def commands(params: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (b["TEXT"], b["COMMAND"], b.get("COMMAND_PARAMS", ""))
        for b in params["fields"]["keyboard"]["BUTTONS"]
        if b.get("COMMAND")
    ]


# --- Tests -------------------------------------------------------------------------------------


async def test_each_manager_gets_one_message_with_the_grid_and_buttons(world: World) -> None:
    result = await world.digest()
    assert (result.people, result.managers, result.lines) == (7, 2, 4)
    assert (result.messages, result.emails) == (2, 1)
    rows = await world.outbox()
    assert sorted(rows) == [
        "digest-mail:2026-11-23:2",
        "digest:2026-11-23:1:0",
        "digest:2026-11-23:2:0",
    ]
    to_igor = rows["digest:2026-11-23:2:0"].payload["params"]
    assert to_igor["dialogId"] == "2"
    assert to_igor["botId"] == 77
    text = to_igor["fields"]["message"]
    assert "[b]Нарушения за Пн 23.11.2026[/b]" in text
    assert "С нарушениями: 3 из 5 сотрудников. Ещё 1 — с уважительной причиной." in text
    assert grid(to_igor) == [
        (
            "Дмитрий Кузнецов",
            "[b]Отсутствие[/b] — не отметился в рабочий день"
            "[br][i]объяснение: «болел» — ждёт решения[/i]",
        ),
        ("Мария Иванова", "[b]Опоздание[/b] — пришёл в 09:22, допуск до 09:10"),
        ("Сергей Козлов", "[b]День закрыт автоматически[/b] — день закрыт автоматически в 18:00"),
    ]
    assert commands(to_igor) == [
        ("Запросить объяснение: Дмитрий Кузнецов", "explain",
         f"{world.ids[4]}:2026-11-23:absent"),
        ("Запросить объяснение: Мария Иванова", "explain",
         f"{world.ids[3]}:2026-11-23:late_start"),
        ("Запросить объяснение: Сергей Козлов", "explain",
         f"{world.ids[8]}:2026-11-23:provisional_close"),
    ]  # fmt: skip
    # The head of sales is reported to the head of the parent department, in her language.
    to_anna = rows["digest:2026-11-23:1:0"].payload["params"]
    assert to_anna["dialogId"] == "1"
    assert "[b]Violations on Mon 23 Nov 2026[/b]" in to_anna["fields"]["message"]
    assert grid(to_anna) == [
        (
            "Игорь Петров",
            "[b]Outside the geofence[/b] — mark at 09:00 outside the office zone (350 m)",
        )
    ]
    assert all(r.kind == "message" for k, r in rows.items() if k.startswith("digest:"))
    mail = rows["digest-mail:2026-11-23:2"]
    assert (mail.kind, mail.method, mail.status) == ("email", "smtp.send", "pending")
    assert mail.payload["params"]["to"] == [IGOR_MAIL]


async def test_running_again_queues_nothing_new(world: World) -> None:
    await world.digest()
    before = await world.outbox()
    again = await world.digest(NOW + timedelta(hours=1))
    assert (again.managers, again.messages, again.emails) == (2, 0, 0)
    assert (await world.outbox()).keys() == before.keys()


async def test_channels_follow_the_portal_settings(world: World) -> None:
    await world.settings(digest_chat=False)
    first = await world.digest()
    assert (first.messages, first.emails) == (0, 1)
    assert list(await world.outbox()) == ["digest-mail:2026-11-23:2"]
    await world.settings(digest_email=False, digest_kinds=["late_start"])
    second = await world.digest()
    assert (second.managers, second.lines, second.messages, second.emails) == (1, 1, 1, 0)
    assert list(await world.outbox())[-1] == "digest:2026-11-23:2:0"
    # Without SMTP settings nothing goes by e-mail whatever the portal says.
    async with world.db.unit_of_work() as uow:
        await uow.session.execute(OutboxMessage.__table__.delete())
        await uow.commit()
    await world.settings()
    assert (await world.digest(mail=False)).emails == 0


async def test_an_empty_day_sends_nothing_unless_the_portal_wants_it(world: World) -> None:
    sunday = MONDAY - timedelta(days=1)  # a day off: nobody worked, nobody had to
    result = await run_digest(world.db, world.portal_id, sunday, now=NOW, config=CONFIG, email=True)
    assert (result.managers, result.messages, result.emails) == (0, 0, 0)
    assert await world.outbox() == {}
    await world.settings(digest_send_empty=True)
    result = await run_digest(world.db, world.portal_id, sunday, now=NOW, config=CONFIG, email=True)
    assert (result.managers, result.messages, result.emails) == (2, 2, 1)
    rows = await world.outbox()
    to_igor = rows["digest:2026-11-22:2:0"].payload["params"]["fields"]
    assert to_igor["message"] == "За Вс 22.11.2026 нарушений нет (сотрудников: 5)."
    assert "attach" not in to_igor
    assert rows["digest-mail:2026-11-22:2"].payload["params"]["attachments"] == []


async def test_the_email_reaches_a_real_smtp_server(world: World, smtp: Smtp) -> None:
    smtp.start()
    await world.digest()
    clock = FixedClock(NOW)
    mailer = MailDispatcher(world.db, clock, smtp.config, worker="mail-1")
    assert await mailer.dispatch_once() == 1
    assert await mailer.dispatch_once() == 0
    [message] = smtp.collector.messages()
    assert message["To"] == IGOR_MAIL
    assert message["From"] == SENDER
    assert message["Subject"] == "timebot: нарушения за Пн 23.11.2026"
    body = message.get_body(("html",))
    assert body is not None
    html = body.get_content()
    assert "Здравствуйте, Игорь Петров!" in html
    assert '<td style="border:1px solid #ddd;">пришёл в 09:22, допуск до 09:10</td>' in html
    assert "объяснение: «болел» — ждёт решения" in html
    plain = message.get_body(("plain",))
    assert plain is not None
    assert "Мария Иванова — Опоздание: пришёл в 09:22, допуск до 09:10" in plain.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "нарушения-2026-11-23.xlsx"
    assert attachment.get_content_type() == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(attachment.get_content())).active
    cells = [[c.value for c in row] for row in sheet.iter_rows(values_only=False)]
    assert cells[0] == ["Дата", "Сотрудник", "Нарушение", "Подробности", "Минут", "Объяснение"]
    assert [row[1:5] for row in cells[1:]] == [
        ["Дмитрий Кузнецов", "Отсутствие", "не отметился в рабочий день", 480],
        ["Мария Иванова", "Опоздание", "пришёл в 09:22, допуск до 09:10", 22],
        ["Сергей Козлов", "День закрыт автоматически", "день закрыт автоматически в 18:00", 540],
    ]
    assert cells[1][5] == "объяснение: «болел» — ждёт решения"
    rows = await world.outbox()
    sent = rows["digest-mail:2026-11-23:2"]
    assert (sent.status, sent.attempts, sent.locked_by) == ("sent", 1, "mail-1")
    assert sent.result is not None
    assert "250" in str(sent.result["smtp"]) or "accepted" in str(sent.result["smtp"])
    # The mail dispatcher leaves chat messages to the Bitrix24 dispatcher.
    assert {rows[k].status for k in rows if k.startswith("digest:")} == {"pending"}


async def test_smtp_failures_are_retried_with_back_off(world: World, smtp: Smtp) -> None:
    await world.digest()
    clock = FixedClock(NOW)
    mailer = MailDispatcher(world.db, clock, smtp.config, worker="mail-1", max_attempts=3)
    assert await mailer.dispatch_once() == 1  # the server is not there yet
    row = (await world.outbox())["digest-mail:2026-11-23:2"]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert "SMTPConnect" in row.last_error
    assert row.next_attempt_at == NOW + timedelta(seconds=2)
    assert await mailer.dispatch_once() == 0  # not due yet
    smtp.start()
    clock.advance(timedelta(seconds=2))
    assert await mailer.dispatch_once() == 1
    row = (await world.outbox())["digest-mail:2026-11-23:2"]
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(smtp.collector.messages()) == 1


def test_smtp_urls() -> None:
    plain = SmtpConfig.from_url("smtp://mail.example:2525", sender="a@b")
    assert (plain.host, plain.port, plain.username, plain.start_tls, plain.use_tls) == (
        "mail.example", 2525, None, None, False
    )  # fmt: skip
    tls = SmtpConfig.from_url("smtp://u%40x:p%3Aw@mail.example?starttls=1", sender="a@b")
    assert (tls.port, tls.username, tls.password, tls.start_tls) == (25, "u@x", "p:w", True)
    implicit = SmtpConfig.from_url("smtps://u:p@mail.example", sender="a@b")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    with pytest.raises(ValueError, match="smtp://"):
        SmtpConfig.from_url("http://mail.example", sender="a@b")


async def test_a_stalled_dispatcher_does_not_send_a_row_taken_over(
    world: World, smtp: Smtp
) -> None:
    smtp.start()
    await world.digest()
    clock = FixedClock(NOW)
    lease = timedelta(seconds=30)
    stalled = MailDispatcher(world.db, clock, smtp.config, worker="stalled", lease=lease)
    healthy = MailDispatcher(world.db, clock, smtp.config, worker="healthy", lease=lease)
    [(row_id, _, _)] = await stalled.claim()
    assert await healthy.dispatch_once() == 0  # leased to the other one
    clock.advance(lease + timedelta(seconds=1))
    assert await healthy.dispatch_once() == 1
    assert not await stalled.renew(row_id)
    assert len(smtp.collector.messages()) == 1
    assert (await world.outbox())["digest-mail:2026-11-23:2"].locked_by == "healthy"
