"""Bitrix24's own Work Time (`timeman.*`): the call that mirrors one of our marks.

`timeman.open` starts a day and also resumes a paused one; `pause` and `close` do what they say.
Without `TIME` the portal stamps its own clock, which is what we want when the call goes out
right after the mark; a back-dated mark (a stated check-out time, an approved correction) sends
`TIME` in ATOM format with the person's offset, and then Bitrix24 requires a `REPORT`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["TIMEMAN_METHODS", "timeman_call"]

TIMEMAN_METHODS = {
    "check_in": "timeman.open",
    "break_start": "timeman.pause",
    "break_end": "timeman.open",
    "check_out": "timeman.close",
}


def timeman_call(
    kind: str,
    user_id: int,
    *,
    at: datetime | None = None,
    report: str = "",
    lat: float | None = None,
    lon: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """(method, params) mirroring a mark of `kind` for Bitrix user `user_id`.

    Pass `at` (aware, in the person's zone) only for back-dated marks; `report` then must be
    non-empty. Coordinates go with opening and closing, as Bitrix24 stores them there.
    """
    method = TIMEMAN_METHODS.get(kind)
    if method is None:
        raise ValueError(f"no timeman call for a {kind!r} mark")
    params: dict[str, Any] = {"USER_ID": user_id}
    if at is not None and method != "timeman.pause" and kind != "break_end":
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("timeman TIME needs an aware datetime")
        if not report.strip():
            raise ValueError("Bitrix24 requires a REPORT with an explicit TIME")
        params["TIME"] = at.replace(microsecond=0).isoformat()
        params["REPORT"] = report
    if lat is not None and lon is not None and method != "timeman.pause":
        params["LAT"] = lat
        params["LON"] = lon
    return method, params
