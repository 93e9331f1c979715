"""The reports page's PNG: deterministic, sized to the people shown, at most MAX_PEOPLE bars."""

from __future__ import annotations

import io
import struct
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from timebot.services.api_reports import PeopleTotals, PersonPeriod
from timebot.services.tracking import DaySummary
from timebot.web.admin.ops.chart import MAX_PEOPLE, ROW_PX, render_period_chart


def day(n: int, worked: timedelta, norm: timedelta, *, late: bool = False) -> DaySummary:
    at = datetime(2026, 11, n, 6, tzinfo=UTC)
    return DaySummary(
        local_date=date(2026, 11, n),
        worked=worked,
        on_break=timedelta(),
        norm=norm,
        first_in=at,
        last_out=at + worked,
        late_by=timedelta(minutes=5) if late else None,
        is_open=False,
        provisional=False,
    )


def stats(count: int) -> PeopleTotals:
    """`count` people with 120 + i hours worked against 159 and i % 3 late days."""
    people = tuple(
        PersonPeriod(
            employee_id=i,
            user_id=i,
            name=f"Сотрудник {i:02d}",
            department_ids=(2,),
            tz=ZoneInfo("Europe/Moscow"),
            today=date(2026, 11, 30),
            days=(
                day(2, timedelta(hours=120 + i), timedelta(hours=159)),
                *(day(3 + n, timedelta(), timedelta(), late=True) for n in range(i % 3)),
            ),
        )
        for i in range(count)
    )
    return PeopleTotals(date(2026, 11, 1), date(2026, 11, 30), people)


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
