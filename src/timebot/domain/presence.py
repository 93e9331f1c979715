"""The presence verdict: where a position fix puts a person relative to their offices' zones,
how much to trust it (suspicion flags), and what a portal's policy makes of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum

from timebot.domain.geo import Point, distance_m
from timebot.domain.geofence import Office
from timebot.domain.networks import IPNetwork, best_match, parse_ip, parse_networks
from timebot.domain.timezones import as_utc

__all__ = [
    "Decision",
    "DecisionKind",
    "Fix",
    "PastFix",
    "PresencePolicy",
    "Reason",
    "ReasonCode",
    "SuspicionFlag",
    "Verdict",
    "VerdictKind",
    "check_accuracy",
    "check_clock_skew",
    "check_ip",
    "check_repeated_coordinates",
    "check_speed",
    "decision",
    "evaluate",
    "evaluate_ip_only",
    "remote_verdict",
]


class VerdictKind(StrEnum):
    """Where the evidence puts the person."""

    INSIDE = "inside"
    OUTSIDE = "outside"
    UNCERTAIN = "uncertain"
    REMOTE = "remote"  # no geofence applies (remote day or remote person)


class SuspicionFlag(StrEnum):
    """Signs that a fix may be faked; each is raised independently and never changes the kind."""

    IMPLAUSIBLE_SPEED = "implausible_speed"
    REPEATED_COORDINATES = "repeated_coordinates"
    ZERO_ACCURACY = "zero_accuracy"
    IMPLAUSIBLE_ACCURACY = "implausible_accuracy"
    DEVICE_CLOCK_SKEW = "device_clock_skew"
    IP_OUTSIDE_OFFICE_NETWORKS = "ip_outside_office_networks"


class ReasonCode(StrEnum):
    """What a Reason explains, and which of its fields are filled.

    Location reasons carry office/zone (the zone the verdict is about), `accuracy_m`, and
    `distance_m` = the fix centre's signed distance to that zone's boundary (negative inside).
    """

    INSIDE_ZONE = "inside_zone"
    OUTSIDE_ZONES = "outside_zones"
    STRADDLES_BOUNDARY = "straddles_boundary"
    LOW_ACCURACY = "low_accuracy"  # limit = policy.max_accuracy_m
    NO_ACCURACY = "no_accuracy"
    INVALID_ACCURACY = "invalid_accuracy"  # negative or not a number
    NO_ZONES = "no_zones"  # no office has a zone: nothing to check against
    REMOTE_DAY = "remote_day"
    NO_GEOFENCE_REQUIRED = "no_geofence_required"
    IP_IN_OFFICE_NETWORK = "ip_in_office_network"  # office, ip
    NO_GPS_IP_OUTSIDE = "no_gps_ip_outside"  # ip
    NO_GPS_NO_IP = "no_gps_no_ip"  # ip (if given but unreadable)
    NO_GPS_NO_NETWORKS = "no_gps_no_networks"
    # One per SuspicionFlag, with the flag's value:
    IMPLAUSIBLE_SPEED = (
        "implausible_speed"  # distance_m (net of accuracy), elapsed, value km/h, limit
    )
    REPEATED_COORDINATES = "repeated_coordinates"  # day: local date of the earlier identical fix
    ZERO_ACCURACY = "zero_accuracy"  # accuracy_m
    IMPLAUSIBLE_ACCURACY = "implausible_accuracy"  # accuracy_m, limit (bound crossed, if any)
    DEVICE_CLOCK_SKEW = "device_clock_skew"  # value: device − server seconds, limit seconds
    IP_OUTSIDE_OFFICE_NETWORKS = "ip_outside_office_networks"  # ip


_REMOTE_CODES = (ReasonCode.REMOTE_DAY, ReasonCode.NO_GEOFENCE_REQUIRED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """A machine-readable explanation and the numbers needed to phrase it (see ReasonCode)."""

    code: ReasonCode
    office_id: str | None = None
    office_name: str | None = None
    zone_id: str | None = None
    zone_name: str | None = None
    distance_m: float | None = None
    accuracy_m: float | None = None
    value: float | None = None
    limit: float | None = None
    elapsed: timedelta | None = None
    ip: str | None = None
    day: date | None = None


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report: the phone's point and accuracy (metres, 95 % radius as browsers
    report it), the phone's own clock if sent, the server's receipt time, and the client IP."""

    point: Point
    accuracy_m: float | None
    device_time: datetime | None
    server_time: datetime
    ip: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "server_time", as_utc(self.server_time))
        if self.device_time is not None:
            object.__setattr__(self, "device_time", as_utc(self.device_time))


