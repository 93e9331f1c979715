"""Per-portal chores that run "when due" (directory sync, network ranges, plan limits).

Their bookkeeping lives in `portals.settings` as ISO instants: when the chore last succeeded,
when it last failed. A failing portal is logged and left alone for a while, and never keeps the
other portals from their turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from timebot.bitrix import BitrixError
from timebot.domain.clock import Clock
from timebot.gateway.auth import PortalNotConnected
from timebot.logs import get_logger
from timebot.storage import Database

log = get_logger(__name__)


def settings_instant(settings: Mapping[str, Any] | None, key: str) -> datetime | None:
    """An aware instant stored under `key`, or None when missing or unreadable."""
    value = (settings or {}).get(key)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def resting_after_failure(
    done: datetime | None, failed: datetime | None, now: datetime, retry_after: timedelta
) -> bool:
    """True while the latest attempt failed less than `retry_after` ago."""
    return failed is not None and (done is None or failed > done) and now - failed < retry_after


async def note_in_settings(database: Database, portal_id: int, key: str, at: datetime) -> None:
    """Stamp `key` in the portal's settings, under its row lock (read-modify-write)."""
    async with database.unit_of_work() as uow:
        portal = await uow.portals.lock(portal_id)
        if portal is None:
            return
        portal.settings = {**(portal.settings or {}), key: at.isoformat()}
        await uow.commit()


async def for_due_portals(
    database: Database,
    *,
    clock: Clock,
    due: Callable[[Mapping[str, Any], datetime], bool],
    work: Callable[[int], Awaitable[object]],
    failed_key: str,
    event: str,
) -> int:
    """Run `work(portal_id)` for every active portal whose settings say it is `due`; a failure
    is logged as `event` and stamped under `failed_key`. Returns how many succeeded."""
    now = clock.now()
    async with database.unit_of_work() as uow:
        ids = [p.id for p in await uow.portals.active() if due(p.settings or {}, now)]
    done = 0
    for portal_id in ids:
        try:
            await work(portal_id)
        except Exception as exc:  # one portal's failure must not starve the others
            log.warning(
                event,
                portal_id=portal_id,
                error=f"{type(exc).__name__}: {exc}",
                exc_info=not isinstance(exc, BitrixError | PortalNotConnected),
            )
            await note_in_settings(database, portal_id, failed_key, clock.now())
            continue
        done += 1
    return done
