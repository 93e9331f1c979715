"""«Моя неделя» rendering: durations, the ATTACH table, the summary line and the PNG chart."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.image import imread

from timebot.reports.week import (
    CHART_HEIGHT,
    CHART_WIDTH,
    format_duration,
    format_signed_duration,
    week_attach,
    week_text,
)
from timebot.reports.week_chart import COLORS, render_week_chart
from timebot.services.tracking import DaySummary

MSK = ZoneInfo("Europe/Moscow")
PREVIOUS_MONDAY = date(2026, 11, 9)
CURRENT_MONDAY = date(2026, 11, 16)
EIGHT = timedelta(hours=8)


def hm(hours: int, minutes: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes)


def day(
    d: date,
    worked: timedelta = timedelta(),
    *,
    norm: timedelta | None = EIGHT,
    start: time | None = None,
    late_by: timedelta | None = None,
    is_open: bool = False,
    provisional: bool = False,
) -> DaySummary:
    first_in = datetime.combine(d, start, tzinfo=MSK).astimezone(UTC) if start else None
    last_out = None
    if first_in is not None and not is_open:
        last_out = first_in + worked + timedelta(hours=1)
    return DaySummary(
        local_date=d,
        worked=worked,
        on_break=timedelta(hours=1) if first_in else timedelta(),
        norm=norm,
        first_in=first_in,
        last_out=last_out,
        late_by=late_by,
        is_open=is_open,
        provisional=provisional,
    )


def two_weeks() -> list[DaySummary]:
    """Previous week: 5 worked days, Wednesday late, Friday unconfirmed; current week: Monday,
    Tuesday, Wednesday still open, the rest ahead."""
    p, c = PREVIOUS_MONDAY, CURRENT_MONDAY
    nine = time(9, 0)
    days = [
        day(p, hm(8), start=nine),
        day(p + timedelta(1), hm(8, 5), start=nine),
        day(p + timedelta(2), hm(8, 10), start=time(9, 40), late_by=hm(0, 40)),
        day(p + timedelta(3), hm(8, 15), start=nine),
        day(p + timedelta(4), hm(8, 20), start=nine, provisional=True),
        day(p + timedelta(5), norm=None),
        day(p + timedelta(6), hm(2, 30), norm=None, start=time(12, 0)),
        day(c, hm(8, 35), start=nine),
        day(c + timedelta(1), hm(8, 40), start=nine),
        day(c + timedelta(2), hm(3, 0), start=time(9, 5), is_open=True),
        day(c + timedelta(3)),
        day(c + timedelta(4)),
        day(c + timedelta(5), norm=None),
        day(c + timedelta(6), norm=None),
    ]
    return days


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("td", "ru", "en"),
    [
        (timedelta(), "0 мин", "0 min"),
        (timedelta(seconds=59), "0 мин", "0 min"),
        (hm(0, 12), "12 мин", "12 min"),
        (hm(3, 5), "3 ч 05 мин", "3 h 05 min"),
        (hm(8), "8 ч", "8 h"),
        (hm(7, 59) + timedelta(seconds=59), "7 ч 59 мин", "7 h 59 min"),
        (hm(41, 30), "41 ч 30 мин", "41 h 30 min"),
        (-hm(1, 30), "−1 ч 30 мин", "−1 h 30 min"),
    ],
)
def test_durations_read_as_hours_and_minutes(td: timedelta, ru: str, en: str) -> None:
    assert format_duration(td, "ru") == ru
    assert format_duration(td, "en") == en


@given(st.integers(min_value=-100_000, max_value=100_000), st.integers(0, 59))
def test_a_duration_text_gives_back_its_whole_minutes(minutes: int, seconds: int) -> None:
    td = timedelta(minutes=minutes, seconds=seconds if minutes >= 0 else -seconds)
    text = format_duration(td, "en")
    m = re.fullmatch(r"(−)?(?:(\d+) h)? ?(?:(\d+) min)?", text)
    assert m is not None, text
    total = int(m.group(2) or 0) * 60 + int(m.group(3) or 0)
    assert (-total if m.group(1) else total) == minutes


def test_differences_carry_their_sign() -> None:
    assert format_signed_duration(hm(1, 10)) == "+1 ч 10 мин"
    assert format_signed_duration(-hm(2)) == "−2 ч"
    assert format_signed_duration(timedelta(seconds=30)) == "0 мин"


# -- the attachment ----------------------------------------------------------------------------


def grids(wire: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [block["GRID"] for block in wire["BLOCKS"] if "GRID" in block]


def messages(wire: dict[str, Any]) -> list[str]:
    return [block["MESSAGE"] for block in wire["BLOCKS"] if "MESSAGE" in block]


def test_attach_has_a_row_per_day_and_a_totals_row_per_week() -> None:
    wire = week_attach(two_weeks(), lang="ru", tz=MSK, chart_url=None).to_wire()
    previous, current = grids(wire)
    assert [r["NAME"] for r in previous] == [
        "Пн 09.11",
        "Вт 10.11",
        "Ср 11.11",
        "Чт 12.11",
        "Пт 13.11",
        "Сб 14.11",
        "Вс 15.11",
        "Итого",
    ]
    assert [r["NAME"] for r in current][:2] == ["Пн 16.11", "Вт 17.11"]
    assert all(r["DISPLAY"] == "ROW" for r in previous + current)
    titles = messages(wire)
    assert titles[0] == "[b]Моя неделя[/b]"
    assert titles[1].startswith("[b]Прошлая неделя · 09.11 – 15.11")
    assert titles[2].startswith("[b]Эта неделя · 16.11 – 22.11")
    assert not any("IMAGE" in block for block in wire["BLOCKS"])


def test_day_rows_show_worked_norm_times_and_markers() -> None:
    previous, current = grids(week_attach(two_weeks(), lang="ru", tz=MSK, chart_url=None).to_wire())
    assert previous[0]["VALUE"] == "8 ч / 8 ч · 09:00–18:00"
    late = previous[2]
    assert late["VALUE"] == "8 ч 10 мин / 8 ч · 09:40–18:50 · опоздание 40 мин"
    assert late["COLOR_TOKEN"] == "alert"
    assert "COLOR_TOKEN" not in previous[0]
    assert previous[4]["VALUE"].endswith("⚠ не подтверждено")
    assert previous[5]["VALUE"] == "выходной"
    assert previous[6]["VALUE"] == "2 ч 30 мин · выходной · 12:00–15:30"
    assert current[2]["VALUE"] == "3 ч / 8 ч · 09:05–⏳ идёт"
    assert current[3]["VALUE"] == "0 мин / 8 ч"


def test_totals_compare_worked_time_with_the_norm() -> None:
    previous, current = grids(week_attach(two_weeks(), lang="ru", tz=MSK, chart_url=None).to_wire())
    # 8:00 + 8:05 + 8:10 + 8:15 + 8:20 + 2:30 on Sunday = 43:20 against 5 × 8 h.
    assert previous[-1]["VALUE"] == "[b]43 ч 20 мин из 40 ч (+3 ч 20 мин) · опозданий: 1[/b]"
    # 8:35 + 8:40 + 3:00 = 20:15.
    assert current[-1]["VALUE"] == "[b]20 ч 15 мин из 40 ч (−19 ч 45 мин) · опозданий: 0[/b]"


def test_times_are_written_in_the_persons_zone() -> None:
    ekb = ZoneInfo("Asia/Yekaterinburg")  # two hours ahead of Moscow
    previous, _ = grids(week_attach(two_weeks(), lang="ru", tz=ekb, chart_url=None).to_wire())
    assert "11:40–20:50" in previous[2]["VALUE"]


def test_english_attach_with_chart() -> None:
    url = "https://timebot.example/charts/week/abc.png"
    wire = week_attach(two_weeks(), lang="en", tz=MSK, chart_url=url).to_wire()
    previous, current = grids(wire)
    assert previous[2]["NAME"] == "Wed 11 Nov"
    assert previous[2]["VALUE"] == "8 h 10 min / 8 h · 09:40–18:50 · late by 40 min"
    assert previous[5]["VALUE"] == "day off"
    assert current[2]["VALUE"].endswith("⏳ in progress")
    assert previous[-1]["VALUE"] == "[b]43 h 20 min of 40 h (+3 h 20 min) · late: 1[/b]"
    assert messages(wire)[1].startswith("[b]Last week · 9 Nov – 15 Nov")
    images = [block["IMAGE"] for block in wire["BLOCKS"] if "IMAGE" in block]
    assert images == [[{"LINK": url, "NAME": "Chart for two weeks", "WIDTH": 800, "HEIGHT": 400}]]


def test_days_given_out_of_order_are_sorted_into_weeks() -> None:
    days = two_weeks()
    shuffled = days[7:] + days[:7][::-1]
    assert week_attach(shuffled, lang="ru", tz=MSK, chart_url=None) == week_attach(
        days, lang="ru", tz=MSK, chart_url=None
    )


# -- the summary line --------------------------------------------------------------------------


def test_week_text_sums_up_the_latest_week() -> None:
    assert week_text(two_weeks(), lang="ru") == (
        "[b]Эта неделя:[/b] 20 ч 15 мин из 40 ч · опозданий: 0"
    )
    assert week_text(two_weeks()[:7], lang="en") == (
        "[b]This week:[/b] 43 h 20 min of 40 h · late: 1"
    )


def test_week_text_without_days_or_norm() -> None:
    assert week_text([], lang="ru") == "[b]Эта неделя:[/b] 0 мин"
    holiday = [day(CURRENT_MONDAY + timedelta(i), norm=None) for i in range(7)]
    assert week_text(holiday, lang="en") == "[b]This week:[/b] 0 min · late: 0"


# -- the chart ---------------------------------------------------------------------------------

PLOT_ROWS = slice(0, 300)  # above the tick labels and the legend (the axes end at y ≈ 312)


def decode(png: bytes) -> np.ndarray[Any, Any]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return np.asarray(imread(io.BytesIO(png), format="png"))


def pixels_of(image: np.ndarray[Any, Any], color: str) -> int:
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    plot = image[PLOT_ROWS, :, :3]
    return int(np.all(np.abs(plot - rgb) < 1.5 / 255, axis=-1).sum())


def test_chart_is_a_small_png_of_the_announced_size() -> None:
    png = render_week_chart(two_weeks(), lang="ru")
    assert len(png) < 100_000
    image = decode(png)
    assert image.shape == (CHART_HEIGHT, CHART_WIDTH, 4)


def test_chart_is_deterministic_and_localized() -> None:
    days = two_weeks()
    ru = render_week_chart(days, lang="ru")
    assert render_week_chart(days, lang="ru") == ru
    assert render_week_chart(days, lang="en") != ru


def test_late_days_are_drawn_in_the_late_colour() -> None:
    days = two_weeks()
    with_late = decode(render_week_chart(days, lang="ru"))
    on_time = [d if d.late_by is None else day(d.local_date, d.worked, start=time(9)) for d in days]
    without_late = decode(render_week_chart(on_time, lang="ru"))
    assert pixels_of(with_late, COLORS["late"]) > 1000
    assert pixels_of(without_late, COLORS["late"]) == 0


def test_bar_area_follows_the_hours_worked() -> None:
    monday = CURRENT_MONDAY
    week = [day(monday + timedelta(i), norm=None if i >= 5 else EIGHT) for i in range(7)]
    four = [day(monday, hm(4), start=time(9)), *week[1:]]
    eight = [day(monday, hm(8), start=time(9)), *week[1:]]
    empty_blue = pixels_of(decode(render_week_chart(week, lang="ru")), COLORS["worked"])
    four_blue = pixels_of(decode(render_week_chart(four, lang="ru")), COLORS["worked"])
    eight_blue = pixels_of(decode(render_week_chart(eight, lang="ru")), COLORS["worked"])
    assert empty_blue == 0
    assert four_blue > 500
    assert eight_blue / four_blue == pytest.approx(2, rel=0.06)


def test_chart_without_days_still_renders() -> None:
    assert decode(render_week_chart([], lang="en")).shape == (CHART_HEIGHT, CHART_WIDTH, 4)
