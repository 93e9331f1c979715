"""The reports page's PNG: deterministic, sized to the people shown, at most MAX_PEOPLE bars."""

from __future__ import annotations

import io
import struct
from datetime import date, timedelta

from timebot.web.admin.ops.chart import MAX_PEOPLE, ROW_PX, render_period_chart
from timebot.web.admin.ops.stats import PeriodStats, PersonStats


def stats(count: int) -> PeriodStats:
    people = tuple(
        PersonStats(
            employee_id=i,
            user_id=i,
            name=f"Сотрудник {i:02d}",
            departments=("Отдел",),
            worked=timedelta(hours=120 + i),
            norm=timedelta(hours=159),
            days_worked=15,
            late_days=i % 3,
            violations=i % 4,
        )
        for i in range(count)
    )
    return PeriodStats(date(2026, 11, 1), date(2026, 11, 30), people)


def size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", io.BytesIO(png).getbuffer()[16:24])
    return width, height


def test_equal_statistics_give_equal_pictures() -> None:
    assert render_period_chart(stats(5)) == render_period_chart(stats(5))
    assert render_period_chart(stats(5), lang="en") != render_period_chart(stats(5))


def test_the_picture_grows_with_the_people_up_to_the_limit() -> None:
    w0, h0 = size(render_period_chart(stats(0)))
    w5, h5 = size(render_period_chart(stats(5)))
    w_max, h_max = size(render_period_chart(stats(MAX_PEOPLE)))
    w_more, h_more = size(render_period_chart(stats(MAX_PEOPLE + 7)))
    assert w0 == w5 == w_max == w_more
    assert h5 - h0 == 4 * ROW_PX
    assert h_more == h_max
