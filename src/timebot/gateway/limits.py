"""Per-portal plan limits: Bitrix24 drains 2 requests/s with a burst of 50 on most plans and
5/s with 250 on Enterprise. The plan comes from `app.info` (incoming webhooks get `LICENSE`
there too), is stored on the portal row once, and is handed to the client's rate limiter before
every send, so each process meters the portal by its real bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from timebot.bitrix import BitrixClient, BitrixError, plan_limits
from timebot.domain.clock import Clock
from timebot.gateway.auth import PortalNotConnected, portal_auth
from timebot.gateway.periodic import settings_instant
from timebot.logs import get_logger
from timebot.storage import Database
from timebot.storage.tables import Portal

log = get_logger(__name__)

DEFAULT_RATE = 2.0
DEFAULT_BURST = 50
# portal.settings key: when `app.info` was last asked (plans change: ask daily).
PLAN_CHECKED_AT = "plan_checked_at"
PLAN_CHECK_EVERY = timedelta(days=1)


def plan_check_due(portal: Portal, now: datetime) -> bool:
    """True when the portal's plan was never asked or was asked a day ago or more."""
    checked = settings_instant(portal.settings, PLAN_CHECKED_AT)
    return checked is None or now - checked >= PLAN_CHECK_EVERY


def apply_portal_limits(client: BitrixClient, portal: Portal) -> None:
    """Configure the client's limiter for this portal from its stored plan limits."""
    rate = portal.rate_limit if portal.rate_limit and portal.rate_limit > 0 else DEFAULT_RATE
    burst = portal.rate_burst if portal.rate_burst and portal.rate_burst >= 1 else DEFAULT_BURST
    client.limiter.configure(portal.member_id, float(rate), int(burst))


async def refresh_plan_limits(
    database: Database, client: BitrixClient, portal_id: int, *, clock: Clock
) -> tuple[float, int] | None:
    """Ask `app.info` for the portal's plan and store its (rate, burst) on the row and in the
    limiter. Returns None (the row keeps what it had) when the portal cannot be asked."""
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        if portal is None or portal.status != "active":
            return None
        try:
            auth = portal_auth(portal)
        except PortalNotConnected:
            return None
    try:
        response = await client.call(auth, "app.info")
    except BitrixError as exc:
        log.warning("portal.plan_unknown", portal_id=portal_id, error=str(exc))
        return None
    if not isinstance(response.result, Mapping):
        log.warning("portal.plan_unknown", portal_id=portal_id, error="app.info gave no object")
        return None
    rate, burst = plan_limits(response.result)
    async with database.unit_of_work() as uow:
        # The settings JSON is read, changed and written back: under the row lock, so an
        # administrator's change committed meanwhile is not overwritten.
        portal = await uow.portals.lock(portal_id)
        if portal is None:
            return None
        changed = (portal.rate_limit, portal.rate_burst) != (rate, burst)
        portal.rate_limit = rate
        portal.rate_burst = burst
        portal.settings = {**(portal.settings or {}), PLAN_CHECKED_AT: clock.now().isoformat()}
        if changed:
            portal.updated_at = clock.now()
        member_id = portal.member_id
        await uow.commit()
    client.limiter.configure(member_id, rate, burst)
    log.info("portal.plan_limits", portal_id=portal_id, rate=rate, burst=burst)
    return rate, burst
