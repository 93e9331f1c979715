"""A person's work-time limits from Bitrix24 (`timeman.settings`) as their schedule here.

Opt-in per portal (`timeman_settings_import`). During the directory sync the limits of every
active person are read (in batches of 50) before the write transaction, and each becomes a
personal schedule assignment, valid from the portal's today — unless an administrator
assigned the person a schedule by hand, which always wins. Imported schedules carry
`IMPORTED_FROM` in their definition, so a later sync recognizes and updates its own.

Mapping (Bitrix24 calls a start after UF_TM_MAX_START, a finish before UF_TM_MIN_FINISH and a
day shorter than UF_TM_MIN_DURATION violations):

- UF_TM_FREE: a flexible schedule, `minimum_hours` = UF_TM_MIN_DURATION, no core hours;
- otherwise a fixed one, UF_TM_MAX_START to UF_TM_MIN_FINISH Monday to Friday without
  tolerance, the break being what the span leaves over UF_TM_MIN_DURATION; when the span is
  shorter than the minimum duration, a flexible schedule with those core hours instead;
- UF_TIMEMAN false (no work-time tracking for the person): nothing is imported.

UF_TM_ALLOWED_DELTA (how much a person may edit their day without approval) has no
counterpart here and is not read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from timebot.bitrix import BitrixClient, PortalAuth
from timebot.bitrix.client import MAX_BATCH
from timebot.logs import get_logger
from timebot.storage import UnitOfWork
from timebot.storage.repositories.plans import PlanRepository
from timebot.storage.tables import Employee, Schedule, ScheduleAssignment

__all__ = [
    "IMPORTED_FROM",
    "TIMEMAN_SETTINGS_IMPORT",
    "TimemanLimits",
    "apply_limits",
    "fetch_limits",
    "limits_wanted",
    "parse_limits",
    "schedule_of",
]

log = get_logger(__name__)

TIMEMAN_SETTINGS_IMPORT = "timeman_settings_import"  # the portal setting (default off)
IMPORTED_FROM = "imported_from"  # definition key marking an imported schedule
SOURCE = "timeman.settings"
WEEKDAYS = 5


@dataclass(frozen=True, slots=True)
class TimemanLimits:
    """One person's `timeman.settings`, times as minutes after midnight."""

    enabled: bool
    free: bool
    max_start: int
    min_finish: int
    min_duration: int


def limits_wanted(settings: Mapping[str, Any] | None) -> bool:
    """Whether the portal asked for the import."""
    return (settings or {}).get(TIMEMAN_SETTINGS_IMPORT) is True


def _minutes(value: Any) -> int | None:
    """ "HH:MM:SS" (or "HH:MM") as minutes after midnight; None when it is not a time."""
    if not isinstance(value, str):
        return None
    parts = value.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    hours, minutes = int(parts[0]), int(parts[1])
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"y", "true", "1"}


def parse_limits(record: Any) -> TimemanLimits | None:
    """A `timeman.settings` answer; None when it is not one (a time missing or malformed)."""
    if not isinstance(record, Mapping):
        return None
    start = _minutes(record.get("UF_TM_MAX_START"))
    finish = _minutes(record.get("UF_TM_MIN_FINISH"))
    duration = _minutes(record.get("UF_TM_MIN_DURATION"))
    if start is None or finish is None or duration is None:
        return None
    return TimemanLimits(
        enabled=_flag(record.get("UF_TIMEMAN", False)),
        free=_flag(record.get("UF_TM_FREE", False)),
        max_start=start,
        min_finish=finish,
        min_duration=duration,
    )


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def schedule_of(limits: TimemanLimits) -> tuple[str, dict[str, Any]] | None:
    """The schedule kind and definition (`services.plans` format) for the limits; None when
    the person's work time is not tracked in Bitrix24."""
    if not limits.enabled:
        return None
    marker = {IMPORTED_FROM: SOURCE, "week_hours": 40, "follow_calendar": True}
    hours = round(limits.min_duration / 60, 4)
    if limits.free:
        return "flexible", {"minimum_hours": hours, "workdays": list(range(WEEKDAYS)), **marker}
    span = limits.min_finish - limits.max_start
    if span > 0 and limits.min_duration <= span:
        day = {
            "start": _hhmm(limits.max_start),
            "end": _hhmm(limits.min_finish),
            "break": span - limits.min_duration,
        }
        return "fixed", {"week": [day] * WEEKDAYS + [None, None], **marker}
    return "flexible", {
        "minimum_hours": hours,
        "core_start": _hhmm(limits.max_start),
        "core_end": _hhmm(limits.min_finish),
        "workdays": list(range(WEEKDAYS)),
        **marker,
    }


