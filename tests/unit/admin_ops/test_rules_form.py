"""The rules form: what it shows for stored settings, how it reads a submission, and the changes
it makes (only the keys that changed; bookkeeping keys untouched)."""

from __future__ import annotations

from typing import Any

import pytest

from timebot.services.digest import DigestRules
from timebot.services.presence import policy_from_settings, required_actions
from timebot.services.reminders import ReminderRules
from timebot.services.retention import retention_days
from timebot.web.admin.ops.rules_form import (
    FIELDS,
    KINDS,
    form_values,
    parse_origin,
    parse_rules,
)

BOOKKEEPING = {
    "directory_synced_at": "2026-11-20T06:00:00+00:00",
    "installed_by": 1,
    "plan_checked_at": "2026-11-20T06:00:00+00:00",
}


def submitted(settings: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """The form as a browser posts it for `settings`, with `changes` typed in (False/None
    leaves a checkbox unticked)."""
    shown = form_values(settings or {})
    form: dict[str, Any] = {}
    for f in FIELDS:
        value = changes.get(f.key, shown[f.key])
        if f.kind == "bool":
            if value:
                form[f.key] = "1"
        elif f.kind == "choices":
            form[f.key] = list(value)
        else:
            form[f.key] = "" if value is None else str(value)
    return form


def test_the_form_shows_the_defaults_the_system_applies_for_empty_settings() -> None:
    shown = form_values({})
    assert shown["remind_checkin_after_minutes"] == ""  # off
    assert shown["remind_checkout_after_minutes"] == "30"
    assert shown["remind_checkout_snooze_minutes"] == "60"
    assert shown["auto_close_after_minutes"] == "240"
    assert shown["digest_time"] == "09:00"
    assert shown["digest_chat"] is True
    assert shown["digest_email"] is True
    assert shown["digest_send_empty"] is False
    assert shown["digest_kinds"] == list(KINDS)
    assert shown["location_required"] is False
    assert shown["location_required_actions"] == ["check_in"]
    assert shown["checkin_link_minutes"] == "10"
    assert shown["location_retention_days"] == "90"
    assert shown["timeman_mirror"] is False
    assert shown["country"] == "RU"
    assert shown["cors_origins"] == ""


def test_an_unchanged_form_changes_nothing() -> None:
    settings = {**BOOKKEEPING, "digest_time": "10:30", "timeman_mirror": True}
    result = parse_rules(submitted(settings), settings)
    assert result.ok
    assert result.changes == ()
    assert result.apply(settings) == settings


def test_changes_are_typed_and_keep_every_other_key() -> None:
    settings = {**BOOKKEEPING, "something_else": {"a": 1}}
    form = submitted(
        settings,
        remind_checkin_after_minutes="15",
        remind_checkout_after_minutes=None,
        auto_close_after_minutes="300",
        digest_time="8:05",
        digest_email=False,
        digest_kinds=["late_start", "absent"],
        location_required=True,
        location_required_actions=["check_in", "check_out"],
        block_outside=True,
        checkin_link_minutes="20",
        max_accuracy_m="75,5",
        location_retention_days="30",
        timeman_mirror=True,
        country="de",
        cors_origins="https://HR.example.com/\nhttp://localhost:3000, https://hr.example.com",
    )
    result = parse_rules(form, settings)
    assert result.ok, result.errors
    new = result.apply(settings)
    for key, value in {**BOOKKEEPING, "something_else": {"a": 1}}.items():
        assert new[key] == value
    assert new["remind_checkin_after_minutes"] == 15
    assert new["remind_checkout_after_minutes"] is None
    assert new["auto_close_after_minutes"] == 300
    assert new["digest_time"] == "08:05"
    assert new["digest_email"] is False
    assert new["digest_kinds"] == ["late_start", "absent"]
    assert new["location_required"] is True
    assert new["location_required_actions"] == ["check_in", "check_out"]
    assert new["block_outside"] is True
    assert new["checkin_link_minutes"] == 20
    assert new["max_accuracy_m"] == 75.5
    assert new["location_retention_days"] == 30
    assert new["timeman_mirror"] is True
    assert new["country"] == "DE"
    assert new["cors_origins"] == ["https://hr.example.com", "http://localhost:3000"]
    # What the services read from the new settings is what was typed.
    reminders = ReminderRules.from_settings(new)
    assert reminders.remind_checkin_after_minutes == 15
    assert reminders.remind_checkout_after_minutes is None
    assert reminders.auto_close_after_minutes == 300
    digest = DigestRules.from_settings(new)
    assert digest.at is not None
    assert digest.at.strftime("%H:%M") == "08:05"
    assert not digest.email
    assert required_actions(new) == frozenset({"check_in", "check_out"})
    assert policy_from_settings(new).block_outside
    assert policy_from_settings(new).max_accuracy_m == 75.5
    assert retention_days(new) == 30
    # One change per key that changed, with the old value.
    keys = {c.key for c in result.changes}
    assert "country" in keys
    assert "digest_chat" not in keys
    assert next(c for c in result.changes if c.key == "auto_close_after_minutes").old is None


def test_the_digest_turned_off_is_stored_as_off_and_read_as_no_digest() -> None:
    result = parse_rules(submitted({}, digest_time=""), {})
    new = result.apply({})
    assert new["digest_time"] == "off"
    assert DigestRules.from_settings(new).at is None


def test_ticking_every_kind_again_removes_the_key_and_blank_threshold_drops_it() -> None:
    settings = {"digest_kinds": ["late_start"], "max_speed_kmh": 120, **BOOKKEEPING}
    result = parse_rules(submitted(settings, digest_kinds=list(KINDS), max_speed_kmh=""), settings)
    assert result.ok
    new = result.apply(settings)
    assert "digest_kinds" not in new
    assert "max_speed_kmh" not in new
    assert {c.key for c in result.changes if c.removed} == {"digest_kinds", "max_speed_kmh"}
    assert new["installed_by"] == 1


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("remind_checkout_snooze_minutes", "", "required"),
        ("remind_checkout_snooze_minutes", "0", "range"),
        ("auto_close_after_minutes", "-5", "not_whole"),
        ("auto_close_after_minutes", "99999", "range"),
        ("checkin_link_minutes", "1441", "range"),
        ("checkin_link_minutes", "ten", "not_whole"),
        ("location_retention_days", "0", "range"),
        ("location_retention_days", "2000", "range"),
        ("digest_time", "25:00", "not_time"),
        ("digest_time", "9am", "not_time"),
        ("max_accuracy_m", "abc", "not_number"),
        ("max_accuracy_m", "nan", "range"),
        ("max_accuracy_m", "-1", "range"),
        ("country", "Russia", "not_country"),
        ("cors_origins", "*", "origin_wildcard"),
        ("cors_origins", "https://example.com/path", "not_origin"),
        ("cors_origins", "ftp://example.com", "not_origin"),
        ("cors_origins", "example.com", "not_origin"),
    ],
)
def test_a_bad_value_is_named_and_nothing_changes(key: str, value: str, code: str) -> None:
    settings = dict(BOOKKEEPING)
    result = parse_rules(submitted(settings, **{key: value}), settings)
    assert not result.ok
    assert [(e.key, e.code) for e in result.errors] == [(key, code)]
    assert result.changes == ()
    assert result.echo[key] == value.strip()


