"""«Моя неделя»: a person's previous and current week as a chat ATTACH and a one-line summary.

ATTACH blocks accept only a few BB-codes (no `[timestamp]`), so times inside the attachment
are written in the person's zone; `week_text` is plain message BB-code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from timebot.bitrix import Attach, GridRow
from timebot.bitrix.bbcode import BB, bold, escape
from timebot.services.tracking import DaySummary

__all__ = [
    "CHART_HEIGHT",
    "CHART_WIDTH",
    "Lang",
    "WeekTotals",
    "day_label",
    "format_duration",
    "format_signed_duration",
    "split_weeks",
    "week_attach",
    "week_text",
    "week_title",
    "week_totals",
]

Lang = Literal["ru", "en"]

# The PNG chart's size in pixels (the IMAGE block announces it for a stable layout).
CHART_WIDTH: Final = 800
CHART_HEIGHT: Final = 400

WEEKDAYS: Final[dict[Lang, tuple[str, ...]]] = {
    "ru": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
MONTHS_EN: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
MINUS: Final = "\u2212"
DAY_LABEL_WIDTH: Final = 110

TEXTS: Final[dict[Lang, dict[str, str]]] = {
    "ru": {
        "title": "Моя неделя",
        "this_week": "Эта неделя",
        "last_week": "Прошлая неделя",
        "week": "Неделя",
        "total": "Итого",
        "of": "из",
        "late_days": "опозданий",
        "late": "опоздание",
        "open": "⏳ идёт",
        "provisional": "⚠ не подтверждено",
        "day_off": "выходной",
        "chart": "График за две недели",
        "h": "ч",
        "min": "мин",
    },
    "en": {
        "title": "My week",
        "this_week": "This week",
        "last_week": "Last week",
        "week": "Week",
        "total": "Total",
        "of": "of",
        "late_days": "late",
        "late": "late by",
        "open": "⏳ in progress",
        "provisional": "⚠ unconfirmed",
        "day_off": "day off",
        "chart": "Chart for two weeks",
        "h": "h",
        "min": "min",
    },
}


def _texts(lang: Lang) -> dict[str, str]:
    return TEXTS["en" if lang == "en" else "ru"]


def format_duration(td: timedelta, lang: Lang = "ru") -> str:
    """ "3 ч 05 мин", "8 ч", "12 мин", "0 мин" (whole minutes, never rounded up); negative
    durations get a minus sign."""
    t = _texts(lang)
    sign = MINUS if td < timedelta() else ""
    minutes = int(abs(td).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{sign}{hours} {t['h']} {minutes:02d} {t['min']}"
    if hours:
        return f"{sign}{hours} {t['h']}"
    if minutes:
        return f"{sign}{minutes} {t['min']}"
    return f"0 {t['min']}"


def format_signed_duration(td: timedelta, lang: Lang = "ru") -> str:
    """Like `format_duration`, with "+" for a positive difference ("+1 ч 10 мин", "−2 ч")."""
    text = format_duration(td, lang)
    return "+" + text if td >= timedelta(minutes=1) else text


def day_label(d: date, lang: Lang = "ru") -> str:
    """ "Пн 17.11" / "Mon 17 Nov"."""
    weekday = WEEKDAYS["en" if lang == "en" else "ru"][d.weekday()]
    if lang == "en":
        return f"{weekday} {d.day} {MONTHS_EN[d.month - 1]}"
    return f"{weekday} {d:%d.%m}"


def _span(first: date, last: date, lang: Lang) -> str:
    if lang == "en":
        return f"{first.day} {MONTHS_EN[first.month - 1]} – {last.day} {MONTHS_EN[last.month - 1]}"
    return f"{first:%d.%m} – {last:%d.%m}"


@dataclass(frozen=True, slots=True)
class WeekTotals:
    """One week's sums."""

    monday: date
    worked: timedelta
    norm: timedelta
    late_days: int
    open: bool

    @property
    def difference(self) -> timedelta:
        return self.worked - self.norm


def split_weeks(days: Sequence[DaySummary]) -> list[list[DaySummary]]:
    """Days grouped by their Monday-to-Sunday week, weeks and days in date order."""
    weeks: dict[date, list[DaySummary]] = {}
    for day in sorted(days, key=lambda d: d.local_date):
        monday = day.local_date - timedelta(days=day.local_date.weekday())
        weeks.setdefault(monday, []).append(day)
    return [weeks[monday] for monday in sorted(weeks)]


