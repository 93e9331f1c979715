"""Reminder decisions: which reminder or close is due for a person's day, from the portal's rules.

Days are real domain days (marks assembled by the work-day machine) against real schedules
(the default 09:00–18:00 week, a flexible one, a night shift), in Moscow unless said otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from timebot.bot.reminders import left_at_words, parse_stated
from timebot.domain.marks import Mark, MarkKind
from timebot.domain.schedules import Schedule, Shift, ShiftSchedule
from timebot.domain.workday import allowed_actions, assemble
from timebot.services.plans import DEFAULT_SCHEDULE, parse_definition
from timebot.services.reminders import (
    Due,
    ReminderKind,
    ReminderRules,
    due,
    open_day_timeline,
)
from timebot.services.tracking import DayView

MSK = ZoneInfo("Europe/Moscow")
MONDAY = date(2026, 11, 23)
SATURDAY = date(2026, 11, 28)


def msk(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=MSK).astimezone(UTC)


def view(
    marks: Sequence[tuple[MarkKind, datetime]],
    now: datetime,
    *,
    schedule: Schedule = DEFAULT_SCHEDULE,
    tz: ZoneInfo = MSK,
) -> DayView:
    """The chat's day view, built the way `services.tracking` builds it."""
    assembly = assemble([Mark(k, at) for k, at in marks], tz, now=now)
    today = now.astimezone(tz).date()
    day = None
    if assembly.days and (assembly.days[-1].is_open or assembly.days[-1].local_date == today):
        day = assembly.days[-1]
    on = day.local_date if day else today
    return DayView(
        now=now,
        tz=tz,
        state=assembly.state,
        day=day,
        expectation=schedule.expected_for(on, tz, None),
        allowed=allowed_actions(assembly.state),
    )


def kind_at(
    marks: Sequence[tuple[MarkKind, datetime]],
    now: datetime,
    *,
    rules: ReminderRules = ReminderRules(),
    answers: Sequence[datetime] = (),
) -> ReminderKind | None:
    found = due(view(marks, now), rules, answers)
    return found.kind if found else None


CHECKED_IN = [(MarkKind.CHECK_IN, msk(MONDAY, 9, 2))]
DEFAULTS = ReminderRules()


# --- Rules from portal settings -----------------------------------------------------------------


def test_defaults_live_in_one_place() -> None:
    rules = ReminderRules.from_settings({})
    assert rules == ReminderRules()
    assert rules.remind_checkin_after_minutes is None  # off unless the portal asks
    assert rules.remind_checkout_after_minutes == 30
    assert rules.auto_close_after_minutes == 240
    assert rules.remind_checkout_snooze_minutes == 60
    assert ReminderRules.from_settings(None) == rules


def test_settings_override_turn_off_and_survive_garbage() -> None:
    rules = ReminderRules.from_settings(
        {
            "remind_checkin_after_minutes": 15,
            "remind_checkout_after_minutes": "45",
            "auto_close_after_minutes": None,
            "remind_checkout_snooze_minutes": 20.0,
            "country": "RU",  # other features' keys are none of our business
        }
    )
    assert rules == ReminderRules(15, 45, None, 20)
    assert not ReminderRules(None, None, None).any
    garbage = ReminderRules.from_settings(
        {
            "remind_checkin_after_minutes": "soon",
            "remind_checkout_after_minutes": -5,
            "auto_close_after_minutes": True,
            "remind_checkout_snooze_minutes": None,
        }
    )
    assert garbage == ReminderRules()  # each malformed value keeps its default
    assert ReminderRules.from_settings(["not", "a", "dict"]) == ReminderRules()  # type: ignore[arg-type]
    assert (
        ReminderRules.from_settings(
            {"remind_checkout_snooze_minutes": 0}
        ).remind_checkout_snooze_minutes
        == 1
    )


# --- Check-in reminder ---------------------------------------------------------------------------


def test_checkin_reminder_only_when_enabled_and_nobody_came() -> None:
    rules = ReminderRules(remind_checkin_after_minutes=15)
    assert due(view([], msk(MONDAY, 9, 14)), rules) is None
    found = due(view([], msk(MONDAY, 9, 15)), rules)
    assert found == Due(ReminderKind.CHECK_IN, MONDAY, msk(MONDAY, 9))
    assert found.dedupe_key(7) == "remind:checkin:7:2026-11-23"
    assert due(view([], msk(MONDAY, 9, 15)), DEFAULTS) is None  # off by default
    assert due(view(CHECKED_IN, msk(MONDAY, 9, 30)), rules) is None
    # Came and left already today: no reminder either.
    gone = [*CHECKED_IN, (MarkKind.CHECK_OUT, msk(MONDAY, 9, 10))]
    assert due(view(gone, msk(MONDAY, 9, 30)), rules) is None
    # After the scheduled end the day is over: no "did you forget to check in?".
    assert due(view([], msk(MONDAY, 18, 0)), rules) is None
    # A day off: nothing expected, nothing to remind.
    assert due(view([], msk(SATURDAY, 10, 0)), rules) is None


