"""The managers' daily digest rendered three ways: chat messages (an ATTACH grid person |
violation + explanation, with a "request an explanation" button per person), an HTML e-mail
(Jinja2 template `templates/digest_email.html`) and an XLSX workbook attached to it.

ATTACH blocks accept only a few BB-codes, so times are written in each person's zone (the
violations carry them already).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Final

from jinja2 import Environment, PackageLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from timebot.bitrix import Attach, GridRow, Keyboard
from timebot.bitrix.bbcode import BB, bold, escape
from timebot.domain.violations import Violation, ViolationKind, explain
from timebot.reports.week import MONTHS_EN, WEEKDAYS, Lang
from timebot.services.digest import DigestLine, ManagerDigest, Note

__all__ = [
    "EXPLAIN_COMMAND",
    "PEOPLE_PER_MESSAGE",
    "XLSX_MIME",
    "ChatPart",
    "DigestEmail",
    "DigestRow",
    "digest_chat",
    "digest_email",
    "digest_rows",
    "digest_xlsx",
    "explain_params",
    "kind_label",
]

EXPLAIN_COMMAND: Final = "explain"
# People per chat message: keeps the keyboard (one button each) and the ATTACH small.
PEOPLE_PER_MESSAGE: Final = 20
NAME_WIDTH: Final = 160
XLSX_MIME: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

KIND_LABELS: Final[dict[ViolationKind, tuple[str, str]]] = {
    ViolationKind.LATE_START: ("Опоздание", "Late start"),
    ViolationKind.EARLY_LEAVE: ("Ранний уход", "Early leave"),
    ViolationKind.SHORT_DAY: ("Недоработка", "Short day"),
    ViolationKind.ABSENT: ("Отсутствие", "Absence"),
    ViolationKind.OUTSIDE_GEOFENCE: ("Вне офиса", "Outside the geofence"),
    ViolationKind.SUSPICIOUS_LOCATION: ("Подозрительная геопозиция", "Suspicious location"),
    ViolationKind.FORGOTTEN_CHECKOUT: ("Не отметил уход", "No check-out"),
    ViolationKind.PROVISIONAL_CLOSE: ("День закрыт автоматически", "Closed automatically"),
    ViolationKind.OVERTIME: ("Переработка", "Overtime"),
}
FLAG_LABELS: Final[dict[str, tuple[str, str]]] = {
    "uncertain": ("место не подтверждено", "location not confirmed"),
    "implausible_speed": ("неправдоподобная скорость", "implausible speed"),
    "repeated_coordinates": ("координаты повторяются", "repeated coordinates"),
    "zero_accuracy": ("нулевая точность", "zero accuracy"),
    "implausible_accuracy": ("неправдоподобная точность", "implausible accuracy"),
    "device_clock_skew": ("часы телефона расходятся", "device clock skew"),
    "ip_outside_office_networks": ("IP не из сети офиса", "IP outside the office networks"),
}
TEXTS: Final[dict[str, tuple[str, str]]] = {
    "title": ("Нарушения за {day}", "Violations on {day}"),
    "summary": (
        "С нарушениями: {bad} из {people} сотрудников.",
        "With violations: {bad} of {people} people.",
    ),
    "excused": ("Ещё {n} — с уважительной причиной.", "{n} more excused."),
    "nothing": (
        "За {day} нарушений нет (сотрудников: {people}).",
        "No violations on {day} ({people} people).",
    ),
    "part": (" (часть {i} из {n})", " (part {i} of {n})"),
    "request": ("Запросить объяснение: {name}", "Ask for an explanation: {name}"),
    "requested": ("объяснение запрошено", "explanation requested"),
    "answered": ("объяснение: «{reason}» — ждёт решения", "explanation: “{reason}”, pending"),
    "rejected": ("объяснение отклонено", "explanation rejected"),
    "rejected_reason": ("объяснение отклонено: «{reason}»", "explanation rejected: “{reason}”"),
    "subject": ("timebot: нарушения за {day}", "timebot: violations on {day}"),
    "subject_empty": ("timebot: нарушений за {day} нет", "timebot: no violations on {day}"),
    "greeting": ("Здравствуйте, {name}!", "Hello, {name}!"),
    "greeting_anon": ("Здравствуйте!", "Hello!"),
    "intro": (
        "Сводка нарушений рабочего времени ваших сотрудников за {day}.",
        "Your team's working-time violations on {day}.",
    ),
    "attached": (
        "Таблица во вложении: {file}.",
        "The table is attached: {file}.",
    ),
    "footer": (
        "Письмо отправлено timebot. Запросить объяснение можно в чате с ботом.",
        "Sent by timebot. You can ask for explanations in the chat with the bot.",
    ),
    "col_date": ("Дата", "Date"),
    "col_person": ("Сотрудник", "Person"),
    "col_violation": ("Нарушение", "Violation"),
    "col_details": ("Подробности", "Details"),
    "col_minutes": ("Минут", "Minutes"),
    "col_explanation": ("Объяснение", "Explanation"),
    "sheet": ("Нарушения", "Violations"),
    "file": ("нарушения-{date}.xlsx", "violations-{date}.xlsx"),
}


def _i(lang: Lang) -> int:
    return 1 if lang == "en" else 0


def _t(key: str, lang: Lang, **values: object) -> str:
    return TEXTS[key][_i(lang)].format(**values)


def kind_label(kind: ViolationKind, lang: Lang = "ru") -> str:
    """ "Опоздание" / "Late start"."""
    return KIND_LABELS[kind][_i(lang)]


def day_title(d: date, lang: Lang = "ru") -> str:
    """ "Пн 23.11.2026" / "Mon 23 Nov 2026"."""
    weekday = WEEKDAYS[lang][d.weekday()]
    if lang == "en":
        return f"{weekday} {d.day} {MONTHS_EN[d.month - 1]} {d.year}"
    return f"{weekday} {d:%d.%m.%Y}"


def _localized(v: Violation, lang: Lang) -> Violation:
    # Suspicious locations carry flag codes as their detail: put them in words.
    if v.kind is not ViolationKind.SUSPICIOUS_LOCATION or not v.detail:
        return v
    words = [FLAG_LABELS.get(code, (code, code))[_i(lang)] for code in v.detail.split(",")]
    return replace(v, detail=", ".join(words))


def details(v: Violation, lang: Lang = "ru") -> str:
    """What happened, in words: "пришёл в 09:22, допуск до 09:15"."""
    return explain(_localized(v, lang), lang)


def note_text(note: Note | None, lang: Lang = "ru") -> str:
    """The person's explanation as it stands, "" when none was asked for."""
    if note is None:
        return ""
    if note.status == "answered" and note.reason:
        return _t("answered", lang, reason=note.reason)
    if note.status == "rejected":
        if note.reason:
            return _t("rejected_reason", lang, reason=note.reason)
        return _t("rejected", lang)
    return _t("requested", lang)