@dataclass(frozen=True, slots=True)
class PastFix:
    """An earlier fix of the same person, as stored."""

    point: Point
    accuracy_m: float | None
    server_time: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "server_time", as_utc(self.server_time))


@dataclass(frozen=True, slots=True)
class PresencePolicy:
    """A portal's thresholds and what it does with doubtful check-ins.

    `edge_tolerance_m`: accuracy up to this much is not held against a fix at a zone's edge.
    The verdict shrinks the accuracy circle by it (r = max(0, accuracy − tolerance)), so with
    accuracy ≤ tolerance the centre decides, and beyond it only the excess must clear the
    boundary. Zones are drawn on maps to a few metres and phones report 95 % radii, so
    asking about a 15 m circle at a 100 m zone's door helps nobody. The centre still has to be
    inside for "inside" and outside for "outside"; 0 gives the strict rule.
    """

    max_accuracy_m: float = 100.0
    edge_tolerance_m: float = 15.0
    max_speed_kmh: float = 200.0
    max_clock_skew: timedelta = timedelta(minutes=5)
    min_plausible_accuracy_m: float = 1.0
    # No positioning method, IP lookup included, claims an error near Earth's size.
    max_plausible_accuracy_m: float = 1_000_000.0
    block_outside: bool = False
    block_uncertain: bool = False
    block_flags: frozenset[SuspicionFlag] = frozenset()

    def __post_init__(self) -> None:
        for name in (
            "max_accuracy_m",
            "edge_tolerance_m",
            "max_speed_kmh",
            "min_plausible_accuracy_m",
            "max_plausible_accuracy_m",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite non-negative number, not {value!r}")
        if self.max_clock_skew < timedelta(0):
            raise ValueError("max_clock_skew must not be negative")
        object.__setattr__(self, "block_flags", frozenset(map(SuspicionFlag, self.block_flags)))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one fix.

    `office_id`/`zone_id`: the zone the fix is in (inside), else the nearest zone.
    `distance_m` ≥ 0: from the fix centre to that zone's boundary (depth when inside).
    `reasons[0]` explains the kind; `reasons[1:]` explain `flags`, one each, in order.
    """

    kind: VerdictKind
    office_id: str | None = None
    zone_id: str | None = None
    distance_m: float | None = None
    accuracy_m: float | None = None
    flags: tuple[SuspicionFlag, ...] = ()
    reasons: tuple[Reason, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", VerdictKind(self.kind))
        object.__setattr__(self, "flags", tuple(map(SuspicionFlag, self.flags)))
        object.__setattr__(self, "reasons", tuple(self.reasons))
        if not self.reasons:
            raise ValueError("a verdict needs a reason")
        if [r.code.value for r in self.reasons[1:]] != [f.value for f in self.flags]:
            raise ValueError("reasons after the first must explain the flags, in order")

    @property
    def reason(self) -> Reason:
        """Why the verdict is of its kind."""
        return self.reasons[0]

    @property
    def flag_reasons(self) -> tuple[Reason, ...]:
        """The flags' explanations."""
        return self.reasons[1:]


class DecisionKind(StrEnum):
    """What happens to the check-in."""

    ACCEPT = "accept"
    ACCEPT_FLAGGED = "accept_flagged"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer; `reasons` say why it was rejected or flagged (empty on accept)."""

    kind: DecisionKind
    reasons: tuple[Reason, ...] = ()


def evaluate(
    fix: Fix,
    offices: Sequence[Office],
    *,
    policy: PresencePolicy,
    history: Sequence[PastFix] = (),
    office_networks: Sequence[str] = (),
    tz: tzinfo = UTC,
) -> Verdict:
    """Judge `fix` against every zone of `offices`, and check it for signs of faking.

    Inside: the (tolerance-shrunk) accuracy circle lies within a zone; the deepest such zone
    is named. Outside: it lies outside every zone. Otherwise, or when accuracy is missing,
    invalid or above `policy.max_accuracy_m`, uncertain. `history` holds the person's earlier
    fixes; `tz` is their zone (it decides what "a different day" is for repeated coordinates).
    `office_networks` (CIDR) raise InvalidNetwork when malformed.
    """
    networks = parse_networks(office_networks)
    kind, office, zone_id, signed, main = _locate(fix, offices, policy)
    checks = (
        check_speed(fix, history, policy=policy),
        check_repeated_coordinates(fix, history, tz=tz),
        check_accuracy(fix.accuracy_m, policy=policy),
        check_clock_skew(fix, policy=policy),
        check_ip(fix.ip, networks),
    )
    flagged = tuple(r for r in checks if r is not None)
    return Verdict(
        kind=kind,
        office_id=office,
        zone_id=zone_id,
        distance_m=None if signed is None else abs(signed),
        accuracy_m=fix.accuracy_m,
        flags=tuple(SuspicionFlag(r.code.value) for r in flagged),
        reasons=(main, *flagged),
    )


def _locate(
    fix: Fix, offices: Sequence[Office], policy: PresencePolicy
) -> tuple[VerdictKind, str | None, str | None, float | None, Reason]:
    """Kind, office id, zone id, signed distance, and the main reason."""
    acc = fix.accuracy_m
    measured = [(z.signed_distance_m(fix.point), o, z) for o in offices for z in o.zones]
    if not measured:
        return VerdictKind.UNCERTAIN, None, None, None, Reason(code=ReasonCode.NO_ZONES)
    # The deepest zone (or the nearest, from outside) decides: the accuracy circle is the same
    # for every zone, so it is also the one most likely to contain the circle.
    signed, office, zone = min(measured, key=lambda m: m[0])

    def because(code: ReasonCode, limit: float | None = None) -> Reason:
        return Reason(
            code=code,
            office_id=office.id,
            office_name=office.name,
            zone_id=zone.id,
            zone_name=zone.name,
            distance_m=signed,
            accuracy_m=acc,
            limit=limit,
        )

    def verdict(kind: VerdictKind, reason: Reason) -> tuple[VerdictKind, str, str, float, Reason]:
        return kind, office.id, zone.id, signed, reason

    uncertain = VerdictKind.UNCERTAIN
    if acc is None:
        return verdict(uncertain, because(ReasonCode.NO_ACCURACY))
    if not math.isfinite(acc) or acc < 0:
        return verdict(uncertain, because(ReasonCode.INVALID_ACCURACY))
    if acc > policy.max_accuracy_m:
        return verdict(uncertain, because(ReasonCode.LOW_ACCURACY, limit=policy.max_accuracy_m))
    reach = max(0.0, acc - policy.edge_tolerance_m)
    if signed + reach <= 0:
        return verdict(VerdictKind.INSIDE, because(ReasonCode.INSIDE_ZONE))
    if signed - reach > 0:
        return verdict(VerdictKind.OUTSIDE, because(ReasonCode.OUTSIDE_ZONES))
    return verdict(uncertain, because(ReasonCode.STRADDLES_BOUNDARY))


def _usable(accuracy: float) -> bool:
    return math.isfinite(accuracy) and accuracy >= 0


def check_speed(fix: Fix, history: Sequence[PastFix], *, policy: PresencePolicy) -> Reason | None:
    """IMPLAUSIBLE_SPEED when reaching `fix` from any earlier fix needs more than
    `policy.max_speed_kmh`, even granting both fixes their full accuracy radius.

    A fix without a usable accuracy is granted `policy.max_accuracy_m` (the coarsest fix that
    could decide a verdict). Instants are the server's, which the phone cannot set; less than a
    second apart counts as one second. The fastest offending pair is reported.
    """

    def allowance(accuracy: float | None) -> float:
        if accuracy is None or not _usable(accuracy):
            return policy.max_accuracy_m
        return accuracy

    worst: Reason | None = None
    for past in history:
        gap = distance_m(past.point, fix.point)
        gap -= allowance(fix.accuracy_m) + allowance(past.accuracy_m)
        if gap <= 0:
            continue
        elapsed = abs(fix.server_time - past.server_time)
        kmh = gap / max(elapsed.total_seconds(), 1.0) * 3.6
        if kmh > policy.max_speed_kmh and (worst is None or kmh > (worst.value or 0.0)):
            worst = Reason(
                code=ReasonCode.IMPLAUSIBLE_SPEED,
                distance_m=gap,
                elapsed=elapsed,
                value=kmh,
                limit=policy.max_speed_kmh,
            )
    return worst


def check_repeated_coordinates(
    fix: Fix, history: Sequence[PastFix], *, tz: tzinfo = UTC
) -> Reason | None:
    """REPEATED_COORDINATES when an earlier fix on another local day had exactly the same
    latitude and longitude: real GPS jitters by metres, replayed or mocked positions do not.

    Same-day repeats are left alone (a browser may hand out its cached fix twice). Caveat:
    Wi-Fi positioning of a desk-bound laptop can repeat exactly; hence a flag, not a verdict.
    """
    today = fix.server_time.astimezone(tz).date()
    days = [
        p.server_time.astimezone(tz).date()
        for p in history
        if p.point == fix.point and p.server_time.astimezone(tz).date() != today
    ]
    if not days:
        return None
    return Reason(code=ReasonCode.REPEATED_COORDINATES, day=max(days))


def check_accuracy(accuracy_m: float | None, *, policy: PresencePolicy) -> Reason | None:
    """ZERO_ACCURACY for exactly 0 (mock-location apps and emulators report it);
    IMPLAUSIBLE_ACCURACY for negative or non-numeric values, or beyond the plausible bounds."""
    if accuracy_m is None:
        return None
    if accuracy_m == 0:
        return Reason(code=ReasonCode.ZERO_ACCURACY, accuracy_m=accuracy_m)
    limit: float | None = None
    if not _usable(accuracy_m):
        pass
    elif accuracy_m < policy.min_plausible_accuracy_m:
        limit = policy.min_plausible_accuracy_m
    elif accuracy_m > policy.max_plausible_accuracy_m:
        limit = policy.max_plausible_accuracy_m
    else:
        return None
    return Reason(code=ReasonCode.IMPLAUSIBLE_ACCURACY, accuracy_m=accuracy_m, limit=limit)


def check_clock_skew(fix: Fix, *, policy: PresencePolicy) -> Reason | None:
    """DEVICE_CLOCK_SKEW when the phone's clock is further than `policy.max_clock_skew` from
    the server's: a replayed or hand-edited request carries a stale or invented time."""
    if fix.device_time is None:
        return None
    skew = fix.device_time - fix.server_time
    if abs(skew) <= policy.max_clock_skew:
        return None
    return Reason(
        code=ReasonCode.DEVICE_CLOCK_SKEW,
        value=skew.total_seconds(),
        limit=policy.max_clock_skew.total_seconds(),
    )


def check_ip(ip: str | None, networks: Sequence[IPNetwork]) -> Reason | None:
    """IP_OUTSIDE_OFFICE_NETWORKS when office ranges are configured and a known client IP is in
    none of them (an unreadable IP counts as outside). Mobile data is a common innocent cause."""
    if not networks or not ip:
        return None
    addr = parse_ip(ip)
    if addr is not None and best_match(addr, networks) is not None:
        return None
    return Reason(code=ReasonCode.IP_OUTSIDE_OFFICE_NETWORKS, ip=ip)


def evaluate_ip_only(
    ip: str | None, office_networks_by_office: Mapping[Office, Sequence[str]]
) -> Verdict:
    """Presence from the client IP alone, for a desktop without geolocation.

    Inside the office with the most specific range containing the IP. Anything else is
    uncertain, not outside: an IP off the office network proves no absence (VPN, mobile data).
    """
    networks = [(o, parse_networks(cidrs)) for o, cidrs in office_networks_by_office.items()]
    if not any(nets for _, nets in networks):
        return _single(VerdictKind.UNCERTAIN, Reason(code=ReasonCode.NO_GPS_NO_NETWORKS, ip=ip))
    addr = parse_ip(ip)
    if addr is None:
        return _single(VerdictKind.UNCERTAIN, Reason(code=ReasonCode.NO_GPS_NO_IP, ip=ip))
    matches = [(m, o) for o, nets in networks if (m := best_match(addr, nets)) is not None]
    if not matches:
        return _single(VerdictKind.UNCERTAIN, Reason(code=ReasonCode.NO_GPS_IP_OUTSIDE, ip=ip))
    _, office = max(matches, key=lambda m: m[0].prefixlen)
    reason = Reason(
        code=ReasonCode.IP_IN_OFFICE_NETWORK, office_id=office.id, office_name=office.name, ip=ip
    )
    return Verdict(kind=VerdictKind.INSIDE, office_id=office.id, reasons=(reason,))


def _single(kind: VerdictKind, reason: Reason) -> Verdict:
    return Verdict(kind=kind, reasons=(reason,))


def remote_verdict(code: ReasonCode = ReasonCode.REMOTE_DAY) -> Verdict:
    """The verdict for a day or person no geofence applies to: REMOTE_DAY (a remote day in the
    schedule) or NO_GEOFENCE_REQUIRED (a person exempt from location checks)."""
    if code not in _REMOTE_CODES:
        raise ValueError(f"{code!r} is not a reason for a remote verdict")
    return _single(VerdictKind.REMOTE, Reason(code=ReasonCode(code)))


def decision(verdict: Verdict, policy: PresencePolicy) -> Decision:
    """Accept, accept flagged for a manager's eye, or reject, as the portal's policy says.

    Outside and uncertain verdicts are rejected only with `block_outside`/`block_uncertain`;
    suspicion flags reject only when listed in `block_flags`, since each has innocent causes.
    Otherwise anything short of a clean inside (or remote) verdict is accepted flagged.
    """
    kind = verdict.kind
    blocked_kind = (kind is VerdictKind.OUTSIDE and policy.block_outside) or (
        kind is VerdictKind.UNCERTAIN and policy.block_uncertain
    )
    blocked_flags = tuple(
        r for r in verdict.flag_reasons if SuspicionFlag(r.code.value) in policy.block_flags
    )
    if blocked_kind or blocked_flags:
        return Decision(
            DecisionKind.REJECT, ((verdict.reason,) if blocked_kind else ()) + blocked_flags
        )
    doubtful = kind in (VerdictKind.OUTSIDE, VerdictKind.UNCERTAIN)
    concerns = ((verdict.reason,) if doubtful else ()) + verdict.flag_reasons
    if concerns:
        return Decision(DecisionKind.ACCEPT_FLAGGED, concerns)
    return Decision(DecisionKind.ACCEPT)
