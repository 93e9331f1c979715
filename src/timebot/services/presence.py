"""Presence by geolocation: judge a check-in page submission against the person's offices and
record the mark (or refuse it) as the portal's policy says.

Portal settings read here (`Portal.settings`, all optional):

- `location_required` (bool): check-ins need a location proof through the check-in page;
  `location_required_actions` (list, default `["check_in"]`) may add `"check_out"`.
- The `PresencePolicy` fields under their own names: `max_accuracy_m`, `edge_tolerance_m`,
  `max_speed_kmh`, `min_plausible_accuracy_m`, `max_plausible_accuracy_m` (numbers),
  `max_clock_skew_seconds` (number), `block_outside`, `block_uncertain` (bool) and
  `block_flags` (list of suspicion flag names). Values of the wrong type are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, InvalidZone, Office, PolygonZone, Zone
from timebot.domain.marks import MarkKind
from timebot.domain.networks import InvalidNetwork, parse_networks
from timebot.domain.presence import (
    Decision,
    DecisionKind,
    Fix,
    PastFix,
    PresencePolicy,
    ReasonCode,
    SuspicionFlag,
    Verdict,
    VerdictKind,
    decision,
    evaluate,
    evaluate_ip_only,
    remote_verdict,
)
from timebot.services.checkin_links import (
    ACTIONS,
    CheckinClaim,
    CheckinLinkError,
    claim_link,
    release_link,
)
from timebot.services.plans import WorkPlan
from timebot.services.tracking import Person, Recorded, Refused, record_mark
from timebot.storage import UnitOfWork
from timebot.storage.repositories.offices import LocationFixRepository, OfficeRepository
from timebot.storage.tables import Employee, LocationFix
from timebot.storage.tables import Office as OfficeRow
from timebot.storage.tables import Zone as ZoneRow

__all__ = [
    "HISTORY_WINDOW",
    "CheckinOutcome",
    "CheckinResult",
    "ConsentRequired",
    "InvalidSubmission",
    "Places",
    "Submission",
    "judge",
    "load_places",
    "location_of",
    "parse_submission",
    "places_from_rows",
    "policy_from_settings",
    "recent_fixes",
    "remote_reason",
    "required_actions",
    "submit_checkin",
]

# Earlier fixes looked at for speed and repeated coordinates.
HISTORY_WINDOW = timedelta(days=14)
HISTORY_LIMIT = 50

_POLICY_NUMBERS = (
    "max_accuracy_m",
    "edge_tolerance_m",
    "max_speed_kmh",
    "min_plausible_accuracy_m",
    "max_plausible_accuracy_m",
)


# --- Settings ------------------------------------------------------------------------------------


def _finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def policy_from_settings(settings: Mapping[str, Any] | None) -> PresencePolicy:
    """The portal's presence policy; missing or malformed keys keep the domain's defaults."""
    settings = settings or {}
    kwargs: dict[str, Any] = {}
    for name in _POLICY_NUMBERS:
        number = _finite_number(settings.get(name))
        if number is not None:
            kwargs[name] = number
    skew = _finite_number(settings.get("max_clock_skew_seconds"))
    if skew is not None:
        kwargs["max_clock_skew"] = timedelta(seconds=min(skew, 7 * 86400))
    for name in ("block_outside", "block_uncertain"):
        if isinstance(settings.get(name), bool):
            kwargs[name] = settings[name]
    flags = settings.get("block_flags")
    if isinstance(flags, list | tuple):
        known = {f.value for f in SuspicionFlag}
        kwargs["block_flags"] = frozenset(SuspicionFlag(f) for f in flags if f in known)
    return PresencePolicy(**kwargs)


def required_actions(settings: Mapping[str, Any] | None) -> frozenset[str]:
    """The link actions ("check_in", "check_out") that need a location proof on this portal."""
    settings = settings or {}
    if settings.get("location_required") is not True:
        return frozenset()
    wanted = settings.get("location_required_actions", ["check_in"])
    if not isinstance(wanted, list | tuple):
        wanted = ["check_in"]
    return frozenset(a for a in wanted if isinstance(a, str) and a in ACTIONS)


def remote_reason(employee: Employee, local_date: date) -> ReasonCode | None:
    """Why no geofence applies to the person on `local_date`, if one does not."""
    if employee.remote_always:
        return ReasonCode.NO_GEOFENCE_REQUIRED
    weekdays = employee.remote_weekdays or []
    if any(str(d) == str(local_date.isoweekday()) for d in weekdays):
        return ReasonCode.REMOTE_DAY
    return None


# --- Places --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Places:
    """The offices a person may check in at, as the domain sees them, with their networks."""

    offices: tuple[Office, ...]
    networks: Mapping[Office, tuple[str, ...]]

    @property
    def all_networks(self) -> tuple[str, ...]:
        return tuple(cidr for cidrs in self.networks.values() for cidr in cidrs)

    @property
    def has_networks(self) -> bool:
        return bool(self.all_networks)

    @property
    def has_zones(self) -> bool:
        return any(o.zones for o in self.offices)


def _zone(row: ZoneRow) -> Zone | None:
    """The domain zone of a row; None for a definition that cannot be used."""
    try:
        if row.kind == "circle":
            if row.lat is None or row.lon is None or row.radius_m is None:
                return None
            return CircleZone(str(row.id), row.name, Point(row.lat, row.lon), row.radius_m)
        if row.kind == "polygon":
            return PolygonZone.from_geojson(row.polygon, id=str(row.id), name=row.name)
    except (InvalidZone, ValueError, TypeError):
        return None
    return None


def _valid_cidrs(values: Iterable[Any]) -> tuple[str, ...]:
    """The usable CIDR strings (admin input is validated on entry; a stray bad entry here
    must not break every check-in, so it is skipped)."""
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            parse_networks([value])
        except InvalidNetwork:
            continue
        out.append(value.strip())
    return tuple(out)


def places_from_rows(rows: Sequence[tuple[OfficeRow, Sequence[ZoneRow]]]) -> Places:
    offices: list[Office] = []
    networks: dict[Office, tuple[str, ...]] = {}
    for office_row, zone_rows in rows:
        zones = tuple(z for z in map(_zone, zone_rows) if z is not None)
        office = Office(
            id=str(office_row.id), name=office_row.name, zones=zones, timezone=office_row.timezone
        )
        offices.append(office)
        ranges = office_row.ip_ranges if isinstance(office_row.ip_ranges, list) else []
        networks[office] = _valid_cidrs(ranges)
    return Places(offices=tuple(offices), networks=networks)


async def load_places(uow: UnitOfWork, employee: Employee) -> Places:
    rows = await OfficeRepository(uow.session).allowed(
        employee.portal_id, employee.id, all_offices=employee.all_offices
    )
    return places_from_rows(rows)


# --- Submissions ---------------------------------------------------------------------------------


class InvalidSubmission(ValueError):
    """A check-in body that cannot be used; the message says what is wrong, in English."""


class ConsentRequired(Exception):
    """The person has not agreed to location processing yet, and the request did not agree."""


@dataclass(frozen=True, slots=True)
class Submission:
    """What the check-in page sends: a position (or, `ip_only`, none: "I am at my office
    computer"), the phone's clock, consent, and the page's nonce. `ip` is the server's view."""

    point: Point | None
    accuracy_m: float | None
    device_time: datetime | None
    ip: str | None
    ip_only: bool = False
    consent: bool = False
    nonce: str = ""
    token: str | None = None


def _number(value: Any, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidSubmission(f"{name} must be a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidSubmission(f"{name} must be a number") from None
    if not isinstance(value, int | float):
        raise InvalidSubmission(f"{name} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidSubmission(f"{name} must be a finite number")
    return number


def _device_time(value: Any) -> datetime | None:
    """The phone's clock as sent (ISO 8601 with an offset); None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return parsed


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y")
    return isinstance(value, int) and value == 1


def parse_submission(body: Mapping[str, Any], *, ip: str | None) -> Submission:
    """A Submission from a JSON object or form fields (`lat`, `lon`, `accuracy`, `device_time`,
    `mode` "gps"|"ip", `consent`, `nonce`, `token`); InvalidSubmission when unusable."""
    mode = body.get("mode") or "gps"
    if mode not in ("gps", "ip"):
        raise InvalidSubmission("mode must be 'gps' or 'ip'")
    token = body.get("token")
    nonce = body.get("nonce")
    common: dict[str, Any] = {
        "ip": ip,
        "consent": _truthy(body.get("consent")),
        "nonce": nonce if isinstance(nonce, str) else "",
        "token": token if isinstance(token, str) else None,
        "device_time": _device_time(body.get("device_time")),
    }
    if mode == "ip":
        return Submission(point=None, accuracy_m=None, ip_only=True, **common)
    lat, lon = _number(body.get("lat"), "lat"), _number(body.get("lon"), "lon")
    if lat is None or lon is None:
        raise InvalidSubmission("lat and lon are required")
    try:
        point = Point(lat, lon)
    except ValueError as exc:
        raise InvalidSubmission(str(exc)) from None
    accuracy = _number(body.get("accuracy", body.get("accuracy_m")), "accuracy")
    return Submission(point=point, accuracy_m=accuracy, **common)


# --- Judging -------------------------------------------------------------------------------------


def judge(
    submission: Submission,
    places: Places,
    *,
    policy: PresencePolicy,
    now: datetime,
    history: Sequence[PastFix] = (),
    tz: tzinfo,
    remote: ReasonCode | None = None,
) -> tuple[Verdict, Decision]:
    """The verdict on a submission and what the policy makes of it.

    A remote day or person needs no proof. "I am at my office computer" (no position) succeeds
    only when the IP is on an office network: anything else proves nothing, so it is refused
    whatever the policy (the person can still share their position).
    """
    if remote is not None:
        verdict = remote_verdict(remote)
        return verdict, decision(verdict, policy)
    if submission.ip_only or submission.point is None:
        verdict = evaluate_ip_only(submission.ip, places.networks)
        if verdict.kind is VerdictKind.INSIDE:
            return verdict, Decision(DecisionKind.ACCEPT)
        return verdict, Decision(DecisionKind.REJECT, (verdict.reason,))
    fix = Fix(
        point=submission.point,
        accuracy_m=submission.accuracy_m,
        device_time=submission.device_time,
        server_time=now,
        ip=submission.ip,
    )
    verdict = evaluate(
        fix,
        places.offices,
        policy=policy,
        history=history,
        office_networks=places.all_networks,
        tz=tz,
    )
    return verdict, decision(verdict, policy)


def _zone_id(verdict: Verdict) -> int | None:
    if verdict.zone_id is None or not verdict.zone_id.isdigit():
        return None
    return int(verdict.zone_id)


def location_of(verdict: Verdict) -> dict[str, Any]:
    """The `location` a mark records for a verdict (see `services.tracking.record_mark`)."""
    return {
        "verdict": verdict.kind.value,
        "zone_id": _zone_id(verdict),
        "distance_m": verdict.distance_m,
        "flags": [f.value for f in verdict.flags],
    }


async def recent_fixes(uow: UnitOfWork, employee_id: int, now: datetime) -> list[PastFix]:
    """The person's earlier located fixes (for speed and repeated coordinates)."""
    rows = await LocationFixRepository(uow.session).recent(
        employee_id, since=now - HISTORY_WINDOW, until=now, limit=HISTORY_LIMIT
    )
    out: list[PastFix] = []
    for row in rows:
        if row.lat is None or row.lon is None:
            continue
        try:
            out.append(PastFix(Point(row.lat, row.lon), row.accuracy_m, row.at))
        except ValueError:
            continue
    return out


# --- The use case --------------------------------------------------------------------------------


class CheckinOutcome(StrEnum):
    RECORDED = "recorded"  # the mark is written (maybe flagged for a manager)
    REJECTED = "rejected"  # the policy blocked it: only the fix is stored; the link still works
    REFUSED = "refused"  # the work day's state forbids the action (e.g. already checked in)


@dataclass(frozen=True, slots=True)
class CheckinResult:
    outcome: CheckinOutcome
    kind: MarkKind
    verdict: Verdict
    decision: Decision
    fix_id: int
    recorded: Recorded | None = None
    refused: Refused | None = None
    ip_only: bool = False  # judged by the IP alone ("I'm at my office computer")
    point: Point | None = None  # the position stored with the fix (None: none kept)

    @property
    def flagged(self) -> bool:
        return self.decision.kind is DecisionKind.ACCEPT_FLAGGED


async def submit_checkin(
    uow: UnitOfWork,
    *,
    employee: Employee,
    person: Person,
    plan: WorkPlan,
    claim: CheckinClaim,
    submission: Submission,
    settings: Mapping[str, Any] | None,
    now: datetime,
) -> CheckinResult:
    """Use the link, judge the position, store the fix and record the mark, all in the caller's
    transaction (commit it to keep them).

    The link is claimed first (conditional UPDATE): a replay or a concurrent second request
    gets CheckinLinkError("used") and writes nothing. ConsentRequired before anything is
    written when the person has not agreed yet. A policy rejection stores the fix, records no
    mark and gives the link back so the person can retry once they are at the office.
    """
    if employee.id != claim.employee_id or employee.portal_id != claim.portal_id:
        raise CheckinLinkError("foreign")
    if employee.consented_at is None and not submission.consent:
        raise ConsentRequired()
    if not await claim_link(uow, claim, now):
        raise CheckinLinkError("used")
    if employee.consented_at is None:
        employee.consented_at = now
    kind = claim.kind
    policy = policy_from_settings(settings)
    remote = remote_reason(employee, now.astimezone(person.tz).date())
    places = Places((), {}) if remote is not None else await load_places(uow, employee)
    history = await recent_fixes(uow, employee.id, now) if remote is None else []
    verdict, verdict_decision = judge(
        submission,
        places,
        policy=policy,
        now=now,
        history=history,
        tz=person.tz,
        remote=remote,
    )
    # No geofence applies on a remote day: the position is not needed, so it is not kept.
    point = None if remote is not None else submission.point
    fix = LocationFix(
        portal_id=employee.portal_id,
        employee_id=employee.id,
        at=now,
        lat=point.lat if point else None,
        lon=point.lon if point else None,
        accuracy_m=submission.accuracy_m if point else None,
        device_time=submission.device_time,
        ip=submission.ip[:45] if submission.ip else None,
        verdict=verdict.kind.value,
        zone_id=_zone_id(verdict),
        distance_m=verdict.distance_m,
        flags=[f.value for f in verdict.flags],
    )
    LocationFixRepository(uow.session).add(fix)
    await uow.flush()
    common: dict[str, Any] = {"ip_only": submission.ip_only, "point": point}
    if verdict_decision.kind is DecisionKind.REJECT:
        await release_link(uow, claim, now)
        return CheckinResult(
            CheckinOutcome.REJECTED, kind, verdict, verdict_decision, fix.id, **common
        )
    result = await record_mark(
        uow,
        person,
        kind,
        plan=plan,
        now=now,
        source="checkin_page",
        location=location_of(verdict),
        idempotency_key=f"checkin:{claim.jti}",
    )
    if isinstance(result, Refused):
        return CheckinResult(
            CheckinOutcome.REFUSED,
            kind,
            verdict,
            verdict_decision,
            fix.id,
            refused=result,
            **common,
        )
    fix.mark_id = result.mark_id
    await uow.flush()
    return CheckinResult(
        CheckinOutcome.RECORDED, kind, verdict, verdict_decision, fix.id, recorded=result, **common
    )