def explain_params(line: DigestLine) -> str:
    """The "explain" button's parameters: "<employee_id>:<date>:<kind>"."""
    v = line.violation
    return f"{line.employee_id}:{v.local_date.isoformat()}:{v.kind.value}"


@dataclass(frozen=True, slots=True)
class DigestRow:
    """One table row, the same in the chat, the e-mail and the workbook."""

    local_date: date
    employee_id: int
    person: str
    kind: ViolationKind
    violation: str
    details: str
    minutes: int
    explanation: str


def digest_rows(digest: ManagerDigest, lang: Lang = "ru") -> list[DigestRow]:
    return [
        DigestRow(
            local_date=line.violation.local_date,
            employee_id=line.employee_id,
            person=line.name,
            kind=line.violation.kind,
            violation=kind_label(line.violation.kind, lang),
            details=details(line.violation, lang),
            minutes=line.violation.minutes,
            explanation=note_text(line.note, lang),
        )
        for line in digest.lines
    ]


# --- Chat --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatPart:
    """One chat message of a digest: BB-code text, the grid, the buttons."""

    text: BB
    attach: Attach | None
    keyboard: Keyboard | None


def _button_line(lines: Sequence[DigestLine]) -> DigestLine:
    # Ask about the first violation nobody has asked about yet (else the first one).
    fresh = [line for line in lines if line.note is None or line.note.status == "rejected"]
    return (fresh or list(lines))[0]


def _cell(line: DigestLine, lang: Lang) -> BB:
    value = BB(bold(kind_label(line.violation.kind, lang)) + escape(" — ")) + escape(
        details(line.violation, lang)
    )
    note = note_text(line.note, lang)
    if note:
        value = BB(value + BB("[br]") + BB("[i]") + escape(note) + BB("[/i]"))
    return BB(value)


