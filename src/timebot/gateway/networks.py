"""Office IP ranges from Bitrix24's own Work Time settings (`timeman.networkrange.get`).

Bitrix24 gives ranges as "first-last" with a name ("192.168.10.0-192.168.10.255", "Офис
Москва"); offices keep CIDR blocks (what `domain.networks.parse_networks` reads), so each range
becomes the few blocks that cover it exactly. A range goes to the office of the same name, else
to the portal's first office; a portal without offices gets one, named after the first range.
Importing again adds only blocks no office has yet: ranges an admin moved or added by hand stay
as they are, and nothing is ever removed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from timebot.bitrix import BitrixClient, PortalAuth
from timebot.domain.clock import Clock
from timebot.gateway.auth import PortalNotConnected, portal_auth
from timebot.gateway.periodic import for_due_portals, resting_after_failure, settings_instant
from timebot.logs import get_logger
from timebot.storage import Database
from timebot.storage.tables import Office

__all__ = [
    "NETWORK_RANGES_FAILED_AT",
    "NETWORK_RANGES_IMPORTED_AT",
    "RemoteRange",
    "fetch_network_ranges",
    "import_due",
    "import_network_ranges",
    "is_due",
    "range_to_cidrs",
]

log = get_logger(__name__)

# Keys in `portal.settings` (ISO 8601 instants).
NETWORK_RANGES_IMPORTED_AT = "network_ranges_imported_at"
NETWORK_RANGES_FAILED_AT = "network_ranges_failed_at"

_DEFAULT_OFFICE_NAME = {"ru": "Офис", "en": "Office"}


@dataclass(frozen=True, slots=True)
class RemoteRange:
    """One range as Bitrix24 lists it, with the CIDR blocks that cover it."""

    ip_range: str
    name: str
    cidrs: tuple[str, ...]


def range_to_cidrs(text: str) -> tuple[str, ...]:
    """CIDR blocks covering `text`: "first-last", a CIDR block, or one address.

    A reversed range is read the right way round. ValueError for anything else (mixed IPv4 and
    IPv6, not addresses at all).
    """
    text = text.strip()
    if "-" in text:
        first_text, _, last_text = text.partition("-")
        first = ipaddress.ip_address(first_text.strip())
        last = ipaddress.ip_address(last_text.strip())
        if first.version != last.version:
            raise ValueError(f"{text!r} mixes IPv4 and IPv6")
        low, high = sorted((first, last))
        return tuple(str(n) for n in ipaddress.summarize_address_range(low, high))
    return (str(ipaddress.ip_network(text, strict=False)),)


def _parse(item: object) -> RemoteRange | None:
    if not isinstance(item, Mapping):
        return None
    raw = item.get("ip_range") or item.get("IP_RANGE") or item.get("range")
    name = item.get("name") or item.get("NAME") or ""
    if not isinstance(raw, str):
        return None
    try:
        cidrs = range_to_cidrs(raw)
    except ValueError:
        # One bad entry must not cost the others; it would also break presence checks later.
        log.warning("network_ranges.unreadable", ip_range=raw)
        return None
    return RemoteRange(ip_range=raw, name=str(name).strip()[:255], cidrs=cidrs)


async def fetch_network_ranges(client: BitrixClient, auth: PortalAuth) -> list[RemoteRange]:
    """The portal's office ranges (needs an administrator: ACCESS_ERROR otherwise)."""
    response = await client.call(auth, "timeman.networkrange.get", {})
    items = response.result if isinstance(response.result, list) else []
    return [r for r in map(_parse, items) if r is not None]


def _key(name: str) -> str:
    return " ".join(name.casefold().replace("ё", "е").split())


