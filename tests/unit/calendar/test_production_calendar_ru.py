"""The Russian production calendar against the official tables, month by month.

Reference numbers are copied by hand from the published production calendars (Consultant/Garant
style tables: 5-day week, norms for 40/36/24-hour weeks) and the Government decrees on transfers
of days off (2024: of 10.08.2023; 2025: No. 1335 of 04.10.2024; 2026: of 24.09.2025).
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from timebot.domain.calendar import DayKind, ProductionCalendar
from timebot.reports import production_calendar as pc
from timebot.reports.production_calendar import (
    calendar_command_output,
    calendar_for,
    render_year,
    year_totals,
)

# month -> (calendar days, working days, days off, norm 40 h, norm 36 h, norm 24 h)
OFFICIAL_2025 = {
    1: (31, 17, 14, 136, 122.4, 81.6),
    2: (28, 20, 8, 160, 144, 96),
    3: (31, 21, 10, 167, 150.2, 99.8),
    4: (30, 22, 8, 175, 157.4, 104.6),
    5: (31, 18, 13, 144, 129.6, 86.4),
    6: (30, 19, 11, 151, 135.8, 90.2),
    7: (31, 23, 8, 184, 165.6, 110.4),
    8: (31, 21, 10, 168, 151.2, 100.8),
    9: (30, 22, 8, 176, 158.4, 105.6),
    10: (31, 23, 8, 184, 165.6, 110.4),
    11: (30, 19, 11, 151, 135.8, 90.2),
    12: (31, 22, 9, 176, 158.4, 105.6),
}
OFFICIAL_2026 = {
    1: (31, 15, 16, 120, 108, 72),
    2: (28, 19, 9, 152, 136.8, 91.2),
    3: (31, 21, 10, 168, 151.2, 100.8),
    4: (30, 22, 8, 175, 157.4, 104.6),
    5: (31, 19, 12, 151, 135.8, 90.2),
    6: (30, 21, 9, 167, 150.2, 99.8),
    7: (31, 23, 8, 184, 165.6, 110.4),
    8: (31, 21, 10, 168, 151.2, 100.8),
    9: (30, 22, 8, 176, 158.4, 105.6),
    10: (31, 22, 9, 176, 158.4, 105.6),
    11: (30, 20, 10, 159, 143, 95),
    12: (31, 22, 9, 176, 158.4, 105.6),
}
# 2024, 40-hour week: month -> (working days, norm hours)
OFFICIAL_2024_40 = {
    1: (17, 136),
    2: (20, 159),
    3: (20, 159),
    4: (21, 168),
    5: (20, 159),
    6: (19, 151),
    7: (23, 184),
    8: (22, 176),
    9: (21, 168),
    10: (23, 184),
    11: (21, 167),
    12: (21, 168),
}
# Year totals: working days, days off, norms for 40 / 36 / 24 hours.
OFFICIAL_TOTALS = {
    2024: (248, 118, 1979, 1780.6, 1185.4),
    2025: (247, 118, 1972, 1774.4, 1181.6),
    2026: (247, 118, 1972, 1774.4, 1181.6),
}
# 2026 quarters for 40 / 36 / 24 hours, as a second table publishes them.
OFFICIAL_2026_QUARTERS = {
    1: (440, 396, 264),
    2: (493, 443.4, 294.6),
    3: (528, 475.2, 316.8),
    4: (511, 459.8, 306.2),
}


@pytest.mark.parametrize(("year", "table"), [(2025, OFFICIAL_2025), (2026, OFFICIAL_2026)])
@pytest.mark.parametrize("month", range(1, 13))
def test_each_month_matches_the_official_calendar(
    year: int, table: dict[int, tuple[float, ...]], month: int
) -> None:
    calendar = calendar_for("RU", year)
    days, working, off, n40, n36, n24 = table[month]
    summary = calendar.month_summary(year, month, 40)
    assert (summary.calendar_days, summary.working_days, summary.days_off) == (days, working, off)
    assert summary.norm_hours == n40
    assert calendar.month_summary(year, month, 36).norm_hours == n36
    assert calendar.month_summary(year, month, 24).norm_hours == n24


def test_2024_months_match_the_official_calendar() -> None:
    calendar = calendar_for("RU", 2024)
    found = {
        m: (s.working_days, s.norm_hours) for m, s in enumerate(calendar.year_summary(2024), 1)
    }
    assert found == OFFICIAL_2024_40


@pytest.mark.parametrize("year", sorted(OFFICIAL_TOTALS))
def test_year_totals_match_the_official_calendar(year: int) -> None:
    totals = year_totals(render_year(calendar_for("RU", year), year))
    working, off, n40, n36, n24 = OFFICIAL_TOTALS[year]
    assert (totals["working_days"], totals["days_off"]) == (working, off)
    assert (totals["norm_40"], totals["norm_36"], totals["norm_24"]) == (n40, n36, n24)


def test_2026_quarters_match_the_published_quarterly_norms() -> None:
    rows = render_year(calendar_for("RU", 2026), 2026)
    for quarter, expected in OFFICIAL_2026_QUARTERS.items():
        months = rows[(quarter - 1) * 3 : quarter * 3]
        sums = tuple(round(sum(r[f"norm_{h}"] for r in months), 2) for h in (40, 36, 24))
        assert sums == expected


def test_the_2025_transfers_of_decree_1335_are_days_off_and_1_november_works() -> None:
    calendar = calendar_for("RU", 2025)
    for day_off in (date(2025, 5, 2), date(2025, 5, 8), date(2025, 6, 13), date(2025, 11, 3)):
        assert calendar.kind(day_off) is DayKind.TRANSFERRED_DAY_OFF
    assert calendar.kind(date(2025, 12, 31)) is DayKind.TRANSFERRED_DAY_OFF
    assert calendar.kind(date(2025, 11, 1)) is DayKind.WORKING_WEEKEND
    assert calendar.is_working(date(2025, 11, 1))
    assert calendar.kind(date(2025, 5, 9)) is DayKind.HOLIDAY
    assert calendar.kind(date(2025, 5, 10)) is DayKind.WEEKEND


def test_pre_holiday_days_are_an_hour_shorter_for_every_week_length() -> None:
    calendar = calendar_for("RU", 2025)
    march_7 = date(2025, 3, 7)
    assert calendar.kind(march_7) is DayKind.SHORTENED
    assert [calendar.norm_hours(march_7, w) for w in (40, 36, 24)] == [7, 6.2, 3.8]
    assert [calendar.norm_hours(date(2025, 3, 6), w) for w in (40, 36, 24)] == [8, 7.2, 4.8]
    # The working Saturday before the 3-4 November break took over the shortening of 3 November.
    assert calendar.is_shortened(date(2025, 11, 1))
    assert calendar.norm_hours(date(2025, 11, 1), 40) == 7
    assert calendar.norm_hours(date(2025, 11, 4), 40) == 0


@pytest.mark.parametrize(
    ("year", "shortened"),
    [
        (2024, ["02-22", "03-07", "05-08", "06-11", "11-02"]),
        (2025, ["03-07", "04-30", "06-11", "11-01"]),
        (2026, ["04-30", "05-08", "06-11", "11-03"]),
    ],
)
def test_shortened_days_are_the_official_ones(year: int, shortened: list[str]) -> None:
    calendar = calendar_for("RU", year)
    found = [
        d.strftime("%m-%d")
        for m in range(1, 13)
        for d in calendar.month_days(year, m)
        if calendar.is_shortened(d)
    ]
    assert found == shortened


def test_a_working_saturday_that_replaces_an_ordinary_day_is_not_shortened() -> None:
    # 28 December 2024 worked for 30 December, which is not before a holiday.
    calendar = calendar_for("RU", 2024)
    assert calendar.kind(date(2024, 12, 28)) is DayKind.WORKING_WEEKEND
    assert calendar.norm_hours(date(2024, 12, 28), 40) == 8


def test_our_data_agrees_with_the_holidays_package_and_the_labour_code_rules() -> None:
    data = pc.load_calendar_data("RU")
    assert data is not None
    for year in data.years:
        ours = calendar_for("RU", year)
        rules, weekend = pc._rules_from_package("RU", year, data)
        derived = ProductionCalendar.build("RU", [year], rules, weekend=weekend)
        for month in range(1, 13):
            for d in ours.month_days(year, month):
                assert ours.kind(d) is derived.kind(d), d
                assert ours.norm_hours(d, 40) == derived.norm_hours(d, 40), d


def test_the_data_file_states_the_totals_it_produces() -> None:
    data = pc.load_calendar_data("RU")
    assert data is not None
    assert {2024, 2025, 2026} <= set(data.years)
    for year, spec in data.years.items():
        totals = year_totals(render_year(calendar_for("RU", year), year))
        assert totals["working_days"] == spec.expected["working_days"]
        assert totals["days_off"] == spec.expected["days_off"]
        assert totals["norm_40"] == spec.expected["norm_hours_40"]
        weekend_origins = {o for o in spec.transfers.values() if o.weekday() >= 5}
        assert spec.working_weekends <= weekend_origins


def test_years_outside_our_data_come_from_the_holidays_package_with_the_same_rules() -> None:
    # 2023 (247 days, 1973 hours) and 2022 (247 days, 1973 hours) are not in our data file.
    for year in (2022, 2023):
        totals = year_totals(render_year(calendar_for("RU", year), year))
        assert (totals["working_days"], totals["norm_40"]) == (247, 1973)
    calendar = calendar_for("RU", 2022)
    assert calendar.kind(date(2022, 3, 5)) is DayKind.WORKING_WEEKEND
    assert calendar.is_shortened(date(2022, 3, 5))
    assert calendar.kind(date(2022, 3, 7)) is DayKind.TRANSFERRED_DAY_OFF


def test_other_countries_get_public_holidays_and_saturday_sunday_weekends() -> None:
    calendar = calendar_for("de", 2025)
    assert calendar.country == "DE"
    assert calendar.kind(date(2025, 10, 3)) is DayKind.HOLIDAY
    assert calendar.kind(date(2025, 10, 4)) is DayKind.WEEKEND
    assert calendar.kind(date(2025, 10, 6)) is DayKind.WORKING
    assert not any(
        calendar.is_shortened(d) for m in range(1, 13) for d in calendar.month_days(2025, m)
    )
    december = calendar.month_summary(2025, 12, 40)
    assert (december.working_days, december.holidays, december.norm_hours) == (21, 2, 168)


def test_the_weekend_comes_from_the_country() -> None:
    calendar = calendar_for("IL", 2025)
    assert calendar.kind(date(2025, 7, 4)) is DayKind.WEEKEND  # Friday
    assert calendar.kind(date(2025, 7, 6)) is DayKind.WORKING  # Sunday


def test_an_unknown_country_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="'ZZ'"):
        calendar_for("zz", 2025)


def test_a_calendar_can_span_several_years() -> None:
    calendar = calendar_for("RU", [2025, 2026])
    assert calendar.years == frozenset({2025, 2026})
    assert calendar.kind(date(2025, 12, 31)) is DayKind.TRANSFERRED_DAY_OFF
    assert calendar.kind(date(2026, 1, 9)) is DayKind.TRANSFERRED_DAY_OFF
    assert calendar.covers(date(2026, 6, 1))
    assert not calendar.covers(date(2027, 1, 1))


def test_portal_overrides_change_single_days() -> None:
    overrides = {
        date(2025, 12, 30): (DayKind.SHORTENED, 4.0),
        date(2025, 8, 15): ("holiday", None),
    }
    calendar = calendar_for("RU", 2025, overrides=overrides)
    assert calendar.norm_hours(date(2025, 12, 30), 40) == 4
    assert calendar.norm_hours(date(2025, 12, 30), 36) == 3.2
    assert calendar.kind(date(2025, 8, 15)) is DayKind.HOLIDAY
    august = calendar.month_summary(2025, 8, 40)
    assert (august.working_days, august.norm_hours) == (20, 160)
    december = calendar.month_summary(2025, 12, 40)
    assert (december.working_days, december.shortened_days, december.norm_hours) == (22, 1, 172)


def test_render_year_gives_one_row_per_month_with_norms_for_each_week() -> None:
    rows = render_year(calendar_for("RU", 2025), 2025)
    assert [r["month"] for r in rows] == list(range(1, 13))
    assert rows[4] == {
        "month": 5,
        "name": "Май",
        "calendar_days": 31,
        "working_days": 18,
        "days_off": 13,
        "holidays": 2,
        "shortened_days": 0,
        "norm_40": 144,
        "norm_36": 129.6,
        "norm_24": 86.4,
    }


def test_the_cli_output_prints_the_table_and_the_json() -> None:
    text = calendar_command_output("RU", 2025, as_json=False)
    lines = text.splitlines()
    assert lines[0] == "Производственный календарь RU 2025"
    total = next(line for line in lines if line.startswith("Итого"))
    assert total.split() == ["Итого", "365", "247", "118", "4", "1972", "1774,4", "1181,6"]
    assert "Сокращённые дни: 07.03, 30.04, 11.06, 01.11" in lines
    assert "Рабочие выходные: 01.11" in lines
    payload = json.loads(calendar_command_output("RU", 2026, as_json=True))
    assert payload["country"] == "RU"
    assert payload["year"] == 2026
    assert len(payload["months"]) == 12
    assert payload["total"]["norm_40"] == 1972
    assert payload["months"][0]["working_days"] == 15
