"""The reports page's PNG: worked hours against the norm per person over the period.

matplotlib's object API on an Agg canvas (no pyplot state, safe in worker threads), fixed sizes
and colours, like `reports.week_chart`. One horizontal bar per person (late days in the label),
the norm as a tick over each bar; at most MAX_PEOPLE people, the rest counted under the chart.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Final

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from timebot.services.api_reports import PeopleTotals

__all__ = ["MAX_PEOPLE", "render_period_chart"]

MAX_PEOPLE: Final = 40
DPI: Final = 100
WIDTH_PX: Final = 900
ROW_PX: Final = 26
COLORS: Final = {
    "worked": "#3d7edb",
    "short": "#e0533d",
    "norm": "#1f1f1f",
    "text": "#333333",
    "grid": "#dddddd",
}
LABELS: Final = {
    "ru": {
        "worked": "отработано",
        "short": "меньше нормы",
        "norm": "норма",
        "hours": "часы",
        "empty": "нет данных за период",
        "more": "и ещё {n} — в таблице",
        "late": "опозд.",
    },
    "en": {
        "worked": "worked",
        "short": "below the norm",
        "norm": "norm",
        "hours": "hours",
        "empty": "no data for the period",
        "more": "and {n} more in the table",
        "late": "late",
    },
}


def _hours(td: timedelta) -> float:
    return td.total_seconds() / 3600


def render_period_chart(stats: PeopleTotals, *, lang: str = "ru") -> bytes:
    """The PNG bytes (deterministic for equal statistics)."""
    labels = LABELS["en" if lang == "en" else "ru"]
    people = stats.people[:MAX_PEOPLE]
    rows = max(len(people), 1)
    height_px = 140 + rows * ROW_PX
    fig = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    # Fixed room in pixels: the title above, the hours axis and the legend below.
    bottom = 90 / height_px
    top = 1 - 34 / height_px
    fig.subplots_adjust(left=0.3, right=0.97, top=top, bottom=bottom)
    ax = fig.add_subplot()
    if not people:
        ax.text(0.5, 0.5, labels["empty"], transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
        ax.set_xticks([])
    names: list[str] = []
    most = 1.0
    for i, p in enumerate(people):
        y = len(people) - 1 - i
        worked, norm = _hours(p.worked), _hours(p.norm)
        most = max(most, worked, norm)
        short = norm > 0 and worked < norm
        ax.barh(
            y,
            worked,
            height=0.6,
            color=COLORS["short"] if short else COLORS["worked"],
            zorder=2,
        )
        if norm > 0:
            ax.vlines(norm, y - 0.4, y + 0.4, colors=COLORS["norm"], linewidth=2, zorder=3)
        ax.text(
            worked,
            y,
            f" {worked:.1f} / {norm:.1f}",
            va="center",
            ha="left",
            fontsize=7,
            color=COLORS["text"],
            zorder=4,
        )
        late = f" · {labels['late']} {p.late_days}" if p.late_days else ""
        names.append(f"{p.name[:32]}{late}")
    if people:
        ax.set_yticks(range(len(people)), list(reversed(names)), fontsize=8)
        ax.set_ylim(-0.7, len(people) - 0.3)
    ax.set_xlim(0, most * 1.22)
    ax.set_xlabel(labels["hours"], fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color=COLORS["grid"], linewidth=0.6, zorder=1)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    title = f"{stats.first:%d.%m.%Y} – {stats.last:%d.%m.%Y}"
    hidden = len(stats.people) - len(people)
    if hidden > 0:
        title += " · " + labels["more"].format(n=hidden)
    ax.set_title(title, fontsize=10, color=COLORS["text"])
    fig.legend(
        handles=[
            Patch(color=COLORS["worked"], label=labels["worked"]),
            Patch(color=COLORS["short"], label=labels["short"]),
            Line2D([], [], color=COLORS["norm"], linewidth=2, label=labels["norm"]),
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 4 / height_px),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()