async def import_network_ranges(
    database: Database, client: BitrixClient, portal_id: int, *, clock: Clock
) -> int:
    """Import the portal's Bitrix24 office ranges into its offices; returns how many CIDR blocks
    were added (0 when everything was there already). Raises BitrixError when the portal
    refuses (ACCESS_ERROR: the connecting user is not an administrator) and PortalNotConnected
    when it has no credentials; nothing is written then."""
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        if portal is None or portal.status != "active":
            raise PortalNotConnected(f"portal {portal_id} is not active")
        auth = portal_auth(portal)
    ranges = await fetch_network_ranges(client, auth)
    async with database.unit_of_work() as uow:
        portal = await uow.portals.lock(portal_id)
        if portal is None:
            raise PortalNotConnected(f"portal {portal_id} is gone")
        now = clock.now()
        offices = list(
            await uow.session.scalars(
                select(Office).where(Office.portal_id == portal_id).order_by(Office.id)
            )
        )
        created: Office | None = None
        active = [o for o in offices if o.active]
        if ranges and not active:
            default = _DEFAULT_OFFICE_NAME.get(portal.language, _DEFAULT_OFFICE_NAME["ru"])
            created = Office(
                portal_id=portal_id,
                name=next((r.name for r in ranges if r.name), default),
                timezone=None,
                address="",
                ip_ranges=[],
                active=True,
                created_at=now,
            )
            uow.session.add(created)
            offices.append(created)
            active = [created]
        added = _attach(ranges, offices, active)
        if created is not None:
            await uow.flush()
        if added:
            uow.audit.record(
                portal_id=portal_id,
                at=now,
                actor="system",
                action="network_ranges.imported",
                entity="portal",
                entity_id=portal_id,
                details={
                    "added": {str(o.id): cidrs for o, cidrs in added.items()},
                    "created_office": None if created is None else created.id,
                },
            )
        settings = {
            k: v for k, v in (portal.settings or {}).items() if k != NETWORK_RANGES_FAILED_AT
        }
        settings[NETWORK_RANGES_IMPORTED_AT] = now.isoformat()
        portal.settings = settings  # a new dict: JSON columns do not track in-place edits
        await uow.commit()
    count = sum(len(c) for c in added.values())
    log.info("network_ranges.imported", portal_id=portal_id, ranges=len(ranges), added=count)
    return count


def _attach(
    ranges: Sequence[RemoteRange], offices: Sequence[Office], active: Sequence[Office]
) -> dict[Office, list[str]]:
    """Add each range's new blocks to its office; returns what was added where."""
    known = {str(c) for o in offices for c in (o.ip_ranges or [])}
    by_name = {_key(o.name): o for o in reversed(active)}  # the first office wins a name clash
    added: dict[Office, list[str]] = {}
    for r in ranges:
        fresh = [c for c in r.cidrs if c not in known]
        if not fresh:
            continue
        office = by_name.get(_key(r.name)) if r.name else None
        office = office or active[0]
        # A new list: JSON columns do not notice in-place edits.
        office.ip_ranges = [*(office.ip_ranges or []), *fresh]
        added.setdefault(office, []).extend(fresh)
        known.update(fresh)
    return added


def is_due(
    settings: Mapping[str, Any], now: datetime, *, every: timedelta, retry_after: timedelta
) -> bool:
    """Never imported, or the last import is `every` old; after a failure wait `retry_after`."""
    imported = settings_instant(settings, NETWORK_RANGES_IMPORTED_AT)
    failed = settings_instant(settings, NETWORK_RANGES_FAILED_AT)
    if failed is not None and (imported is None or failed > imported):
        return not resting_after_failure(imported, failed, now, retry_after)
    return imported is None or now - imported >= every


async def import_due(
    database: Database,
    client: BitrixClient,
    *,
    clock: Clock,
    every: timedelta = timedelta(days=1),
    retry_after: timedelta = timedelta(hours=6),
) -> int:
    """Import ranges for every active portal that is due; returns how many portals imported.

    A portal that refuses (most often: the connecting user is no administrator) is logged and
    asked again after `retry_after`, not on every tick.
    """

    async def run(portal_id: int) -> None:
        await import_network_ranges(database, client, portal_id, clock=clock)

    return await for_due_portals(
        database,
        clock=clock,
        due=lambda settings, now: is_due(settings, now, every=every, retry_after=retry_after),
        work=run,
        failed_key=NETWORK_RANGES_FAILED_AT,
        event="network_ranges.import_failed",
    )
