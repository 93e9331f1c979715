"""The retention job: erase the raw data of location fixes older than their portal's retention
period (rules: `timebot.services.retention`), keeping verdict, zone, distance and flags.

Per portal, in batches of `batch_size` rows, each its own short transaction (a big backlog never
holds locks for long). PostgreSQL workers running it at once skip each other's locked rows; the
`erased_at IS NULL` condition makes a row count once however the runs interleave. Every portal
gets one audit entry per run that erased anything, with the count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from timebot.domain.clock import Clock
from timebot.logs import get_logger
from timebot.services.retention import erase_cutoff, retention_days
from timebot.storage import Database
from timebot.storage.tables import LocationFix, Portal

__all__ = [
    "ERASE_BATCH",
    "EVENT_DEDUPE_WINDOW",
    "RETENTION_INTERVAL_SECONDS",
    "erase_expired_locations",
    "forget_applied_events",
]

log = get_logger(__name__)

RETENTION_INTERVAL_SECONDS = 3600.0
ERASE_BATCH = 1000
# How long an applied event's row is kept in the inbox: its key dedupes Bitrix24's retries and a
# poll that brings the same event again, which happen within minutes to hours, not weeks.
EVENT_DEDUPE_WINDOW = timedelta(days=7)


async def forget_applied_events(
    database: Database, *, clock: Clock, keep: timedelta = EVENT_DEDUPE_WINDOW
) -> int:
    """Delete applied inbox rows received more than `keep` ago; pending and dead ones stay
    (they still have work, or an admin's attention, ahead of them). Returns how many."""
    async with database.unit_of_work() as uow:
        forgotten = await uow.events.prune(clock.now() - keep)
        await uow.commit()
    if forgotten:
        log.info("inbox.pruned", rows=forgotten)
    return forgotten


async def erase_expired_locations(
    database: Database, *, clock: Clock, batch_size: int = ERASE_BATCH
) -> int:
    """Erase coordinates, accuracy, IP and device time of expired fixes; returns how many.

    Every portal counts, uninstalled ones included: their people's data must go all the same.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    now = clock.now()
    async with database.unit_of_work() as uow:
        portals = [
            (pid, dict(s or {}))
            for pid, s in await uow.session.execute(
                select(Portal.id, Portal.settings).order_by(Portal.id)
            )
        ]
    total = 0
    for portal_id, settings in portals:
        cutoff = erase_cutoff(now, settings)
        erased = await _erase_portal(
            database,
            portal_id,
            cutoff,
            now=now,
            batch_size=batch_size,
            days=retention_days(settings),
        )
        total += erased
    return total


async def _erase_portal(
    database: Database,
    portal_id: int,
    cutoff: datetime,
    *,
    now: datetime,
    batch_size: int,
    days: int,
) -> int:
    erased = 0
    since = datetime.min.replace(tzinfo=UTC)
    while True:
        async with database.unit_of_work() as uow:
            batch = (
                await uow.session.execute(
                    select(LocationFix.id, LocationFix.at)
                    .where(
                        LocationFix.portal_id == portal_id,
                        LocationFix.at < cutoff,
                        # Keyset on the (portal_id, at) index: never walk again over the rows
                        # earlier batches erased (only those sharing the last instant).
                        LocationFix.at >= since,
                        LocationFix.erased_at.is_(None),
                    )
                    .order_by(LocationFix.at, LocationFix.id)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            ids = [row.id for row in batch]
            done = 0
            if ids:
                since = batch[-1].at
                result = await uow.session.execute(
                    update(LocationFix)
                    .where(LocationFix.id.in_(ids), LocationFix.erased_at.is_(None))
                    .values(
                        lat=None,
                        lon=None,
                        accuracy_m=None,
                        ip=None,
                        device_time=None,
                        erased_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                done = int(result.rowcount)  # type: ignore[attr-defined]
            erased += done
            last = len(ids) < batch_size
            if last and erased:
                # In the transaction of the last batch: the entry and the final rows go together.
                uow.audit.record(
                    portal_id=portal_id,
                    at=now,
                    actor="system",
                    action="locations.erased",
                    entity="location_fixes",
                    details={
                        "count": erased,
                        "before": cutoff.isoformat(),
                        "retention_days": days,
                    },
                )
            await uow.commit()
        if last:
            break
    if erased:
        log.info("retention.erased", portal_id=portal_id, count=erased, before=cutoff.isoformat())
    return erased