def test_checkin_reminder_on_flexible_days_needs_core_hours() -> None:
    rules = ReminderRules(remind_checkin_after_minutes=10)
    core = parse_definition(
        "flexible", {"minimum_hours": 8, "core_start": "11:00", "core_end": "16:00"}
    )
    free = parse_definition("flexible", {"minimum_hours": 8})
    assert due(view([], msk(MONDAY, 11, 9), schedule=core), rules) is None
    assert due(view([], msk(MONDAY, 11, 10), schedule=core), rules) is not None
    assert due(view([], msk(MONDAY, 15, 0), schedule=free), rules) is None


# --- Forgotten check-out: reminder, snooze, provisional close ------------------------------------


def test_the_forgotten_checkout_path_to_a_provisional_close() -> None:
    """Checked in at 09:02, never checked out: reminder at 18:30, nothing before; the close at
    22:00 puts the check-out at the scheduled 18:00."""
    assert due(view(CHECKED_IN, msk(MONDAY, 18, 29)), DEFAULTS) is None
    reminder = due(view(CHECKED_IN, msk(MONDAY, 18, 30)), DEFAULTS)
    assert reminder is not None
    assert reminder.kind is ReminderKind.CHECK_OUT
    assert reminder.dedupe_key(7) == "remind:checkout:7:2026-11-23"
    assert reminder.timeline is not None
    assert reminder.timeline.scheduled_end == msk(MONDAY, 18)
    assert reminder.timeline.cutoff == msk(MONDAY, 22)
    # Still the same reminder (same key) until the cut-off: the job sends it once.
    later = due(view(CHECKED_IN, msk(MONDAY, 21, 59)), DEFAULTS)
    assert later is not None
    assert later.dedupe_key(7) == reminder.dedupe_key(7)
    close = due(view(CHECKED_IN, msk(MONDAY, 22, 0)), DEFAULTS)
    assert close is not None
    assert close.kind is ReminderKind.AUTO_CLOSE
    assert close.close_at == msk(MONDAY, 18)
    assert close.dedupe_key(7) == "remind:autoclose:7:2026-11-23"
    # The job was down all evening: the close alone, never a late reminder first.
    late = due(view(CHECKED_IN, msk(MONDAY, 23, 30)), DEFAULTS)
    assert late is not None
    assert late.kind is ReminderKind.AUTO_CLOSE


def test_still_working_snoozes_the_reminder_and_moves_the_cutoff() -> None:
    answered = [msk(MONDAY, 18, 40)]
    assert due(view(CHECKED_IN, msk(MONDAY, 19, 39)), DEFAULTS, answered) is None
    again = due(view(CHECKED_IN, msk(MONDAY, 19, 40)), DEFAULTS, answered)
    assert again is not None
    assert again.kind is ReminderKind.CHECK_OUT
    assert again.round == 1
    assert again.dedupe_key(7) == "remind:checkout:7:2026-11-23:1"
    # The cut-off counts from the answer; the close keeps the time the person vouched for.
    assert kind_at(CHECKED_IN, msk(MONDAY, 22, 39), answers=answered) is ReminderKind.CHECK_OUT
    close = due(view(CHECKED_IN, msk(MONDAY, 22, 40)), DEFAULTS, answered)
    assert close is not None
    assert close.kind is ReminderKind.AUTO_CLOSE
    assert close.close_at == msk(MONDAY, 18, 40)
    # An early "still working" (17:00) never brings the reminder before its usual 18:30.
    early = [msk(MONDAY, 17, 0)]
    assert kind_at(CHECKED_IN, msk(MONDAY, 18, 29), answers=early) is None
    assert kind_at(CHECKED_IN, msk(MONDAY, 18, 30), answers=early) is ReminderKind.CHECK_OUT
    # Answers from before this day began say nothing about it.
    stale = [msk(MONDAY, 8, 0)]
    assert kind_at(CHECKED_IN, msk(MONDAY, 22, 0), answers=stale) is ReminderKind.AUTO_CLOSE


def test_rules_can_turn_reminders_or_the_close_off() -> None:
    no_close = ReminderRules(auto_close_after_minutes=None)
    found = due(view(CHECKED_IN, msk(MONDAY, 23, 59)), no_close)
    assert found is not None
    assert found.kind is ReminderKind.CHECK_OUT
    no_reminder = ReminderRules(remind_checkout_after_minutes=None)
    assert due(view(CHECKED_IN, msk(MONDAY, 21, 0)), no_reminder) is None
    closed = due(view(CHECKED_IN, msk(MONDAY, 22, 0)), no_reminder)
    assert closed is not None
    assert closed.kind is ReminderKind.AUTO_CLOSE
    nothing = ReminderRules(None, None, None)
    assert due(view(CHECKED_IN, msk(MONDAY + timedelta(days=2), 12)), nothing) is None