def test_unknown_choices_and_empty_choices_are_refused() -> None:
    result = parse_rules(submitted({}, digest_kinds=["late_start", "coffee"]), {})
    assert [(e.key, e.code) for e in result.errors] == [("digest_kinds", "unknown_choice")]
    result = parse_rules(submitted({}, digest_kinds=[]), {})
    assert [(e.key, e.code) for e in result.errors] == [("digest_kinds", "choose_kind")]
    result = parse_rules(submitted({}, location_required=True, location_required_actions=[]), {})
    assert [(e.key, e.code) for e in result.errors] == [
        ("location_required_actions", "choose_action")
    ]


def test_a_country_without_a_calendar_is_refused_when_asked() -> None:
    known = {"RU", "DE"}
    result = parse_rules(submitted({}, country="ZZ"), {}, known_country=known.__contains__)
    assert [(e.key, e.code) for e in result.errors] == [("country", "unknown_country")]
    result = parse_rules(submitted({}, country="de"), {}, known_country=known.__contains__)
    assert result.ok
    assert result.apply({})["country"] == "DE"


def test_too_many_origins_are_refused() -> None:
    origins = "\n".join(f"https://s{i}.example.com" for i in range(51))
    result = parse_rules(submitted({}, cors_origins=origins), {})
    assert [(e.key, e.code) for e in result.errors] == [("cors_origins", "too_many_origins")]


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://example.com", "https://example.com"),
        ("https://Example.COM/", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://10.0.0.5:8443", "https://10.0.0.5:8443"),
        ("https://[::1]:8080", "https://[::1]:8080"),
        ("https://xn--80ak6aa92e.xn--p1ai", "https://xn--80ak6aa92e.xn--p1ai"),
        ("https://example.com/app", None),
        ("https://example.com?x=1", None),
        ("https://example.com#top", None),
        ("https://user:pw@example.com", None),
        ("https://exa mple.com", None),
        ("https://example.com:99999", None),
        ("https://-bad-.com", None),
        ("javascript:alert(1)", None),
        ("null", None),
        ("", None),
    ],
)
def test_origins_are_scheme_host_and_port_only(text: str, origin: str | None) -> None:
    assert parse_origin(text) == origin


def test_a_stale_page_does_not_undo_what_someone_else_saved() -> None:
    shown = form_values({})
    # Meanwhile another administrator moved the digest to 10:00.
    current = {**BOOKKEEPING, "digest_time": "10:00"}
    form = submitted({}, timeman_mirror=True)  # the stale page, with one change made
    result = parse_rules(form, current, shown=shown)
    assert result.ok
    assert [c.key for c in result.changes] == ["timeman_mirror"]
    assert result.apply(current)["digest_time"] == "10:00"
    # Without the baseline every field is compared with the settings as they are.
    blind = parse_rules(form, current)
    assert {c.key for c in blind.changes} == {"timeman_mirror", "digest_time"}