def digest_chat(digest: ManagerDigest, lang: Lang = "ru") -> list[ChatPart]:
    """The digest as chat messages: a summary line, then the grid of people and violations
    (`PEOPLE_PER_MESSAGE` people per message) with one "request an explanation" button each."""
    day = day_title(digest.local_date, lang)
    if digest.empty:
        return [ChatPart(escape(_t("nothing", lang, day=day, people=digest.people)), None, None)]
    groups = digest.by_person()
    chunks = [groups[i : i + PEOPLE_PER_MESSAGE] for i in range(0, len(groups), PEOPLE_PER_MESSAGE)]
    summary = _t("summary", lang, bad=digest.people_with_violations, people=digest.people)
    if digest.excused:
        summary += " " + _t("excused", lang, n=digest.excused)
    parts = []
    for index, chunk in enumerate(chunks, start=1):
        title = _t("title", lang, day=day)
        if len(chunks) > 1:
            title += _t("part", lang, i=index, n=len(chunks))
        rows: list[GridRow] = []
        keyboard = Keyboard()
        for first, lines in chunk:
            for n, line in enumerate(lines):
                rows.append(
                    GridRow(
                        first.name if n == 0 else "",
                        _cell(line, lang),
                        width=NAME_WIDTH,
                        color="alert" if n == 0 else None,
                    )
                )
            if keyboard:
                keyboard = keyboard.newline()
            keyboard = keyboard.command(
                _t("request", lang, name=first.name),
                EXPLAIN_COMMAND,
                explain_params(_button_line(lines)),
            )
        text = BB(bold(title) + BB("[br]") + escape(summary))
        attach = Attach(color="alert").grid(rows)
        parts.append(ChatPart(text, attach, keyboard))
    return parts


# --- E-mail ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestEmail:
    subject: str
    html: str
    text: str
    filename: str | None  # the XLSX attachment's name (None: nothing attached)
    xlsx: bytes | None


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("timebot.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _headers(lang: Lang) -> list[str]:
    keys = ("col_date", "col_person", "col_violation", "col_details", "col_explanation")
    return [_t(k, lang) for k in keys]


def digest_xlsx(digest: ManagerDigest, lang: Lang = "ru") -> bytes:
    """The digest as a workbook: one sheet, a header row, a row per violation."""
    wb = Workbook()
    ws = wb.active
    ws.title = _t("sheet", lang)
    headers = [
        _t("col_date", lang),
        _t("col_person", lang),
        _t("col_violation", lang),
        _t("col_details", lang),
        _t("col_minutes", lang),
        _t("col_explanation", lang),
    ]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="F2F2F2")
    for row in digest_rows(digest, lang):
        ws.append(
            [row.local_date, row.person, row.violation, row.details, row.minutes, row.explanation]
        )
    for cell in ws["A"][1:]:
        cell.number_format = "DD.MM.YYYY" if lang == "ru" else "YYYY-MM-DD"
    for letter, width in zip("ABCDEF", (12, 28, 26, 48, 9, 40), strict=True):
        ws.column_dimensions[letter].width = width
    for row_cells in ws.iter_rows(min_row=2):
        for cell in row_cells:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def digest_email(
    digest: ManagerDigest, lang: Lang = "ru", *, manager_name: str | None = None
) -> DigestEmail:
    """The digest as an e-mail: subject, HTML (the same table as the chat), a plain-text
    alternative and the XLSX workbook (not attached to an empty digest)."""
    day = day_title(digest.local_date, lang)
    rows = digest_rows(digest, lang)
    filename = _t("file", lang, date=digest.local_date.isoformat())
    summary = _t("summary", lang, bad=digest.people_with_violations, people=digest.people)
    if digest.excused:
        summary += " " + _t("excused", lang, n=digest.excused)
    greeting = (
        _t("greeting", lang, name=manager_name) if manager_name else _t("greeting_anon", lang)
    )
    intro = _t("intro", lang, day=day)
    nothing = _t("nothing", lang, day=day, people=digest.people)
    attached = _t("attached", lang, file=filename)
    footer = _t("footer", lang)
    context: dict[str, object] = {
        "lang": lang,
        "title": _t("title", lang, day=day),
        "greeting": greeting,
        "intro": intro,
        "summary": summary,
        "nothing": nothing,
        "empty": digest.empty,
        "headers": _headers(lang),
        "rows": rows,
        "attached": attached,
        "footer": footer,
    }
    html = _templates().get_template("digest_email.html").render(**context)
    lines = [greeting, "", intro, ""]
    if digest.empty:
        lines.append(nothing)
    else:
        lines.append(summary)
        lines.append("")
        for row in rows:
            text = f"{row.person} — {row.violation}: {row.details}"
            if row.explanation:
                text += f" ({row.explanation})"
            lines.append(text)
        lines += ["", attached]
    lines += ["", footer]
    subject_key = "subject_empty" if digest.empty else "subject"
    return DigestEmail(
        subject=_t(subject_key, lang, day=day),
        html=html,
        text="\n".join(lines) + "\n",
        filename=None if digest.empty else filename,
        xlsx=None if digest.empty else digest_xlsx(digest, lang),
    )