def test_a_break_after_the_end_closes_at_the_break() -> None:
    marks = [*CHECKED_IN, (MarkKind.BREAK_START, msk(MONDAY, 18, 20))]
    close = due(view(marks, msk(MONDAY, 22, 0)), DEFAULTS)
    assert close is not None
    assert close.kind is ReminderKind.AUTO_CLOSE
    assert close.close_at == msk(MONDAY, 18, 20)  # never before the last mark


@pytest.mark.parametrize(
    ("marks", "why"),
    [
        ([(MarkKind.CHECK_IN, msk(SATURDAY, 11, 0))], "a day off has no scheduled end"),
        ([(MarkKind.CHECK_IN, msk(MONDAY, 19, 0))], "began after the scheduled end"),
    ],
)
def test_days_without_a_usable_end_count_from_local_midnight(
    marks: list[tuple[MarkKind, datetime]], why: str
) -> None:
    d = marks[0][1].astimezone(MSK).date()
    midnight = msk(d + timedelta(days=1), 0)
    assert due(view(marks, midnight + timedelta(minutes=29)), DEFAULTS) is None, why
    reminder = due(view(marks, midnight + timedelta(minutes=30)), DEFAULTS)
    assert reminder is not None, why
    assert reminder.kind is ReminderKind.CHECK_OUT, why
    assert reminder.timeline is not None
    assert reminder.timeline.scheduled_end is None
    assert reminder.local_date == d  # the day it began, not the day the reminder comes
    close = due(view(marks, midnight + timedelta(hours=4)), DEFAULTS)
    assert close is not None, why
    assert close.kind is ReminderKind.AUTO_CLOSE, why
    # Nothing credited past the last sign of life: the check-in itself.
    assert close.close_at == marks[0][1], why


def test_a_night_shift_ends_the_next_morning() -> None:
    schedule = ShiftSchedule(shifts=(Shift(MONDAY, time(22), time(7)),))
    marks = [(MarkKind.CHECK_IN, msk(MONDAY, 21, 55))]
    tuesday = MONDAY + timedelta(days=1)
    assert due(view(marks, msk(tuesday, 0, 30), schedule=schedule), DEFAULTS) is None
    reminder = due(view(marks, msk(tuesday, 7, 30), schedule=schedule), DEFAULTS)
    assert reminder is not None
    assert reminder.kind is ReminderKind.CHECK_OUT
    assert reminder.local_date == MONDAY
    close = due(view(marks, msk(tuesday, 11, 0), schedule=schedule), DEFAULTS)
    assert close is not None
    assert close.close_at == msk(tuesday, 7, 0)


def test_times_follow_the_persons_zone() -> None:
    ekb = ZoneInfo("Asia/Yekaterinburg")  # UTC+5: 18:00 there is 16:00 in Moscow
    marks = [(MarkKind.CHECK_IN, datetime(2026, 11, 23, 4, 0, tzinfo=UTC))]  # 09:00 local
    end = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    timeline = open_day_timeline(view(marks, end, tz=ekb), DEFAULTS)
    assert timeline is not None
    assert timeline.scheduled_end == end
    assert timeline.remind_at == end + timedelta(minutes=30)


def test_no_open_day_no_timeline() -> None:
    closed = [*CHECKED_IN, (MarkKind.CHECK_OUT, msk(MONDAY, 18, 5))]
    assert open_day_timeline(view(closed, msk(MONDAY, 22)), DEFAULTS) is None
    assert due(view(closed, msk(MONDAY, 23)), DEFAULTS) is None


# --- Stated times from the reminder buttons and words (bot.reminders) ---------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ушёл в 18:05", (18, 5)),
        ("Ушла в 18.05, забыла отметиться", (18, 5)),
        ("я ушел в 9:30", (9, 30)),
        ("left at 17:45", (17, 45)),
        ("out at 18:05, forgot to check out", (18, 5)),
        ("ушёл", None),  # a plain check-out, tracking's business
        ("вчера ушла в 18:10", None),  # another day: a correction
        ("ушёл в 25:00", None),
    ],
)
def test_left_at_words(text: str, expected: tuple[int, int] | None) -> None:
    assert left_at_words(text) == expected


def test_stated_wall_times_are_the_latest_past_instant() -> None:
    evening = msk(MONDAY, 19, 0)
    assert parse_stated("18:05", evening, MSK) == (msk(MONDAY, 18, 5), False)
    # Written after midnight, 23:30 means last night.
    night = msk(MONDAY + timedelta(days=1), 0, 40)
    assert parse_stated("ушла в 23:30", night, MSK) == (msk(MONDAY, 23, 30), True)
    assert parse_stated("23:30", msk(MONDAY, 19, 0), MSK) == (
        msk(MONDAY - timedelta(days=1), 23, 30),
        True,
    )
    iso = msk(MONDAY, 18).isoformat()
    assert parse_stated(iso, evening, MSK) == (msk(MONDAY, 18), False)
    assert parse_stated("2026-11-23T18:00", evening, MSK) == (msk(MONDAY, 18), False)
    assert parse_stated("soon", evening, MSK) is None
