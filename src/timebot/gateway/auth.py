"""REST credentials of a stored portal (incoming webhook or OAuth pair)."""

from __future__ import annotations

from timebot.bitrix import PortalAuth
from timebot.storage.tables import Portal


class PortalNotConnected(Exception):
    """The portal has no usable credentials (uninstalled, or the refresh chain broke)."""


def portal_auth(portal: Portal) -> PortalAuth:
    if portal.connection == "webhook" and portal.webhook_url:
        return PortalAuth.webhook(portal.member_id, portal.webhook_url)
    if portal.access_token:
        return PortalAuth.oauth(portal.member_id, portal.client_endpoint, portal.access_token)
    raise PortalNotConnected(f"portal {portal.member_id} has no credentials")