async def fetch_limits(
    client: BitrixClient, auth: PortalAuth, user_ids: Sequence[int]
) -> dict[int, TimemanLimits]:
    """`timeman.settings` of each user, 50 to a batch. A user Bitrix24 answers for with an
    error (no access, not found, no `timeman` scope) is left out, not fatal."""
    found: dict[int, TimemanLimits] = {}
    refused = 0
    ids = list(dict.fromkeys(user_ids))
    for offset in range(0, len(ids), MAX_BATCH):
        chunk = ids[offset : offset + MAX_BATCH]
        batch = await client.batch(
            auth, {f"u{uid}": ("timeman.settings", {"USER_ID": uid}) for uid in chunk}
        )
        refused += len(batch.errors)
        for uid in chunk:
            limits = parse_limits(batch.results.get(f"u{uid}"))
            if limits is not None:
                found[uid] = limits
    if refused:
        log.warning("timeman_limits.refused", users=refused, read=len(found))
    return found


async def apply_limits(
    uow: UnitOfWork,
    portal_id: int,
    employees: Sequence[Employee],
    limits: Mapping[int, TimemanLimits],
    *,
    today: date,
    now: datetime,
) -> int:
    """Turn limits into personal schedule assignments valid from `today`; returns how many
    people got a new or changed one. A person with a hand-made personal assignment is skipped;
    unchanged limits change nothing."""
    plans = PlanRepository(uow.session)
    own: dict[int, list[tuple[ScheduleAssignment, Schedule]]] = {}
    for assignment, schedule in await plans.assignments(portal_id):
        if assignment.scope == "employee" and assignment.target_id is not None:
            own.setdefault(assignment.target_id, []).append((assignment, schedule))
    changed = 0
    for employee in employees:
        person = limits.get(employee.bitrix_user_id)
        wanted = None if person is None else schedule_of(person)
        if wanted is None:
            continue
        kind, definition = wanted
        current = own.get(employee.id, [])
        if any((s.definition or {}).get(IMPORTED_FROM) != SOURCE for _, s in current):
            continue  # an administrator's choice
        latest = max(current, key=lambda pair: (pair[0].valid_from, pair[0].id), default=None)
        if latest is not None and (latest[1].kind, latest[1].definition) == (kind, definition):
            continue
        if latest is not None and latest[0].valid_from >= today:
            latest[1].kind, latest[1].definition = kind, definition  # today's import, redone
        else:
            schedule = plans.add_schedule(
                Schedule(
                    portal_id=portal_id,
                    name=f"Bitrix24: {employee.name}"[:255],
                    kind=kind,
                    definition=definition,
                    late_tolerance_min=0,
                    early_tolerance_min=0,
                    timezone=None,
                    active=True,
                    created_at=now,
                )
            )
            await uow.flush()
            plans.add_assignment(
                ScheduleAssignment(
                    portal_id=portal_id,
                    schedule_id=schedule.id,
                    scope="employee",
                    target_id=employee.id,
                    valid_from=today,
                    created_at=now,
                )
            )
        changed += 1
    return changed
