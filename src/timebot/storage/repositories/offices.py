"""Places and presence evidence: offices with their zones, location fixes, and the single-use
check-in link tokens (claimed with a conditional UPDATE so two requests cannot both use one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import EmployeeOffice, LinkToken, LocationFix, Office, Zone


class OfficeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, office: Office) -> Office:
        self.session.add(office)
        return office

    def add_zone(self, zone: Zone) -> Zone:
        self.session.add(zone)
        return zone

    async def get(self, office_id: int) -> Office | None:
        return await self.session.get(Office, office_id)

    async def allowed(
        self, portal_id: int, employee_id: int, *, all_offices: bool
    ) -> list[tuple[Office, list[Zone]]]:
        """The active offices a person may check in at, each with its active zones, by id.

        `all_offices`: every active office of the portal; otherwise only those linked to the
        person in `employee_offices`.
        """
        query = select(Office).where(Office.portal_id == portal_id, Office.active.is_(True))
        if not all_offices:
            query = query.join(EmployeeOffice, EmployeeOffice.office_id == Office.id).where(
                EmployeeOffice.employee_id == employee_id
            )
        offices = list(await self.session.scalars(query.order_by(Office.id)))
        if not offices:
            return []
        zones = await self.session.scalars(
            select(Zone)
            .where(Zone.office_id.in_([o.id for o in offices]), Zone.active.is_(True))
            .order_by(Zone.id)
        )
        by_office: dict[int, list[Zone]] = {o.id: [] for o in offices}
        for zone in zones:
            by_office[zone.office_id].append(zone)
        return [(o, by_office[o.id]) for o in offices]


class LocationFixRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, fix: LocationFix) -> LocationFix:
        self.session.add(fix)
        return fix

    async def get(self, fix_id: int) -> LocationFix | None:
        return await self.session.get(LocationFix, fix_id)

    async def recent(
        self, employee_id: int, *, since: datetime, until: datetime, limit: int = 50
    ) -> Sequence[LocationFix]:
        """The person's fixes with coordinates in [since, until), newest first (at most
        `limit`); erased fixes are left out."""
        query = (
            select(LocationFix)
            .where(
                LocationFix.employee_id == employee_id,
                LocationFix.at >= since,
                LocationFix.at < until,
                LocationFix.erased_at.is_(None),
                LocationFix.lat.is_not(None),
                LocationFix.lon.is_not(None),
            )
            .order_by(LocationFix.at.desc(), LocationFix.id.desc())
            .limit(limit)
        )
        return list(await self.session.scalars(query))

    async def of_employee(self, employee_id: int) -> Sequence[LocationFix]:
        """Every fix of the person, oldest first."""
        query = (
            select(LocationFix)
            .where(LocationFix.employee_id == employee_id)
            .order_by(LocationFix.at, LocationFix.id)
        )
        return list(await self.session.scalars(query))


class LinkTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, token: LinkToken) -> LinkToken:
        self.session.add(token)
        return token

    async def by_jti(self, jti: str) -> LinkToken | None:
        return (
            await self.session.scalars(select(LinkToken).where(LinkToken.jti == jti))
        ).one_or_none()

    async def claim(self, jti: str, now: datetime) -> bool:
        """Mark the link used at `now` if it is still unused and unexpired; True when this call
        did it.

        One conditional UPDATE: of two concurrent claims, the second waits for the first's
        transaction (PostgreSQL row lock; SQLite's write lock) and then matches no row.
        """
        result = await self.session.execute(
            update(LinkToken)
            .where(
                LinkToken.jti == jti,
                LinkToken.used_at.is_(None),
                LinkToken.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def release(self, jti: str, used_at: datetime) -> bool:
        """Undo a claim made at `used_at` in this transaction (the link stays usable)."""
        result = await self.session.execute(
            update(LinkToken)
            .where(LinkToken.jti == jti, LinkToken.used_at == used_at)
            .values(used_at=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]
