"""The pure production-calendar rules: weekly rhythm, day rules, norms and pre-holiday days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from timebot.domain.calendar import DayKind, DayRule, ProductionCalendar, pre_holiday_days


def plain(year: int = 2025) -> ProductionCalendar:
    return ProductionCalendar.build("XX", [year], {})


def test_without_rules_weekdays_work_and_weekends_rest() -> None:
    calendar = plain()
    assert calendar.kind(date(2025, 7, 4)) is DayKind.WORKING  # a Friday
    assert calendar.kind(date(2025, 7, 5)) is DayKind.WEEKEND
    july = calendar.month_summary(2025, 7, 40)
    assert (july.working_days, july.days_off, july.norm_hours) == (23, 8, 184)


def test_a_country_may_rest_on_other_weekdays() -> None:
    calendar = ProductionCalendar.build("IL", [2025], {}, weekend=(4, 5))
    assert calendar.kind(date(2025, 7, 4)) is DayKind.WEEKEND  # Friday
    assert calendar.kind(date(2025, 7, 6)) is DayKind.WORKING  # Sunday


def test_norm_hours_follow_the_week_length() -> None:
    calendar = plain()
    working = date(2025, 7, 4)
    assert [calendar.norm_hours(working, w) for w in (40, 36, 24, 35)] == [8, 7.2, 4.8, 7]
    assert calendar.norm_hours(date(2025, 7, 5), 40) == 0
    with pytest.raises(ValueError, match="week_hours"):
        calendar.norm_hours(working, 0)
    with pytest.raises(ValueError, match="week_hours"):
        calendar.month_summary(2025, 7, -1)


def test_a_day_rule_knows_its_length_on_the_forty_hour_scale() -> None:
    assert DayRule(DayKind.WORKING).length == 8
    assert DayRule(DayKind.SHORTENED).length == 7
    assert DayRule(DayKind.WORKING_WEEKEND, 7.0).length == 7
    assert DayRule(DayKind.HOLIDAY, 5.0).length == 0  # hours of a day off mean nothing
    assert DayRule("transferred_day_off").kind is DayKind.TRANSFERRED_DAY_OFF  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"0\.\.24"):
        DayRule(DayKind.WORKING, 25)


def test_a_shortened_day_cannot_go_below_nothing_for_a_short_week() -> None:
    calendar = plain().with_overrides({date(2025, 7, 4): DayRule(DayKind.SHORTENED, 3.0)})
    # Cut by five hours: a 24-hour week's 4.8-hour day becomes nothing, not negative.
    assert calendar.norm_hours(date(2025, 7, 4), 24) == 0
    assert calendar.month_summary(2025, 7, 24).norm_hours == round(4.8 * 22, 2)


def test_overrides_leave_the_original_calendar_untouched() -> None:
    original = plain()
    changed = original.with_overrides({date(2025, 7, 5): (DayKind.WORKING_WEEKEND, None)})
    assert changed.is_working(date(2025, 7, 5))
    assert not original.is_working(date(2025, 7, 5))
    assert changed.month_summary(2025, 7).working_days == 24


def test_the_day_before_a_holiday_is_shortened() -> None:
    calendar = plain()
    found = pre_holiday_days([date(2025, 7, 4)], calendar.is_working, {})
    assert found == {date(2025, 7, 3)}


def test_no_day_is_shortened_when_the_holiday_follows_a_weekend() -> None:
    calendar = plain()
    assert pre_holiday_days([date(2025, 7, 7)], calendar.is_working, {}) == frozenset()


def test_a_working_weekend_takes_the_shortening_of_the_day_it_moved() -> None:
    # 1 Nov (Sat) works instead of 3 Nov (Mon), the day before the 4 Nov holiday.
    saturday, monday, holiday = date(2025, 11, 1), date(2025, 11, 3), date(2025, 11, 4)
    calendar = plain().with_overrides(
        {
            saturday: (DayKind.WORKING_WEEKEND, None),
            monday: (DayKind.TRANSFERRED_DAY_OFF, None),
            holiday: (DayKind.HOLIDAY, None),
        }
    )
    assert pre_holiday_days([holiday], calendar.is_working, {monday: saturday}) == {saturday}


def test_a_day_off_moved_from_a_holiday_passes_no_shortening_on() -> None:
    dec_31, jan_4 = date(2025, 12, 31), date(2025, 1, 4)
    calendar = plain().with_overrides(
        {dec_31: (DayKind.TRANSFERRED_DAY_OFF, None), jan_4: (DayKind.HOLIDAY, None)}
    )
    found = pre_holiday_days([dec_31 + timedelta(days=1)], calendar.is_working, {dec_31: jan_4})
    assert found == frozenset()
