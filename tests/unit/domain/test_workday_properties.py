"""Properties of assembly over random marks, times and zones: time is never negative, nothing
overlaps, every mark is accounted for, and the totals match an independent replay of the rules.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from timebot.domain.marks import Mark, MarkKind
from timebot.domain.workday import Interval, WorkDay, assemble, assemble_work_days, state_of

from .rules import LEGAL

ZERO = timedelta(0)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

kinds = st.sampled_from(list(MarkKind))
zones = st.one_of(
    st.sampled_from(
        [ZoneInfo(k) for k in ("Europe/Berlin", "Europe/Moscow", "Asia/Yekaterinburg", "UTC")]
    ),
    st.timezones(),
)


@st.composite
def increasing_marks(draw: st.DrawFn) -> list[Mark]:
    """Marks in time order; steps of zero make ties, long steps cross midnights and DST."""
    steps = draw(
        st.lists(
            st.tuples(kinds, st.integers(0, 40 * 3600), st.booleans()),
            max_size=40,
        )
    )
    at, marks = EPOCH + timedelta(days=draw(st.integers(0, 700))), []
    for i, (kind, seconds, provisional) in enumerate(steps):
        at += timedelta(seconds=seconds)
        marks.append(Mark(kind, at, id=i, provisional=provisional))
    return marks


scattered_marks = st.lists(
    st.builds(
        Mark,
        kind=kinds,
        at=st.datetimes(
            min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
            max_value=datetime(2026, 12, 31),  # noqa: DTZ001
            timezones=st.timezones(),
        ),
        id=st.none() | st.integers(0, 10**6),
        provisional=st.booleans(),
    ),
    max_size=40,
)
any_marks = st.one_of(increasing_marks(), scattered_marks)
optional_now = st.none() | st.datetimes(
    min_value=datetime(2023, 12, 1),  # noqa: DTZ001
    max_value=datetime(2027, 1, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def reference_totals(marks: list[Mark], now: datetime | None) -> tuple[timedelta, timedelta]:
    """Worked and break time by walking the documented table, skipping refused marks."""
    state, since, worked, paused = "off", EPOCH, ZERO, ZERO
    for mark in sorted(marks, key=lambda m: m.at):
        following = LEGAL.get((state, mark.kind.value))
        if following is None:
            continue
        if state == "working":
            worked += mark.at - since
        elif state == "on_break":
            paused += mark.at - since
        state, since = following, mark.at
    tail = ZERO if now is None else max(now - since, ZERO)
    if state == "working":
        worked += tail
    elif state == "on_break":
        paused += tail
    return worked, paused


def all_intervals(days: tuple[WorkDay, ...]) -> list[Interval]:
    return [i for day in days for i in (*day.work_intervals, *day.breaks)]


@given(marks=any_marks, tz=zones, now=optional_now)
def test_assembled_days_never_have_negative_or_overlapping_time(
    marks: list[Mark], tz: ZoneInfo, now: datetime | None
) -> None:
    days = assemble(marks, tz, now=now).days
    for day in days:
        assert day.worked >= ZERO
        assert day.on_break >= ZERO
        assert all(i.duration >= ZERO for i in (*day.breaks, *day.work_intervals))
        assert day.worked + day.on_break == day.counted_until - day.started_at
        assert sum((i.duration for i in day.work_intervals), ZERO) == day.worked
        assert sum((i.duration for i in day.breaks), ZERO) == day.on_break
        for i in (*day.breaks, *day.work_intervals):
            assert day.started_at <= i.start <= i.end <= day.counted_until
        if not day.is_open:
            assert day.ended_at is not None
            assert day.worked + day.on_break == day.ended_at - day.started_at
    for earlier, later in pairwise(days):
        assert not earlier.is_open
        assert earlier.counted_until <= later.started_at
    intervals = sorted(all_intervals(days), key=lambda i: (i.start, i.end))
    for first, second in pairwise(intervals):
        assert first.end <= second.start


@given(marks=any_marks, tz=zones, now=optional_now)
def test_every_mark_is_either_in_a_day_or_reported_as_ignored(
    marks: list[Mark], tz: ZoneInfo, now: datetime | None
) -> None:
    result = assemble(marks, tz, now=now)
    accepted = [m for day in result.days for m in day.marks]
    assert Counter(accepted) + Counter(result.ignored) == Counter(marks)
    for day in result.days:
        end = day.ended_at or datetime.max.replace(tzinfo=UTC)
        assert Counter(day.ignored) <= Counter(result.ignored)
        assert all(day.started_at <= m.at <= end for m in day.ignored)
        # Ties at the edges depend on input order; strictly inside, an ignored mark is the day's.
        inside = [m for m in result.ignored if day.started_at < m.at < end]
        assert Counter(inside) <= Counter(day.ignored)
    assert list(result.ignored) == sorted(result.ignored, key=lambda m: m.at)


@given(marks=any_marks, tz=zones, now=optional_now)
def test_each_day_replays_legally_and_belongs_to_its_local_start_date(
    marks: list[Mark], tz: ZoneInfo, now: datetime | None
) -> None:
    result = assemble(marks, tz, now=now)
    for day in result.days:
        assert day.local_date == day.started_at.astimezone(tz).date()
        assert day.marks[0].kind is MarkKind.CHECK_IN
        assert day.marks[0].at == day.started_at
        assert day.provisional == any(m.provisional for m in day.marks)
        state = "off"
        for mark in day.marks:
            state = LEGAL[(state, mark.kind.value)]
        assert (state != "off") == day.is_open
        assert (day.marks[-1].kind is MarkKind.CHECK_OUT) == (not day.is_open)
    last_open = bool(result.days) and result.days[-1].is_open
    assert (result.state != "off") == last_open
    assert state_of(marks) == result.state
    assert assemble_work_days(marks, tz, now=now) == list(result.days)


@given(marks=any_marks, tz=zones, now=optional_now)
def test_totals_match_an_independent_replay_of_the_rules(
    marks: list[Mark], tz: ZoneInfo, now: datetime | None
) -> None:
    days = assemble(marks, tz, now=now).days
    worked, paused = reference_totals(marks, now)
    assert sum((d.worked for d in days), ZERO) == worked
    assert sum((d.on_break for d in days), ZERO) == paused


@given(marks=any_marks, tz=zones, data=st.data())
def test_the_order_marks_arrive_in_does_not_matter_when_their_instants_differ(
    marks: list[Mark], tz: ZoneInfo, data: st.DataObject
) -> None:
    distinct = list({m.at: m for m in marks}.values())
    shuffled = data.draw(st.permutations(distinct))
    assert assemble(shuffled, tz) == assemble(distinct, tz)
