"""The digest in words: chat messages (ATTACH grid and "request an explanation" buttons), the
HTML e-mail and its XLSX workbook, in Russian and English."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from timebot.domain.violations import Violation, ViolationKind
from timebot.reports.digest import (
    EXPLAIN_COMMAND,
    PEOPLE_PER_MESSAGE,
    ChatPart,
    digest_chat,
    digest_email,
    digest_xlsx,
)
from timebot.services.digest import DigestLine, ManagerDigest, Note

MSK = ZoneInfo("Europe/Moscow")
MONDAY = date(2026, 11, 23)


def msk(hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, 23, h, m, tzinfo=MSK)


LATE = Violation(
    ViolationKind.LATE_START,
    MONDAY,
    22,
    actual=msk("09:22"),
    expected=msk("09:00"),
    allowed=msk("09:15"),
)
SHORT = Violation(
    ViolationKind.SHORT_DAY,
    MONDAY,
    45,
    worked=timedelta(hours=7, minutes=15),
    required=timedelta(hours=8),
)
ABSENT = Violation(ViolationKind.ABSENT, MONDAY, 480, required=timedelta(hours=8))
SUSPICIOUS = Violation(
    ViolationKind.SUSPICIOUS_LOCATION,
    MONDAY,
    0,
    actual=msk("09:01"),
    detail="uncertain,zero_accuracy",
)


def digest(*lines: DigestLine, people: int = 5, excused: int = 0) -> ManagerDigest:
    return ManagerDigest(2, MONDAY, tuple(lines), people=people, excused=excused)


SAMPLE = digest(
    DigestLine(110, 3, "Мария Иванова", LATE, Note("requested")),
    DigestLine(110, 3, "Мария Иванова", SHORT),
    DigestLine(111, 4, "Дмитрий Кузнецов", ABSENT, Note("answered", "болел, справка будет")),
    excused=1,
)


def buttons(part: ChatPart) -> list[dict[str, str]]:
    assert part.keyboard is not None
    return [b for b in (x.to_wire() for x in part.keyboard.buttons) if b.get("COMMAND")]


def test_chat_message_has_a_grid_row_per_violation_and_a_button_per_person() -> None:
    [part] = digest_chat(SAMPLE)
    assert part.text.startswith("[b]Нарушения за Пн 23.11.2026[/b][br]")
    assert "С нарушениями: 2 из 5 сотрудников. Ещё 1 — с уважительной причиной." in part.text
    assert part.attach is not None
    [grid] = [block["GRID"] for block in part.attach.to_wire()["BLOCKS"]]
    assert [row["NAME"] for row in grid] == ["Мария Иванова", "", "Дмитрий Кузнецов"]
    values = [row["VALUE"] for row in grid]
    assert values[0] == (
        "[b]Опоздание[/b] — пришёл в 09:22, допуск до 09:15[br][i]объяснение запрошено[/i]"
    )
    assert values[1] == "[b]Недоработка[/b] — отработано 7:15 из 8:00"
    assert values[2] == (
        "[b]Отсутствие[/b] — не отметился в рабочий день"
        "[br][i]объяснение: «болел, справка будет» — ждёт решения[/i]"
    )
    # One button per person; it asks about the first violation nobody was asked about yet.
    assert [(b["TEXT"], b["COMMAND"], b["COMMAND_PARAMS"]) for b in buttons(part)] == [
        ("Запросить объяснение: Мария Иванова", EXPLAIN_COMMAND, "110:2026-11-23:short_day"),
        ("Запросить объяснение: Дмитрий Кузнецов", EXPLAIN_COMMAND, "111:2026-11-23:absent"),
    ]


def test_chat_escapes_what_people_wrote() -> None:
    sneaky = digest(DigestLine(1, 9, "Boss", ABSENT, Note("answered", "[url=x]y[/url]")))
    [part] = digest_chat(sneaky)
    assert part.attach is not None
    [row] = part.attach.to_wire()["BLOCKS"][0]["GRID"]
    assert "[url=x]" not in row["VALUE"]
    assert "«[\u200burl=x]y[\u200b/url]»" in row["VALUE"]


def test_suspicious_location_flags_are_put_in_words() -> None:
    [part] = digest_chat(digest(DigestLine(1, 9, "Павел", SUSPICIOUS)))
    assert part.attach is not None
    [row] = part.attach.to_wire()["BLOCKS"][0]["GRID"]
    assert row["VALUE"] == (
        "[b]Подозрительная геопозиция[/b] — подозрительное местоположение в 09:01: "
        "место не подтверждено, нулевая точность"
    )
    [english] = digest_chat(digest(DigestLine(1, 9, "Pavel", SUSPICIOUS)), "en")
    assert english.attach is not None
    assert english.attach.to_wire()["BLOCKS"][0]["GRID"][0]["VALUE"] == (
        "[b]Suspicious location[/b] — suspicious location at 09:01: "
        "location not confirmed, zero accuracy"
    )


def test_many_people_are_split_over_several_messages() -> None:
    lines = [DigestLine(i, 100 + i, f"Person {i:02d}", ABSENT) for i in range(45)]
    parts = digest_chat(digest(*lines, people=60))
    assert len(parts) == 3
    assert "(часть 1 из 3)" in parts[0].text
    assert "(часть 3 из 3)" in parts[2].text
    assert [len(buttons(p)) for p in parts] == [PEOPLE_PER_MESSAGE, PEOPLE_PER_MESSAGE, 5]
    assert buttons(parts[2])[-1]["COMMAND_PARAMS"] == "44:2026-11-23:absent"


def test_an_empty_digest_is_one_plain_line() -> None:
    [part] = digest_chat(digest(people=4))
    assert part.text == "За Пн 23.11.2026 нарушений нет (сотрудников: 4)."
    assert part.attach is None
    assert part.keyboard is None


def test_english_chat() -> None:
    [part] = digest_chat(SAMPLE, "en")
    assert part.text.startswith("[b]Violations on Mon 23 Nov 2026[/b]")
    assert buttons(part)[0]["TEXT"] == "Ask for an explanation: Мария Иванова"


class Cells(HTMLParser):
    """The text of every <td> and <th> of the violations table, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_email_html_has_the_same_table_and_escapes() -> None:
    evil = DigestLine(112, 5, "<script>alert(1)</script>", ABSENT)
    mail = digest_email(
        ManagerDigest(2, MONDAY, (*SAMPLE.lines, evil), people=5), manager_name="Игорь Петров"
    )
    assert mail.subject == "timebot: нарушения за Пн 23.11.2026"
    assert "Здравствуйте, Игорь Петров!" in mail.html
    assert "<script>" not in mail.html
    parser = Cells()
    parser.feed(mail.html)
    assert parser.rows == [
        ["Дата", "Сотрудник", "Нарушение", "Подробности", "Объяснение"],
        [
            "23.11.2026",
            "Мария Иванова",
            "Опоздание",
            "пришёл в 09:22, допуск до 09:15",
            "объяснение запрошено",
        ],
        ["23.11.2026", "Мария Иванова", "Недоработка", "отработано 7:15 из 8:00", ""],
        [
            "23.11.2026",
            "Дмитрий Кузнецов",
            "Отсутствие",
            "не отметился в рабочий день",
            "объяснение: «болел, справка будет» — ждёт решения",
        ],
        [
            "23.11.2026",
            "<script>alert(1)</script>",
            "Отсутствие",
            "не отметился в рабочий день",
            "",
        ],
    ]
    assert "Мария Иванова — Опоздание: пришёл в 09:22, допуск до 09:15" in mail.text
    assert mail.filename == "нарушения-2026-11-23.xlsx"
    assert mail.xlsx is not None


def test_workbook_cells() -> None:
    sheet = load_workbook(io.BytesIO(digest_xlsx(SAMPLE))).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Дата", "Сотрудник", "Нарушение", "Подробности", "Минут", "Объяснение"]
    assert rows[1] == [
        datetime(2026, 11, 23),  # noqa: DTZ001 (spreadsheet dates have no zone)
        "Мария Иванова",
        "Опоздание",
        "пришёл в 09:22, допуск до 09:15",
        22,
        "объяснение запрошено",
    ]
    assert rows[3][1:5] == ["Дмитрий Кузнецов", "Отсутствие", "не отметился в рабочий день", 480]
    assert len(rows) == 4
    assert sheet.title == "Нарушения"
    assert sheet.freeze_panes == "A2"


def test_empty_email_has_no_attachment() -> None:
    mail = digest_email(digest(people=3), "en")
    assert mail.subject == "timebot: no violations on Mon 23 Nov 2026"
    assert mail.filename is None
    assert mail.xlsx is None
    assert "No violations on Mon 23 Nov 2026 (3 people)." in mail.html
    assert "Hello!" in mail.text
