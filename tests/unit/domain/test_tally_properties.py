"""The lean per-day tally equals the full domain path (`assemble`, `worked // 1 min`,
`night_minutes`) on random tracks: any marks in time order with ties, office-like days around
DST changes and midnight transitions, night work, open days, and zones of every kind."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timebot.domain.marks import Mark, MarkKind
from timebot.domain.tally import (
    LocalDays,
    MarkTrack,
    from_micros,
    marks_of,
    tally,
    to_micros,
    track_of,
)
from timebot.domain.timesheet import night_minutes
from timebot.domain.workday import assemble

MINUTE = timedelta(minutes=1)
# Zones with DST (Berlin, Santiago at midnight, Lord Howe by 30 min), a Ramadan pause
# (Casablanca), odd offsets (Kathmandu, Chatham) and none at all (Moscow, UTC).
KNOWN_ZONES = [
    ZoneInfo(k)
    for k in (
        "Europe/Moscow",
        "Europe/Berlin",
        "America/Santiago",
        "Australia/Lord_Howe",
        "Africa/Casablanca",
        "Asia/Kathmandu",
        "Pacific/Chatham",
        "America/St_Johns",
        "UTC",
    )
]
zones = st.one_of(st.sampled_from(KNOWN_ZONES), st.timezones())
kinds = st.sampled_from(list(MarkKind))
# Around DST changes of both hemispheres in 2025 (and ordinary weeks).
starts = st.sampled_from(
    [
        datetime(2025, 3, 28, tzinfo=UTC),
        datetime(2025, 4, 4, tzinfo=UTC),
        datetime(2025, 9, 1, tzinfo=UTC),
        datetime(2025, 10, 24, tzinfo=UTC),
        datetime(2025, 2, 20, tzinfo=UTC),
    ]
) | st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def any_marks(draw: st.DrawFn) -> list[Mark]:
    """Marks in time order; zero steps make ties, long ones cross midnights and DST."""
    at = draw(starts)
    marks = []
    for kind, step in draw(
        st.lists(st.tuples(kinds, st.integers(0, 30 * 3600 * 10**6)), max_size=40)
    ):
        at += timedelta(microseconds=step)
        marks.append(Mark(kind, at))
    return marks


@st.composite
def office_days(draw: st.DrawFn) -> list[Mark]:
    """Days like real ones: a check-in at any hour, maybe breaks, usually a check-out; now
    and then a stray mark the machine refuses."""
    day = draw(starts)
    marks: list[Mark] = []
    for _ in range(draw(st.integers(0, 8))):
        at = day + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)))
        at += timedelta(microseconds=draw(st.integers(0, 10**6 - 1)))
        marks.append(Mark(MarkKind.CHECK_IN, at))
        for _ in range(draw(st.integers(0, 2))):
            at += timedelta(minutes=draw(st.integers(0, 6 * 60)))
            marks.append(Mark(MarkKind.BREAK_START, at))
            at += timedelta(minutes=draw(st.integers(0, 120)))
            marks.append(Mark(MarkKind.BREAK_END, at))
        if draw(st.booleans()):
            at += timedelta(seconds=draw(st.integers(0, 100)))
            marks.append(Mark(draw(kinds), at))
        if draw(st.integers(0, 9)):
            at += timedelta(minutes=draw(st.integers(0, 14 * 60)))
            marks.append(Mark(MarkKind.CHECK_OUT, at))
        day += timedelta(days=draw(st.integers(1, 3)))
    return marks


optional_now = st.none() | st.integers(-2 * 24 * 60, 40 * 24 * 60)


def full_path(marks: list[Mark], tz: ZoneInfo, now: datetime | None) -> list[object]:
    return [
        (d.local_date, to_micros(d.started_at), d.worked // MINUTE, night_minutes(d, tz))
        for d in assemble(marks, tz, now=now).days
    ]


def check(marks: list[Mark], tz: ZoneInfo, now_minutes: int | None, window: bool) -> None:
    # A track is in time order, ties in storage order (what a stable sort by instant keeps).
    marks = sorted(marks, key=lambda m: m.at)
    origin = marks[0].at if marks else datetime(2025, 1, 1, tzinfo=UTC)
    now = None if now_minutes is None else origin + now_minutes * MINUTE
    if window and marks:
        days = LocalDays(tz, marks[0].at, marks[-1].at)
    else:  # a window that holds none of the marks: every answer comes from zoneinfo
        days = LocalDays(tz, origin - timedelta(days=400), origin - timedelta(days=399))
    found = tally(track_of(marks), days, now=None if now is None else to_micros(now))
    assert found == full_path(marks, tz, now)


@settings(max_examples=300)
@given(marks=any_marks(), tz=zones, now=optional_now, window=st.booleans())
def test_the_tally_of_any_marks_equals_the_full_path(
    marks: list[Mark], tz: ZoneInfo, now: int | None, window: bool
) -> None:
    check(marks, tz, now, window)


@settings(max_examples=300)
@given(marks=office_days(), tz=zones, now=optional_now, window=st.booleans())
def test_the_tally_of_office_days_equals_the_full_path(
    marks: list[Mark], tz: ZoneInfo, now: int | None, window: bool
) -> None:
    check(marks, tz, now, window)


@given(
    at=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001
        max_value=datetime(2030, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    span=st.integers(0, 40 * 24 * 3600),
    where=st.floats(0, 1),
    tz=zones,
)
def test_local_days_name_the_date_zoneinfo_names(
    at: datetime, span: int, where: float, tz: ZoneInfo
) -> None:
    until = at + timedelta(seconds=span)
    probe = at + (until - at) * where
    local, morning, evening = LocalDays(tz, at, until).locate(to_micros(probe))
    assert local == probe.astimezone(tz).date()
    assert from_micros(morning) == datetime.combine(local, datetime.min.time(), tz).replace(
        hour=6
    ).astimezone(UTC)
    assert from_micros(evening) == datetime.combine(local, datetime.min.time(), tz).replace(
        hour=22
    ).astimezone(UTC)


def test_a_track_keeps_kinds_and_microseconds_both_ways() -> None:
    at = datetime(2025, 9, 1, 6, 0, 0, 123457, tzinfo=UTC)
    marks = [Mark(MarkKind.CHECK_IN, at), Mark(MarkKind.CHECK_OUT, at + timedelta(hours=9))]
    track = track_of(marks)
    assert track == MarkTrack("io", [to_micros(at), to_micros(at) + 9 * 3600 * 10**6])
    assert marks_of(track) == marks
    assert to_micros(datetime(1970, 1, 1, 3, tzinfo=ZoneInfo("Europe/Moscow"))) == 0


def test_an_unknown_mark_code_is_refused() -> None:
    days = LocalDays(
        ZoneInfo("UTC"), datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 10, 1, tzinfo=UTC)
    )
    for codes in ("x", "ix", "isx", "io?"):
        with pytest.raises(ValueError, match="unknown mark code"):
            tally(MarkTrack(codes, [0] * len(codes)), days)
    with pytest.raises(ValueError, match="one instant per mark"):
        tally(MarkTrack("io", [0]), days)


def test_a_plain_office_day_and_a_night_shift() -> None:
    msk = ZoneInfo("Europe/Moscow")
    day = date(2025, 9, 1)

    def at(hh: int, mm: int = 0, d: date = day) -> int:
        return to_micros(datetime(d.year, d.month, d.day, hh, mm, tzinfo=msk))

    days = LocalDays(msk, datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 3, tzinfo=UTC))
    office = MarkTrack("iseo", [at(9), at(13), at(14), at(18, 5)])
    assert tally(office, days) == [(day, at(9), 8 * 60 + 5, 0)]
    night = MarkTrack("io", [at(21), at(7, d=date(2025, 9, 2))])
    assert tally(night, days) == [(day, at(21), 10 * 60, 8 * 60)]
    # Open at the end: counted up to now (or the last mark without one), breaks included.
    assert tally(MarkTrack("is", [at(9), at(13)]), days, now=at(14)) == [(day, at(9), 4 * 60, 0)]
    assert tally(MarkTrack("is", [at(9), at(13)]), days) == [(day, at(9), 4 * 60, 0)]