def week_totals(week: Sequence[DaySummary]) -> WeekTotals:
    """Worked and expected time, late days of one week's days."""
    first = min(d.local_date for d in week)
    return WeekTotals(
        monday=first - timedelta(days=first.weekday()),
        worked=sum((d.worked for d in week), timedelta()),
        norm=sum((d.norm for d in week if d.norm is not None), timedelta()),
        late_days=sum(1 for d in week if d.late_by is not None),
        open=any(d.is_open for d in week),
    )


def _local_time(at: datetime, tz: ZoneInfo) -> str:
    return f"{at.astimezone(tz):%H:%M}"


def _day_value(day: DaySummary, lang: Lang, tz: ZoneInfo) -> str:
    t = _texts(lang)
    has_work = day.worked > timedelta() or day.first_in is not None
    if day.norm is None and not has_work:
        return t["day_off"]
    parts: list[str] = []
    worked = format_duration(day.worked, lang)
    if day.norm is None:
        parts.append(f"{worked} · {t['day_off']}")
    else:
        parts.append(f"{worked} / {format_duration(day.norm, lang)}")
    if day.first_in is not None:
        end = (
            t["open"]
            if day.is_open
            else (_local_time(day.last_out, tz) if day.last_out is not None else "…")
        )
        parts.append(f"{_local_time(day.first_in, tz)}–{end}")
    if day.late_by is not None:
        parts.append(f"{t['late']} {format_duration(day.late_by, lang)}")
    if day.provisional:
        parts.append(t["provisional"])
    return " · ".join(parts)


def week_title(index: int, weeks: list[list[DaySummary]], lang: Lang) -> str:
    """The week's heading, "Прошлая неделя · 09.11 – 15.11"; the latest week is "this week"."""
    t = _texts(lang)
    week = weeks[index]
    first = week[0].local_date
    monday = first - timedelta(days=first.weekday())
    span = _span(monday, monday + timedelta(days=6), lang)
    last_monday = weeks[-1][0].local_date - timedelta(days=weeks[-1][0].local_date.weekday())
    if index == len(weeks) - 1:
        name = t["this_week"]
    elif monday == last_monday - timedelta(days=7):
        name = t["last_week"]
    else:
        name = t["week"]
    return f"{name} · {span}"


def _totals_value(totals: WeekTotals, lang: Lang) -> BB:
    t = _texts(lang)
    text = f"{format_duration(totals.worked, lang)} {t['of']} {format_duration(totals.norm, lang)}"
    text += f" ({format_signed_duration(totals.difference, lang)})"
    text += f" · {t['late_days']}: {totals.late_days}"
    return bold(text)


def week_attach(
    days: Sequence[DaySummary],
    *,
    lang: Lang = "ru",
    tz: ZoneInfo,
    chart_url: str | None = None,
) -> Attach:
    """The week table: a GRID row per day (worked / norm, in–out, lateness, markers) and a
    totals row per week, previous week first; the chart image at the end when given."""
    t = _texts(lang)
    attach = Attach(color="primary").message(bold(t["title"]))
    weeks = split_weeks(days)
    for index, week in enumerate(weeks):
        if index:
            attach = attach.delimiter()
        totals = week_totals(week)
        rows = [
            GridRow(
                day_label(day.local_date, lang),
                _day_value(day, lang, tz),
                width=DAY_LABEL_WIDTH,
                color="alert" if day.late_by is not None else None,
            )
            for day in week
        ]
        rows.append(GridRow(t["total"], _totals_value(totals, lang), width=DAY_LABEL_WIDTH))
        attach = attach.message(bold(week_title(index, weeks, lang))).grid(rows)
    if chart_url:
        attach = attach.image(chart_url, name=t["chart"], width=CHART_WIDTH, height=CHART_HEIGHT)
    return attach


def week_text(days: Sequence[DaySummary], *, lang: Lang = "ru") -> BB:
    """One line about the latest week in `days`:
    "Эта неделя: 32 ч 10 мин из 40 ч · опозданий: 1"."""
    t = _texts(lang)
    weeks = split_weeks(days)
    if not weeks:
        return BB(bold(t["this_week"] + ":") + escape(f" {format_duration(timedelta(), lang)}"))
    totals = week_totals(weeks[-1])
    text = f" {format_duration(totals.worked, lang)}"
    if totals.norm:
        text += f" {t['of']} {format_duration(totals.norm, lang)}"
    text += f" · {t['late_days']}: {totals.late_days}"
    return BB(bold(t["this_week"] + ":") + escape(text))
