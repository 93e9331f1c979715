"""All timebot tables; importing this package registers every one on `Base.metadata`."""

from timebot.storage.tables.audit import AuditEntry
from timebot.storage.tables.base import NAMING_CONVENTION, Base
from timebot.storage.tables.conversations import ConversationState
from timebot.storage.tables.corrections import Correction, CorrectionDecision, Explanation
from timebot.storage.tables.employees import Department, Employee, EmployeeOffice
from timebot.storage.tables.events import ProcessedEvent
from timebot.storage.tables.jobs import JobRun
from timebot.storage.tables.marks import MARK_KINDS, LocationFix, Mark
from timebot.storage.tables.offices import Office, Zone
from timebot.storage.tables.outbox import OutboxMessage
from timebot.storage.tables.portals import Portal
from timebot.storage.tables.rate_buckets import RateBucket
from timebot.storage.tables.schedules import (
    CalendarOverride,
    Schedule,
    ScheduleAssignment,
    Shift,
)
from timebot.storage.tables.tokens import ApiToken, LinkToken

metadata = Base.metadata

__all__ = [
    "MARK_KINDS",
    "NAMING_CONVENTION",
    "ApiToken",
    "AuditEntry",
    "Base",
    "CalendarOverride",
    "ConversationState",
    "Correction",
    "CorrectionDecision",
    "Department",
    "Employee",
    "EmployeeOffice",
    "Explanation",
    "JobRun",
    "LinkToken",
    "LocationFix",
    "Mark",
    "Office",
    "OutboxMessage",
    "Portal",
    "ProcessedEvent",
    "RateBucket",
    "Schedule",
    "ScheduleAssignment",
    "Shift",
    "Zone",
    "metadata",
]
