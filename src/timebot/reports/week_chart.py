"""The two-week chart behind «Моя неделя»: worked hours per day against the day's norm, as PNG.

Built with matplotlib's object API on an Agg canvas (no pyplot state), so requests may render
charts in parallel threads. Colours, sizes and text are fixed here, never read from rcParams
changes, so equal days give equal pictures.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from timebot.reports.week import (
    CHART_HEIGHT,
    CHART_WIDTH,
    WEEKDAYS,
    Lang,
    format_duration,
    split_weeks,
    week_title,
    week_totals,
)
from timebot.services.tracking import DaySummary

__all__ = ["COLORS", "render_week_chart"]

DPI: Final = 100
WEEK_GAP: Final = 0.8  # empty space between the two weeks, in bar slots
BAR_WIDTH: Final = 0.7
COLORS: Final = {
    "worked": "#3d7edb",
    "late": "#e0533d",
    "norm": "#1f1f1f",
    "day_off": "#eeeeee",
    "text": "#333333",
    "grid": "#dddddd",
}
LABELS: Final[dict[Lang, dict[str, str]]] = {
    "ru": {
        "worked": "отработано",
        "late": "опоздание",
        "norm": "норма",
        "hours": "часы",
        "empty": "нет данных",
    },
    "en": {
        "worked": "worked",
        "late": "late",
        "norm": "norm",
        "hours": "hours",
        "empty": "no data",
    },
}


def _hours(td: timedelta) -> float:
    return td.total_seconds() / 3600


def _clock(td: timedelta) -> str:
    minutes = int(td.total_seconds() // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def render_week_chart(days: Sequence[DaySummary], *, lang: Lang = "ru") -> bytes:
    """A CHART_WIDTH × CHART_HEIGHT PNG: one bar per day (late days in red, open days hatched),
    the day's norm as a line over its bar, days off shaded, each week's total above it."""
    lang = "en" if lang == "en" else "ru"
    labels = LABELS[lang]
    fig = Figure(figsize=(CHART_WIDTH / DPI, CHART_HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(fig)  # attaches itself: savefig renders with Agg, no pyplot backend
    fig.subplots_adjust(left=0.07, right=0.99, top=0.88, bottom=0.22)
    ax = fig.add_subplot()
    weeks = split_weeks(days)

    top = 1.0
    ticks: list[float] = []
    tick_labels: list[str] = []
    for w, week in enumerate(weeks):
        offset = w * (7 + WEEK_GAP)
        for day in week:
            x = offset + day.local_date.weekday()
            worked = _hours(day.worked)
            ticks.append(x)
            tick_labels.append(
                f"{WEEKDAYS[lang][day.local_date.weekday()]}\n{day.local_date:%d.%m}"
            )
            if day.norm is None:
                ax.axvspan(x - 0.5, x + 0.5, color=COLORS["day_off"], zorder=0, linewidth=0)
            else:
                norm = _hours(day.norm)
                top = max(top, norm)
                ax.hlines(
                    norm,
                    x - 0.45,
                    x + 0.45,
                    colors=COLORS["norm"],
                    linewidth=2,
                    zorder=3,
                )
            if worked > 0:
                top = max(top, worked)
                ax.bar(
                    x,
                    worked,
                    width=BAR_WIDTH,
                    color=COLORS["late"] if day.late_by is not None else COLORS["worked"],
                    alpha=0.6 if day.is_open else 1.0,
                    hatch="//" if day.is_open or day.provisional else None,
                    edgecolor="white",
                    linewidth=0,
                    zorder=2,
                )
                ax.text(
                    x,
                    worked,
                    _clock(day.worked),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=COLORS["text"],
                    zorder=4,
                )
        totals = week_totals(week)
        summary = f"{format_duration(totals.worked, lang)} / {format_duration(totals.norm, lang)}"
        ax.text(
            offset + 3,
            1.03,
            f"{week_title(w, weeks, lang)} · {summary}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=9,
            color=COLORS["text"],
        )

    if not weeks:
        ax.text(0.5, 0.5, labels["empty"], transform=ax.transAxes, ha="center", va="center")
    span = len(weeks) * (7 + WEEK_GAP) - WEEK_GAP
    ax.set_xlim(-0.6, max(span, 1.0) - 0.4)
    ax.set_ylim(0, top * 1.18)
    ax.set_xticks(ticks, tick_labels, fontsize=8)
    ax.set_ylabel(labels["hours"], fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", color=COLORS["grid"], linewidth=0.6, zorder=1)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(
        handles=[
            Patch(color=COLORS["worked"], label=labels["worked"]),
            Patch(color=COLORS["late"], label=labels["late"]),
            Line2D([], [], color=COLORS["norm"], linewidth=2, label=labels["norm"]),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    out = io.BytesIO()
    # No "Software" metadata: the bytes depend on the days only, not on the library version.
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()
