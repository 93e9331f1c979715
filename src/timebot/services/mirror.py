"""Mirroring our marks into Bitrix24's Work Time (optional per portal, `timeman_mirror`).

The call is an outbox row written in the mark's own transaction: a slow or failing portal never
blocks or undoes our record, and a failure is reported to the portal's admins by the
dispatcher (see `timebot.gateway.outbox`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from timebot.bitrix.timeman import timeman_call
from timebot.storage import UnitOfWork
from timebot.storage.tables import Portal

# A mark older than this when queued is back-dated: send its TIME explicitly.
BACKDATED_AFTER = timedelta(minutes=1)
TIMEMAN_KIND = "timeman"


def mirror_enabled(portal: Portal) -> bool:
    return bool((portal.settings or {}).get("timeman_mirror"))


async def mirror_mark(
    uow: UnitOfWork,
    portal: Portal,
    *,
    user_id: int,
    kind: str,
    mark_id: int,
    at: datetime,
    now: datetime,
    tz: ZoneInfo,
    report: str = "",
    location: dict[str, Any] | None = None,
) -> bool:
    """Queue the timeman call for one mark if the portal mirrors; True when queued."""
    if not mirror_enabled(portal):
        return False
    backdated = now - at > BACKDATED_AFTER
    location = location or {}
    method, params = timeman_call(
        kind,
        user_id,
        at=at.astimezone(tz) if backdated else None,
        report=report or ("timebot: время указано сотрудником" if backdated else ""),
        lat=location.get("lat"),
        lon=location.get("lon"),
    )
    await uow.outbox.enqueue(
        portal_id=portal.id,
        kind=TIMEMAN_KIND,
        method=method,
        payload={"params": params, "mark_id": mark_id},
        now=now,
        dedupe_key=f"timeman:{mark_id}",
    )
    return True
