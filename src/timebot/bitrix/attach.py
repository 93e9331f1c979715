"""Message attachments (ATTACH): text, name | value grids, links, images and delimiters, with an
optional colour. Immutable and fluent: `Attach(color="primary").grid([("Пришёл", "09:02")])`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from timebot.bitrix.bbcode import escape
from timebot.bitrix.keyboard import ColorToken

__all__ = ["MAX_ATTACH_CHARS", "Attach", "GridDisplay", "GridRow"]

GridDisplay = Literal["ROW", "BLOCK", "LINE", "TABLE"]
MAX_ATTACH_CHARS = 60_000  # the portal refuses bigger ATTACH values (ATTACH_OVERSIZE)
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")


def _check_url(href: str) -> str:
    href = href.strip()
    if href.startswith(("https://", "http://")) or (
        href.startswith("/") and not href.startswith("//")
    ):
        return href
    raise ValueError(f"attachment links must be http(s) or relative to the portal: {href!r}")


def _check_color(color: str | None) -> str | None:
    if color is not None and not _HEX_COLOR.fullmatch(color):
        raise ValueError(f"not a #RGB / #RRGGBB colour: {color!r}")
    return color


@dataclass(frozen=True, slots=True)
class GridRow:
    """One NAME | VALUE cell of a GRID block. VALUE supports BB-code: plain strings are escaped,
    `BB` values are sent as they are."""

    name: str
    value: str
    display: GridDisplay = "ROW"
    width: int | None = None
    color: ColorToken | None = None
    link: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The row as a GRID element."""
        wire: dict[str, Any] = {
            "NAME": self.name,
            "VALUE": escape(self.value),
            "DISPLAY": self.display,
        }
        if self.width is not None:
            wire["WIDTH"] = self.width
        if self.color:
            wire["COLOR_TOKEN"] = self.color
        if self.link:
            wire["LINK"] = _check_url(self.link)
        return wire


@dataclass(frozen=True, slots=True)
class Attach:
    """An attachment: blocks in order plus the whole attachment's colour."""

    color: ColorToken | None = None
    hex_color: str | None = None
    id: int | None = None
    blocks: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        _check_color(self.hex_color)

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def _add(self, block: Mapping[str, Any]) -> Attach:
        return replace(self, blocks=(*self.blocks, block))

    def message(self, text: str) -> Attach:
        """A text block (BB-code allowed via `BB`; plain text is escaped)."""
        return self._add({"MESSAGE": escape(text)})

    def grid(
        self,
        rows: Iterable[GridRow | tuple[str, str]],
        *,
        display: GridDisplay = "ROW",
        width: int | None = None,
    ) -> Attach:
        """A GRID block; (name, value) pairs become rows shown as `display` (ROW gives a
        two-column name | value table)."""
        cells = [
            row if isinstance(row, GridRow) else GridRow(row[0], row[1], display, width)
            for row in rows
        ]
        if not cells:
            raise ValueError("a grid needs at least one row")
        return self._add({"GRID": [cell.to_wire() for cell in cells]})

    def link(
        self,
        href: str,
        name: str | None = None,
        *,
        description: str | None = None,
        preview: str | None = None,
    ) -> Attach:
        """A LINK block: a titled link with an optional description and preview image."""
        block: dict[str, Any] = {"LINK": _check_url(href)}
        if name:
            block["NAME"] = name
        if description:
            block["DESC"] = description
        if preview:
            block["PREVIEW"] = _check_url(preview)
        return self._add({"LINK": block})

    def image(
        self,
        href: str,
        *,
        name: str | None = None,
        preview: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> Attach:
        """An IMAGE block with one picture (give width and height for a stable layout)."""
        image: dict[str, Any] = {"LINK": _check_url(href)}
        if name:
            image["NAME"] = name
        if preview:
            image["PREVIEW"] = _check_url(preview)
        if width is not None and height is not None:
            image["WIDTH"] = width
            image["HEIGHT"] = height
        return self._add({"IMAGE": [image]})

    def delimiter(self, *, size: int = 200, color: str = "#c6c6c6") -> Attach:
        """A horizontal line between parts of the attachment."""
        return self._add({"DELIMITER": {"SIZE": size, "COLOR": _check_color(color)}})

    def to_wire(self) -> dict[str, Any]:
        """The full ATTACH object `{ID?, COLOR_TOKEN?, COLOR?, BLOCKS}`; refuses an attachment
        bigger than the portal accepts."""
        if not self.blocks:
            raise ValueError("an attachment needs at least one block")
        wire: dict[str, Any] = {}
        if self.id is not None:
            wire["ID"] = self.id
        if self.color:
            wire["COLOR_TOKEN"] = self.color
        if self.hex_color:
            wire["COLOR"] = self.hex_color
        wire["BLOCKS"] = [dict(block) for block in self.blocks]
        if len(json.dumps(wire, ensure_ascii=False)) > MAX_ATTACH_CHARS:
            raise ValueError(f"the attachment exceeds {MAX_ATTACH_CHARS} characters")
        return wire
