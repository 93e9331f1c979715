"""The daily digest for managers: whose violations of one local date go to whom.

Pure decisions, no I/O: the digest job (`timebot.jobs.digest`) reads marks, plans, explanations
and the org chart, and hands them here; the rendering lives in `timebot.reports.digest`.

- A person's violations of the date come from `domain.violations.find_violations` over their
  work days, with location findings from their marks' presence verdicts and flags, excused by
  the explanations a manager accepted.
- Each person's lines go to their managers: the head of each of their departments, or — when
  they head it themselves (or it has no head) — the head of the parent department, up the tree
  (`storage.repositories.people.managers_of`).
- A manager with nothing to report gets no digest unless the portal wants empty ones.

Rules per portal (`portal.settings`, read by `DigestRules.from_settings`):

- `digest_time` (default "09:00"): the local time of day (the portal's zone) the digest of the
  previous day is sent; null, "" or "off" turns the digest off.
- `digest_send_empty` (default false): also tell managers that there was nothing to report.
- `digest_chat` / `digest_email` (default true): the channels; e-mail also needs SMTP settings
  and the manager's address.
- `digest_kinds` (default: every kind): the violation kinds reported, e.g. ["late_start",
  "absent"]; unknown names are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from timebot.domain.calendar import ProductionCalendar
from timebot.domain.schedules import Expectation
from timebot.domain.violations import (
    Excuse,
    LocationFinding,
    Violation,
    ViolationKind,
    find_violations,
)
from timebot.domain.workday import WorkDay
from timebot.storage.repositories.people import managers_of
from timebot.storage.tables import Department

__all__ = [
    "ACCEPTED",
    "DEFAULT_DIGEST_TIME",
    "SUSPICION_FLAGS",
    "DigestLine",
    "DigestRules",
    "ExplanationLike",
    "ManagerDigest",
    "MarkLike",
    "Note",
    "PersonDay",
    "build_digests",
    "digest_window",
    "excuses_from",
    "location_findings",
    "person_day",
]

DEFAULT_DIGEST_TIME = time(9, 0)
ACCEPTED = "accepted"  # the Explanation status that excuses a violation
# Presence suspicion flags (domain.presence.SuspicionFlag values) a mark may carry.
SUSPICION_FLAGS = frozenset(
    {
        "implausible_speed",
        "repeated_coordinates",
        "zero_accuracy",
        "implausible_accuracy",
        "device_clock_skew",
        "ip_outside_office_networks",
    }
)
UNCERTAIN = "uncertain"  # a presence verdict that could not place the person
OUTSIDE = "outside"
_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?")


def _flag(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on", "y"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off", "n"}:
        return False
    return default


def _time_of_day(value: Any) -> time | None:
    """ "09:00", "9:30", "9" → a time; null, "" or "off" → None; anything else → 09:00."""
    if value is None:
        return None
    if not isinstance(value, str):
        return DEFAULT_DIGEST_TIME
    text = value.strip().lower()
    if text in {"", "off", "none", "false"}:
        return None
    match = _CLOCK.fullmatch(text)
    if match is None:
        return DEFAULT_DIGEST_TIME
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 23 or minute > 59:
        return DEFAULT_DIGEST_TIME
    return time(hour, minute)


def _kinds(value: Any) -> frozenset[ViolationKind] | None:
    if not isinstance(value, list | tuple):
        return None
    return frozenset(k for k in (_kind(str(v)) for v in value) if k is not None)


@dataclass(frozen=True, slots=True)
class DigestRules:
    at: time | None = DEFAULT_DIGEST_TIME  # None: no digest
    send_empty: bool = False
    chat: bool = True
    email: bool = True
    kinds: frozenset[ViolationKind] | None = None  # None: every kind

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> DigestRules:
        """The portal's rules; a malformed time falls back to 09:00."""
        s = settings or {}
        return cls(
            at=_time_of_day(s["digest_time"]) if "digest_time" in s else DEFAULT_DIGEST_TIME,
            send_empty=_flag(s.get("digest_send_empty"), False),
            chat=_flag(s.get("digest_chat"), True),
            email=_flag(s.get("digest_email"), True),
            kinds=_kinds(s.get("digest_kinds")),
        )


class MarkLike(Protocol):
    """What the digest reads of a stored mark (`storage.tables.Mark`)."""

    @property
    def id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def location_verdict(self) -> str | None: ...
    @property
    def distance_m(self) -> float | None: ...
    @property
    def flags(self) -> list[Any]: ...


class ExplanationLike(Protocol):
    """What the digest reads of a stored explanation (`storage.tables.Explanation`)."""

    @property
    def local_date(self) -> date: ...
    @property
    def violation_kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


def location_findings(marks: Iterable[MarkLike]) -> list[LocationFinding]:
    """Location problems of marks: outside every zone (with the distance to the nearest), and
    suspicious fixes (uncertain verdicts and suspicion flags; the flag codes as `detail`,
    comma-separated, "uncertain" first when the verdict was uncertain)."""
    found: list[LocationFinding] = []
    for mark in marks:
        if mark.location_verdict == OUTSIDE:
            distance = mark.distance_m
            found.append(
                LocationFinding(
                    ViolationKind.OUTSIDE_GEOFENCE,
                    mark.at,
                    mark_id=mark.id,
                    distance_m=max(distance, 0.0) if distance is not None else None,
                )
            )
        codes = [str(f) for f in (mark.flags or []) if str(f) in SUSPICION_FLAGS]
        if mark.location_verdict == UNCERTAIN:
            codes.insert(0, UNCERTAIN)
        if codes:
            found.append(
                LocationFinding(
                    ViolationKind.SUSPICIOUS_LOCATION,
                    mark.at,
                    mark_id=mark.id,
                    detail=",".join(dict.fromkeys(codes)),
                )
            )
    return found


