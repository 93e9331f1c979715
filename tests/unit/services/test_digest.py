"""Building the managers' daily digest: which violations a day yields (from the schedule, the
marks' presence verdicts and the explanations), who receives them (department head, or the
parent's head for a head), and that an empty digest is not built unless asked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from timebot.domain.marks import Mark, MarkKind
from timebot.domain.violations import ViolationKind, explain
from timebot.domain.workday import assemble_work_days
from timebot.services.digest import (
    DigestRules,
    Note,
    PersonDay,
    build_digests,
    digest_window,
    location_findings,
    person_day,
)
from timebot.services.plans import DEFAULT_DEFINITION, parse_definition
from timebot.storage.tables import Department

MSK = ZoneInfo("Europe/Moscow")
MONDAY = date(2026, 11, 23)
SUNDAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # Tuesday 09:00 in Moscow
SCHEDULE = parse_definition("fixed", DEFAULT_DEFINITION, late=15, early=10)


def msk(d: date, hhmm: str) -> datetime:
    return datetime.combine(d, time.fromisoformat(hhmm), tzinfo=MSK)


@dataclass
class StoredMark:
    """The fields of a stored mark the digest reads."""

    id: int
    kind: MarkKind
    at: datetime
    provisional: bool = False
    location_verdict: str | None = None
    distance_m: float | None = None
    flags: list[Any] = field(default_factory=list)


@dataclass
class StoredExplanation:
    local_date: date
    violation_kind: str
    status: str
    reason: str | None = None


def marks_of_day(
    d: date,
    start: str,
    end: str | None,
    *,
    lunch: bool = True,
    first_id: int = 1,
    **extra: Any,
) -> list[StoredMark]:
    marks = [StoredMark(first_id, MarkKind.CHECK_IN, msk(d, start), **extra)]
    if lunch:
        marks.append(StoredMark(first_id + 1, MarkKind.BREAK_START, msk(d, "13:00")))
        marks.append(StoredMark(first_id + 2, MarkKind.BREAK_END, msk(d, "14:00")))
    if end is not None:
        marks.append(StoredMark(first_id + 3, MarkKind.CHECK_OUT, msk(d, end)))
    return marks


def judge(
    marks: list[StoredMark],
    *,
    d: date = MONDAY,
    explanations: tuple[StoredExplanation, ...] = (),
    now: datetime = NOW,
) -> PersonDay:
    domain = [Mark(m.kind, m.at, id=m.id, provisional=m.provisional) for m in marks]
    first, last = digest_window(d)
    dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return person_day(
        employee_id=10,
        user_id=3,
        name="Мария Иванова",
        department_ids=[2],
        local_date=d,
        work_days=assemble_work_days(domain, MSK, now=now),
        expectations={x: SCHEDULE.expected_for(x, MSK, None) for x in dates},
        tz=MSK,
        now=now,
        marks=marks,
        explanations=explanations,
    )


def kinds(day: PersonDay) -> list[ViolationKind]:
    return [v.kind for v in day.violations]


# --- Which violations ----------------------------------------------------------------------------


def test_an_ordinary_day_has_no_violations() -> None:
    # The default schedule allows no overtime and no short day: exactly 8 h net is ordinary.
    assert judge(marks_of_day(MONDAY, "09:00", "18:00")).violations == ()


def test_late_start_is_explained_with_the_times() -> None:
    day = judge(marks_of_day(MONDAY, "09:22", "18:22"))
    assert kinds(day) == [ViolationKind.LATE_START]
    late = day.violations[0]
    assert late.minutes == 22
    assert explain(late) == "пришёл в 09:22, допуск до 09:15"
    assert explain(late, "en") == "arrived at 09:22, tolerance until 09:15"


def test_early_leave_and_short_day_together() -> None:
    day = judge(marks_of_day(MONDAY, "09:00", "16:00"))
    assert kinds(day) == [ViolationKind.EARLY_LEAVE, ViolationKind.SHORT_DAY]
    assert explain(day.violations[0]) == "ушёл в 16:00, допуск с 17:50"
    assert explain(day.violations[1]) == "отработано 6:00 из 8:00"


def test_absence_on_a_working_day_but_not_on_a_weekend() -> None:
    assert kinds(judge([])) == [ViolationKind.ABSENT]
    sunday_now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert judge([], d=SUNDAY, now=sunday_now).violations == ()


def test_the_previous_and_next_days_are_not_reported() -> None:
    # Work on Sunday (a day off) and a Tuesday still in progress: only Monday is judged.
    sunday = marks_of_day(SUNDAY, "10:00", "12:00", lunch=False, first_id=20)
    monday = marks_of_day(MONDAY, "09:00", "18:00", first_id=1)
    tuesday = [StoredMark(30, MarkKind.CHECK_IN, msk(MONDAY + timedelta(days=1), "08:50"))]
    day = judge(sunday + monday + tuesday)
    assert day.violations == ()
    previous = judge(sunday + monday, d=SUNDAY)
    assert kinds(previous) == [ViolationKind.OVERTIME]
    assert explain(previous.violations[0]) == "работа в выходной по графику: 2:00"


def test_overtime_when_the_break_is_not_marked() -> None:
    day = judge(marks_of_day(MONDAY, "09:00", "19:30", lunch=False))
    assert kinds(day) == [ViolationKind.OVERTIME]
    assert explain(day.violations[0]) == "переработка 2:30: отработано 10:30 из 8:00"


def test_forgotten_checkout_when_the_day_is_still_open() -> None:
    day = judge(marks_of_day(MONDAY, "09:00", None))
    assert kinds(day) == [ViolationKind.FORGOTTEN_CHECKOUT]
    assert explain(day.violations[0]) == "не отметил уход, день открыт с 09:00"


def test_an_automatically_closed_day_is_a_provisional_close() -> None:
    marks = marks_of_day(MONDAY, "09:00", None)
    marks.append(
        StoredMark(9, MarkKind.CHECK_OUT, msk(MONDAY, "18:00"), True, flags=["auto_closed"])
    )
    day = judge(marks)
    assert kinds(day) == [ViolationKind.PROVISIONAL_CLOSE]
    assert explain(day.violations[0]) == "день закрыт автоматически в 18:00"


def test_location_verdicts_and_flags_become_findings() -> None:
    marks = [
        StoredMark(1, MarkKind.CHECK_IN, msk(MONDAY, "09:00"), location_verdict="inside"),
        StoredMark(2, MarkKind.CHECK_IN, msk(MONDAY, "09:01"), location_verdict="outside",
                   distance_m=412.4),
        StoredMark(3, MarkKind.CHECK_IN, msk(MONDAY, "09:02"), location_verdict="inside",
                   flags=["zero_accuracy", "auto_closed", "device_clock_skew"]),
        StoredMark(4, MarkKind.CHECK_IN, msk(MONDAY, "09:03"), location_verdict="uncertain"),
        StoredMark(5, MarkKind.CHECK_IN, msk(MONDAY, "09:04"), location_verdict="remote"),
    ]  # fmt: skip
    found = location_findings(marks)
    assert [(f.kind, f.mark_id, f.distance_m, f.detail) for f in found] == [
        (ViolationKind.OUTSIDE_GEOFENCE, 2, 412.4, None),
        (ViolationKind.SUSPICIOUS_LOCATION, 3, None, "zero_accuracy,device_clock_skew"),
        (ViolationKind.SUSPICIOUS_LOCATION, 4, None, "uncertain"),
    ]


def test_outside_the_geofence_is_reported_on_its_day() -> None:
    marks = marks_of_day(MONDAY, "09:05", "18:05", location_verdict="outside", distance_m=250.0)
    day = judge(marks)
    assert kinds(day) == [ViolationKind.OUTSIDE_GEOFENCE]
    assert explain(day.violations[0]) == "отметка в 09:05 вне зоны офиса (250 м)"


def test_an_accepted_explanation_excuses_only_its_kind() -> None:
    accepted = StoredExplanation(MONDAY, "late_start", "accepted", "пробка на МКАД")
    day = judge(marks_of_day(MONDAY, "09:40", "16:00"), explanations=(accepted,))
    by_kind = {v.kind: v for v in day.violations}
    assert by_kind[ViolationKind.LATE_START].excused_by == "пробка на МКАД"
    assert by_kind[ViolationKind.EARLY_LEAVE].excused_by is None


def test_pending_explanations_become_notes() -> None:
    answered = StoredExplanation(MONDAY, "late_start", "answered", " врач ")
    other_day = StoredExplanation(SUNDAY, "absent", "requested")
    day = judge(marks_of_day(MONDAY, "09:40", "18:40"), explanations=(answered, other_day))
    assert day.notes == {ViolationKind.LATE_START: Note("answered", "врач")}
    assert day.violations[0].excused_by is None


# --- Who receives what ---------------------------------------------------------------------------


def department(bitrix_id: int, parent: int | None, head: int | None) -> Department:
    return Department(
        portal_id=1,
        bitrix_id=bitrix_id,
        name=f"D{bitrix_id}",
        parent_bitrix_id=parent,
        head_user_id=head,
        synced_at=NOW,
    )


# 1 company (head 1) ─ 2 sales (head 2) ─ 6 sales desk (no head)
#                    └ 3 development (head 5) ─ 4 backend (head 6)
ORG = {
    1: department(1, None, 1),
    2: department(2, 1, 2),
    3: department(3, 1, 5),
    4: department(4, 3, 6),
    6: department(6, 2, None),
}


def late(user_id: int, name: str, departments: list[int], minutes: int = 20) -> PersonDay:
    start = f"09:{minutes:02d}"
    day = judge(marks_of_day(MONDAY, start, f"18:{minutes:02d}"))
    return PersonDay(
        employee_id=100 + user_id,
        user_id=user_id,
        name=name,
        department_ids=tuple(departments),
        violations=day.violations,
    )


def fine(user_id: int, name: str, departments: list[int]) -> PersonDay:
    return PersonDay(100 + user_id, user_id, name, tuple(departments))


def test_each_person_goes_to_the_head_of_their_department() -> None:
    days = [
        late(3, "Мария", [2]),
        late(7, "Ольга", [4]),
        fine(8, "Сергей", [4]),
        late(12, "Борис", [6]),  # a department without a head: its parent's head
    ]
    digests = {d.manager_user_id: d for d in build_digests(days, ORG, local_date=MONDAY)}
    assert sorted(digests) == [2, 6]
    assert [line.name for line in digests[2].lines] == ["Борис", "Мария"]
    assert digests[2].people == 2
    assert [line.name for line in digests[6].lines] == ["Ольга"]
    assert digests[6].people == 2  # Ольга and Сергей report to 6
    assert digests[6].people_with_violations == 1


def test_a_head_is_reported_to_the_head_of_the_parent_department() -> None:
    days = [late(2, "Игорь (head of sales)", [2]), late(6, "Алексей (head of backend)", [4])]
    digests = {d.manager_user_id: d for d in build_digests(days, ORG, local_date=MONDAY)}
    assert sorted(digests) == [1, 5]
    assert digests[1].lines[0].user_id == 2
    assert digests[5].lines[0].user_id == 6


def test_the_top_head_and_people_without_a_department_reach_nobody() -> None:
    days = [late(1, "Анна (CEO)", [1]), late(40, "Без отдела", [])]
    assert build_digests(days, ORG, local_date=MONDAY) == []


def test_a_person_in_two_departments_reaches_both_heads() -> None:
    digests = build_digests([late(9, "Двое", [2, 4])], ORG, local_date=MONDAY)
    assert [d.manager_user_id for d in digests] == [2, 6]
    assert all(len(d.lines) == 1 for d in digests)


def test_nothing_to_report_builds_no_digest_unless_asked() -> None:
    days = [fine(3, "Мария", [2]), fine(7, "Ольга", [4])]
    assert build_digests(days, ORG, local_date=MONDAY) == []
    empty = build_digests(days, ORG, local_date=MONDAY, send_empty=True)
    assert [(d.manager_user_id, d.empty, d.people) for d in empty] == [(2, True, 1), (6, True, 1)]


def test_excused_violations_are_counted_not_listed() -> None:
    accepted = StoredExplanation(MONDAY, "late_start", "accepted", "врач")
    excused = judge(marks_of_day(MONDAY, "09:30", "18:30"), explanations=(accepted,))
    day = PersonDay(110, 3, "Мария", (2,), excused.violations)
    assert build_digests([day], ORG, local_date=MONDAY) == []
    [digest] = build_digests([day], ORG, local_date=MONDAY, send_empty=True)
    assert digest.empty
    assert digest.excused == 1


def test_kinds_setting_filters_what_is_reported() -> None:
    days = [late(3, "Мария", [2]), PersonDay(120, 4, "Дмитрий", (2,), judge([]).violations)]
    only_absent = frozenset({ViolationKind.ABSENT})
    [digest] = build_digests(days, ORG, local_date=MONDAY, kinds=only_absent)
    assert [(line.name, line.violation.kind) for line in digest.lines] == [
        ("Дмитрий", ViolationKind.ABSENT)
    ]


# --- Rules from the portal's settings -----------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "at"),
    [
        ({}, time(9, 0)),
        ({"digest_time": "08:30"}, time(8, 30)),
        ({"digest_time": "7"}, time(7, 0)),
        ({"digest_time": "7:05"}, time(7, 5)),
        ({"digest_time": "25:00"}, time(9, 0)),
        ({"digest_time": "soon"}, time(9, 0)),
        ({"digest_time": 9}, time(9, 0)),
        ({"digest_time": None}, None),
        ({"digest_time": "off"}, None),
    ],
)
def test_digest_time_setting(settings: dict[str, Any], at: time | None) -> None:
    assert DigestRules.from_settings(settings).at == at


def test_digest_channel_and_kind_settings() -> None:
    rules = DigestRules.from_settings(
        {
            "digest_send_empty": "yes",
            "digest_email": False,
            "digest_kinds": ["absent", "nonsense", "late_start"],
        }
    )
    assert rules.send_empty is True
    assert rules.email is False
    assert rules.chat is True
    assert rules.kinds == {ViolationKind.ABSENT, ViolationKind.LATE_START}
    assert DigestRules.from_settings(None) == DigestRules()
