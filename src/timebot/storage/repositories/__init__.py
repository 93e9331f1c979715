"""Repositories: typed queries over one session, so use cases never write SQL themselves."""

from timebot.storage.repositories.audit import AuditRepository
from timebot.storage.repositories.events import ProcessedEventRepository
from timebot.storage.repositories.outbox import OutboxRepository
from timebot.storage.repositories.portals import PortalRepository

__all__ = [
    "AuditRepository",
    "OutboxRepository",
    "PortalRepository",
    "ProcessedEventRepository",
]