def _kind(value: str) -> ViolationKind | None:
    try:
        return ViolationKind(value)
    except ValueError:
        return None


def excuses_from(explanations: Iterable[ExplanationLike]) -> list[Excuse]:
    """Accepted explanations as excuses of their one date and violation kind."""
    excuses = []
    for e in explanations:
        kind = _kind(e.violation_kind)
        if e.status == ACCEPTED and kind is not None:
            reason = (e.reason or "").strip() or ACCEPTED
            excuses.append(Excuse(e.local_date, e.local_date, reason, frozenset({kind})))
    return excuses


@dataclass(frozen=True, slots=True)
class Note:
    """Where a person's explanation of a violation stands (not accepted: those excuse it)."""

    status: str  # "requested" | "answered" | "rejected"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PersonDay:
    """One person's violations of the digest's date, excused ones included (marked)."""

    employee_id: int
    user_id: int  # Bitrix24 user id
    name: str
    department_ids: tuple[Any, ...]
    violations: tuple[Violation, ...] = ()
    notes: Mapping[ViolationKind, Note] = field(default_factory=dict)


def person_day(
    *,
    employee_id: int,
    user_id: int,
    name: str,
    department_ids: Sequence[Any],
    local_date: date,
    work_days: Iterable[WorkDay],
    expectations: Mapping[date, Expectation | None],
    tz: ZoneInfo,
    now: datetime,
    calendar: ProductionCalendar | None = None,
    marks: Iterable[MarkLike] = (),
    explanations: Iterable[ExplanationLike] = (),
) -> PersonDay:
    """The person's violations on `local_date`, judged at `now`.

    Pass expectations for the neighbouring dates too (the day before and after): work is
    attributed to the nearest expected start, so a night shift or an early arrival lands on
    the right date; only `local_date` is reported.
    """
    explanations = list(explanations)
    found = find_violations(
        work_days,
        expectations,
        tz=tz,
        now=now,
        calendar=calendar,
        locations=location_findings(marks),
        excuses=excuses_from(explanations),
    )
    notes: dict[ViolationKind, Note] = {}
    for e in explanations:
        kind = _kind(e.violation_kind)
        if e.local_date == local_date and kind is not None and e.status != ACCEPTED:
            notes[kind] = Note(e.status, (e.reason or "").strip() or None)
    return PersonDay(
        employee_id=employee_id,
        user_id=user_id,
        name=name,
        department_ids=tuple(department_ids),
        violations=tuple(v for v in found if v.local_date == local_date),
        notes=notes,
    )


@dataclass(frozen=True, slots=True)
class DigestLine:
    """One unexcused violation of one person, with their explanation when there is one."""

    employee_id: int
    user_id: int
    name: str
    violation: Violation
    note: Note | None = None


@dataclass(frozen=True, slots=True)
class ManagerDigest:
    """What one manager is told about one local date."""

    manager_user_id: int
    local_date: date
    lines: tuple[DigestLine, ...]
    people: int  # how many people report to this manager
    excused: int = 0  # violations covered by an accepted explanation (not listed)

    @property
    def empty(self) -> bool:
        return not self.lines

    @property
    def people_with_violations(self) -> int:
        return len({line.employee_id for line in self.lines})

    def by_person(self) -> list[tuple[DigestLine, list[DigestLine]]]:
        """Lines grouped per person (first line of each group, the group), in listing order."""
        groups: dict[int, list[DigestLine]] = {}
        for line in self.lines:
            groups.setdefault(line.employee_id, []).append(line)
        return [(lines[0], lines) for lines in groups.values()]


def build_digests(
    days: Iterable[PersonDay],
    departments: Mapping[int, Department],
    *,
    local_date: date,
    send_empty: bool = False,
    kinds: frozenset[ViolationKind] | None = None,
) -> list[ManagerDigest]:
    """One digest per manager with something to report (every manager with at least one
    report when `send_empty`), ordered by manager id; lines by person name, then as found.
    `kinds` limits the violations reported (None: all)."""
    lines: dict[int, list[DigestLine]] = {}
    people: dict[int, int] = {}
    excused: dict[int, int] = {}
    for day in sorted(days, key=lambda d: (d.name.casefold(), d.employee_id)):
        managers = managers_of(day.user_id, day.department_ids, departments)
        reported = [v for v in day.violations if kinds is None or v.kind in kinds]
        listed = [
            DigestLine(day.employee_id, day.user_id, day.name, v, day.notes.get(v.kind))
            for v in reported
            if not v.excused
        ]
        covered = sum(1 for v in reported if v.excused)
        for manager in managers:
            people[manager] = people.get(manager, 0) + 1
            lines.setdefault(manager, []).extend(listed)
            excused[manager] = excused.get(manager, 0) + covered
    digests = [
        ManagerDigest(
            manager_user_id=manager,
            local_date=local_date,
            lines=tuple(lines.get(manager, ())),
            people=people[manager],
            excused=excused.get(manager, 0),
        )
        for manager in sorted(people)
    ]
    return [d for d in digests if send_empty or not d.empty]


def digest_window(local_date: date) -> tuple[date, date]:
    """The dates whose expectations a digest of `local_date` needs (the day before to after)."""
    return local_date - timedelta(days=1), local_date + timedelta(days=1)
