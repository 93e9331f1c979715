"""What a portal's policy makes of a verdict; presence by office IP for desktops without GPS;
remote verdicts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from timebot.domain.geo import Point
from timebot.domain.geofence import CircleZone, Office
from timebot.domain.networks import InvalidNetwork
from timebot.domain.presence import (
    DecisionKind,
    Fix,
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

from .places import travel

NOW = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
CENTRE = Point(55.7558, 37.6173)
HQ = Office("hq", "Центральный", (CircleZone("door", "Главный вход", CENTRE, 100.0),))
BRANCH = Office("branch", "Филиал", ())


def verdict_for(point: Point, accuracy: float | None) -> Verdict:
    return evaluate(Fix(point, accuracy, None, NOW), [HQ], policy=PresencePolicy())


INSIDE = verdict_for(CENTRE, 10.0)
INSIDE_FLAGGED = verdict_for(CENTRE, 0.0)  # zero_accuracy
OUTSIDE = verdict_for(travel(CENTRE, 0.0, 450.0), 10.0)
UNCERTAIN = verdict_for(CENTRE, 180.0)


def test_the_fixtures_are_what_their_names_say() -> None:
    assert (INSIDE.kind, INSIDE.flags) == (VerdictKind.INSIDE, ())
    assert (INSIDE_FLAGGED.kind, INSIDE_FLAGGED.flags) == (
        VerdictKind.INSIDE,
        (SuspicionFlag.ZERO_ACCURACY,),
    )
    assert OUTSIDE.kind is VerdictKind.OUTSIDE
    assert UNCERTAIN.kind is VerdictKind.UNCERTAIN


@pytest.mark.parametrize(
    ("verdict", "policy", "kind", "codes"),
    [
        (INSIDE, PresencePolicy(), DecisionKind.ACCEPT, []),
        (INSIDE, PresencePolicy(block_outside=True, block_uncertain=True), DecisionKind.ACCEPT, []),
        (INSIDE_FLAGGED, PresencePolicy(), DecisionKind.ACCEPT_FLAGGED, ["zero_accuracy"]),
        (
            INSIDE_FLAGGED,
            PresencePolicy(block_flags=frozenset({SuspicionFlag.ZERO_ACCURACY})),
            DecisionKind.REJECT,
            ["zero_accuracy"],
        ),
        (
            INSIDE_FLAGGED,
            PresencePolicy(block_flags=frozenset({SuspicionFlag.IMPLAUSIBLE_SPEED})),
            DecisionKind.ACCEPT_FLAGGED,
            ["zero_accuracy"],
        ),
        (OUTSIDE, PresencePolicy(), DecisionKind.ACCEPT_FLAGGED, ["outside_zones"]),
        (OUTSIDE, PresencePolicy(block_outside=True), DecisionKind.REJECT, ["outside_zones"]),
        (
            OUTSIDE,
            PresencePolicy(block_uncertain=True),
            DecisionKind.ACCEPT_FLAGGED,
            ["outside_zones"],
        ),
        (UNCERTAIN, PresencePolicy(), DecisionKind.ACCEPT_FLAGGED, ["low_accuracy"]),
        (
            UNCERTAIN,
            PresencePolicy(block_outside=True),
            DecisionKind.ACCEPT_FLAGGED,
            ["low_accuracy"],
        ),
        (UNCERTAIN, PresencePolicy(block_uncertain=True), DecisionKind.REJECT, ["low_accuracy"]),
        (remote_verdict(), PresencePolicy(block_outside=True), DecisionKind.ACCEPT, []),
    ],
)
def test_the_policy_accepts_flags_or_rejects_with_reasons(
    verdict: Verdict, policy: PresencePolicy, kind: DecisionKind, codes: list[str]
) -> None:
    result = decision(verdict, policy)
    assert result.kind is kind
    assert [r.code.value for r in result.reasons] == codes


def test_a_rejection_lists_the_blocked_kind_and_the_blocked_flags_only() -> None:
    outside_zero = verdict_for(travel(CENTRE, 0.0, 450.0), 0.0)
    policy = PresencePolicy(
        block_outside=True, block_flags=frozenset({SuspicionFlag.ZERO_ACCURACY})
    )
    result = decision(outside_zero, policy)
    assert result.kind is DecisionKind.REJECT
    assert [r.code.value for r in result.reasons] == ["outside_zones", "zero_accuracy"]
    lenient = decision(outside_zero, PresencePolicy())
    assert [r.code.value for r in lenient.reasons] == ["outside_zones", "zero_accuracy"]


def test_remote_verdicts_come_in_two_kinds_only() -> None:
    assert remote_verdict().reason.code is ReasonCode.REMOTE_DAY
    exempt = remote_verdict(ReasonCode.NO_GEOFENCE_REQUIRED)
    assert (exempt.kind, exempt.office_id, exempt.flags) == (VerdictKind.REMOTE, None, ())
    with pytest.raises(ValueError, match="remote"):
        remote_verdict(ReasonCode.INSIDE_ZONE)


NETWORKS = {
    HQ: ["10.0.0.0/8", "2001:db8:1::/48"],
    BRANCH: ["10.7.0.0/16"],  # carved out of the HQ range: the more specific wins
}


@pytest.mark.parametrize(
    ("ip", "office"),
    [
        ("10.1.2.3", "hq"),
        ("10.7.9.9", "branch"),
        ("2001:db8:1::42", "hq"),
        ("::ffff:10.7.0.1", "branch"),
    ],
)
def test_an_office_ip_proves_presence_without_gps(ip: str, office: str) -> None:
    verdict = evaluate_ip_only(ip, NETWORKS)
    assert verdict.kind is VerdictKind.INSIDE
    assert verdict.office_id == office
    assert verdict.zone_id is None
    assert verdict.reason.code is ReasonCode.IP_IN_OFFICE_NETWORK
    assert verdict.reason.ip == ip


@pytest.mark.parametrize(
    ("ip", "networks", "code"),
    [
        ("8.8.8.8", NETWORKS, ReasonCode.NO_GPS_IP_OUTSIDE),
        ("2001:db8:2::1", NETWORKS, ReasonCode.NO_GPS_IP_OUTSIDE),
        (None, NETWORKS, ReasonCode.NO_GPS_NO_IP),
        ("not-an-ip", NETWORKS, ReasonCode.NO_GPS_NO_IP),
        ("10.1.2.3", {HQ: [], BRANCH: []}, ReasonCode.NO_GPS_NO_NETWORKS),
        ("10.1.2.3", {}, ReasonCode.NO_GPS_NO_NETWORKS),
    ],
)
def test_without_gps_anything_but_an_office_ip_is_uncertain(
    ip: str | None, networks: dict[Office, list[str]], code: ReasonCode
) -> None:
    verdict = evaluate_ip_only(ip, networks)
    assert verdict.kind is VerdictKind.UNCERTAIN
    assert verdict.reason.code is code
    assert decision(verdict, PresencePolicy()).kind is DecisionKind.ACCEPT_FLAGGED


def test_ip_only_refuses_malformed_office_networks() -> None:
    with pytest.raises(InvalidNetwork, match="office-lan"):
        evaluate_ip_only("10.0.0.1", {HQ: ["office-lan"]})
