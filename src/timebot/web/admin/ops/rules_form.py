"""The per-portal rules as a form: what each field shows, how a submitted value is checked, and
the change it makes to `portals.settings`.

Every field shows the value the system applies now, read by the same functions that apply it
(`ReminderRules.from_settings`, `DigestRules.from_settings`, `retention_days`, ...), so what an
administrator sees is what the bot does. A submission changes only the keys whose value differs
from that; keys the form does not know (system bookkeeping such as `directory_synced_at`) are
never touched. Errors come back per field as message keys with values, never as exceptions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from timebot.domain.violations import ViolationKind
from timebot.services.checkin_links import link_ttl
from timebot.services.digest import DigestRules
from timebot.services.presence import policy_from_settings, required_actions
from timebot.services.reminders import ReminderRules
from timebot.services.retention import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, retention_days

__all__ = [
    "CORS_KEY",
    "FIELDS",
    "MAX_ORIGINS",
    "Change",
    "FieldError",
    "RuleField",
    "RulesSubmission",
    "form_values",
    "parse_origin",
    "parse_rules",
]

Kind = Literal["bool", "minutes", "int", "number", "time", "choices", "origins", "country"]

CORS_KEY: Final = "cors_origins"
MAX_ORIGINS: Final = 50
WEEK_MINUTES: Final = 7 * 24 * 60
ACTIONS: Final = ("check_in", "check_out")
KINDS: Final = tuple(k.value for k in ViolationKind)
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class RuleField:
    """One field of the form.

    `kind`: bool (a checkbox), minutes (whole minutes or off), int (whole number in a range),
    number (a non-negative number; empty = the default), time (HH:MM or off), choices
    (checkboxes of `choices`), origins (a list of web origins), country (ISO code).
    """

    key: str
    kind: Kind
    group: str
    minimum: float = 0
    maximum: float = WEEK_MINUTES
    can_be_off: bool = False
    choices: tuple[str, ...] = ()
    # The PresencePolicy default, shown as the placeholder of a "number" field.
    placeholder: str = ""


FIELDS: Final[tuple[RuleField, ...]] = (
    # Reminders and forgotten days
    RuleField("remind_checkin_after_minutes", "minutes", "reminders", can_be_off=True),
    RuleField("remind_checkout_after_minutes", "minutes", "reminders", can_be_off=True),
    RuleField("remind_checkout_snooze_minutes", "minutes", "reminders", minimum=1),
    RuleField("auto_close_after_minutes", "minutes", "reminders", can_be_off=True),
    # Daily digest and weekly statistics
    RuleField("digest_time", "time", "digest"),
    RuleField("digest_chat", "bool", "digest"),
    RuleField("digest_email", "bool", "digest"),
    RuleField("digest_send_empty", "bool", "digest"),
    RuleField("digest_kinds", "choices", "digest", choices=KINDS),
    RuleField("weekly_stats", "bool", "digest"),
    # Location policy
    RuleField("location_required", "bool", "location"),
    RuleField("location_required_actions", "choices", "location", choices=ACTIONS),
    RuleField("block_outside", "bool", "location"),
    RuleField("block_uncertain", "bool", "location"),
    RuleField("checkin_link_minutes", "int", "location", minimum=1, maximum=24 * 60),
    RuleField("max_accuracy_m", "number", "location", maximum=1_000_000, placeholder="100"),
    RuleField("edge_tolerance_m", "number", "location", maximum=100_000, placeholder="15"),
    RuleField("max_speed_kmh", "number", "location", maximum=100_000, placeholder="200"),
    RuleField("max_clock_skew_seconds", "number", "location", maximum=7 * 86400, placeholder="300"),
    RuleField(
        "location_retention_days",
        "int",
        "location",
        minimum=MIN_RETENTION_DAYS,
        maximum=MAX_RETENTION_DAYS,
    ),
    # Bitrix24 and the calendar
    RuleField("timeman_mirror", "bool", "integration"),
    RuleField("timeman_settings_import", "bool", "integration"),
    RuleField("country", "country", "integration"),
    RuleField(CORS_KEY, "origins", "integration"),
)
_BY_KEY: Final = {f.key: f for f in FIELDS}


@dataclass(frozen=True, slots=True)
class FieldError:
    """Why a submitted value was refused: a message key (`ops.rules.error.<code>`) and values."""

    key: str
    code: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """One key set to `new` (`removed`: the key is dropped, the default applies again)."""

    key: str
    old: Any
    new: Any
    removed: bool = False


@dataclass(frozen=True, slots=True)
class RulesSubmission:
    changes: tuple[Change, ...]
    errors: tuple[FieldError, ...]
    # What the form should show again after errors: the submitted texts.
    echo: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        return not self.errors

    def apply(self, settings: Mapping[str, Any] | None) -> dict[str, Any]:
        """A new settings dict with the changes made; every other key kept as it is."""
        out = dict(settings or {})
        for change in self.changes:
            if change.removed:
                out.pop(change.key, None)
            else:
                out[change.key] = change.new
        return out


# --- What the system applies now ----------------------------------------------------------------


def _minutes_text(value: int | None) -> str:
    return "" if value is None else str(value)


def _number_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def effective(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Each field's value as the system reads it now (typed: bool, int | None, str, list)."""
    s: Mapping[str, Any] = settings if isinstance(settings, Mapping) else {}
    reminders = ReminderRules.from_settings(s)
    digest = DigestRules.from_settings(s)
    policy = policy_from_settings(s)
    actions = required_actions({**s, "location_required": True})
    kinds = digest.kinds
    origins = s.get(CORS_KEY)
    country = s.get("country")
    return {
        "remind_checkin_after_minutes": reminders.remind_checkin_after_minutes,
        "remind_checkout_after_minutes": reminders.remind_checkout_after_minutes,
        "remind_checkout_snooze_minutes": reminders.remind_checkout_snooze_minutes,
        "auto_close_after_minutes": reminders.auto_close_after_minutes,
        "digest_time": None if digest.at is None else digest.at.strftime("%H:%M"),
        "digest_chat": digest.chat,
        "digest_email": digest.email,
        "digest_send_empty": digest.send_empty,
        "digest_kinds": [k for k in KINDS if kinds is None or ViolationKind(k) in kinds],
        "weekly_stats": s.get("weekly_stats", True) is not False,
        "location_required": s.get("location_required") is True,
        "location_required_actions": [a for a in ACTIONS if a in actions],
        "block_outside": policy.block_outside,
        "block_uncertain": policy.block_uncertain,
        "checkin_link_minutes": int(link_ttl(s) // timedelta(minutes=1)),
        # Thresholds: only what is set explicitly (empty = the built-in default).
        "max_accuracy_m": _number_text(s.get("max_accuracy_m")),
        "edge_tolerance_m": _number_text(s.get("edge_tolerance_m")),
        "max_speed_kmh": _number_text(s.get("max_speed_kmh")),
        "max_clock_skew_seconds": _number_text(s.get("max_clock_skew_seconds")),
        "location_retention_days": retention_days(s),
        "timeman_mirror": bool(s.get("timeman_mirror")),
        "timeman_settings_import": bool(s.get("timeman_settings_import")),
        "country": str(country).upper() if isinstance(country, str) and country else "RU",
        CORS_KEY: [o for o in origins if isinstance(o, str)] if isinstance(origins, list) else [],
    }


def form_values(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the form shows: texts for inputs, bools for checkboxes, lists for checkbox groups."""
    values = effective(settings)
    shown: dict[str, Any] = {}
    for f in FIELDS:
        value = values[f.key]
        if f.kind == "minutes":
            shown[f.key] = _minutes_text(value)
        elif f.kind == "int":
            shown[f.key] = str(value)
        elif f.kind == "time":
            shown[f.key] = value or ""
        elif f.kind == "origins":
            shown[f.key] = "\n".join(value)
        else:
            shown[f.key] = value
    return shown


# --- Reading a submission -----------------------------------------------------------------------


def parse_origin(text: str) -> str | None:
    """ "https://Example.com:8443/" → "https://example.com:8443"; None unless the text is a web
    origin: http or https, a host name or IP address, an optional port, nothing else."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal: urlsplit has checked the brackets
        host_text = f"[{host}]"
    elif _HOST.fullmatch(host) and len(host) <= 253:
        host_text = host
    else:
        return None
    scheme = parts.scheme.lower()
    default_port = 443 if scheme == "https" else 80
    port_text = f":{port}" if port is not None and port != default_port else ""
    return f"{scheme}://{host_text}{port_text}"


def _one(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key, "")
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    return str(value).strip()


def _many(form: Mapping[str, Any], key: str) -> list[str]:
    value = form.get(key, [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _checked(form: Mapping[str, Any], key: str) -> bool:
    return _one(form, key).lower() in ("1", "on", "true", "yes")


def _whole(text: str, f: RuleField) -> int | FieldError:
    if not re.fullmatch(r"\d{1,9}", text):
        return FieldError(f.key, "not_whole", {"min": int(f.minimum), "max": int(f.maximum)})
    number = int(text)
    if not f.minimum <= number <= f.maximum:
        return FieldError(f.key, "range", {"min": int(f.minimum), "max": int(f.maximum)})
    return number


def _parse_field(f: RuleField, form: Mapping[str, Any]) -> Any:
    """The typed value of one field, or a FieldError."""
    if f.kind == "bool":
        return _checked(form, f.key)
    if f.kind == "choices":
        chosen = _many(form, f.key)
        unknown = [c for c in chosen if c not in f.choices]
        if unknown:
            return FieldError(f.key, "unknown_choice", {"value": unknown[0][:40]})
        return [c for c in f.choices if c in chosen]
    text = _one(form, f.key)
    if f.kind == "minutes":
        if f.can_be_off and text.lower() in ("", "off", "нет", "выкл"):
            return None
        if not text:
            return FieldError(f.key, "required")
        return _whole(text, f)
    if f.kind == "int":
        if not text:
            return FieldError(f.key, "required")
        return _whole(text, f)
    if f.kind == "number":
        if not text:
            return ""
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            return FieldError(f.key, "not_number", {"max": _number_text(f.maximum)})
        if not math.isfinite(number) or not f.minimum <= number <= f.maximum:
            return FieldError(f.key, "range", {"min": 0, "max": _number_text(f.maximum)})
        return _number_text(number)
    if f.kind == "time":
        if text.lower() in ("", "off", "нет", "выкл"):
            return None
        match = _CLOCK.fullmatch(text)
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            return FieldError(f.key, "not_time")
        return f"{int(match[1]):02d}:{match[2]}"
    if f.kind == "country":
        if not _COUNTRY.fullmatch(text):
            return FieldError(f.key, "not_country")
        return text.upper()
    # origins
    raw = [part for part in re.split(r"[\s,]+", _one(form, f.key)) if part]
    origins: list[str] = []
    for part in raw:
        if part == "*":
            return FieldError(f.key, "origin_wildcard")
        origin = parse_origin(part)
        if origin is None:
            return FieldError(f.key, "not_origin", {"value": part[:80]})
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        return FieldError(f.key, "too_many_origins", {"max": MAX_ORIGINS})
    return origins


def _stored(f: RuleField, value: Any) -> Any:
    """The JSON value a typed field value is stored as (`_MISSING`: drop the key)."""
    if f.kind == "number":
        if value == "":
            return _MISSING
        number = float(value)
        return int(number) if number.is_integer() else number
    if f.kind == "time":
        return "off" if value is None else value
    if f.kind == "choices" and f.key == "digest_kinds" and list(value) == list(f.choices):
        return _MISSING  # every kind: the default
    return value


def parse_rules(
    form: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    *,
    known_country: Callable[[str], bool] | None = None,
    shown: Mapping[str, Any] | None = None,
) -> RulesSubmission:
    """Check a submitted form against the settings it would change.

    `known_country(code) -> bool` says whether a production calendar exists for a country
    code (the web layer asks `reports.production_calendar`); None accepts any two letters.
    `shown`: the values the page showed (`form_values` when it was rendered). A field the
    person left as shown changes nothing, so a stale page does not undo what someone else
    saved meanwhile; without it every field is compared with the settings as they are.
    """
    now = effective(current)
    errors: list[FieldError] = []
    parsed: dict[str, Any] = {}
    echo: dict[str, Any] = {}
    for f in FIELDS:
        value = _parse_field(f, form)
        if f.kind in ("bool",):
            echo[f.key] = _checked(form, f.key)
        elif f.kind == "choices":
            echo[f.key] = [c for c in _many(form, f.key) if c in f.choices]
        else:
            echo[f.key] = _one(form, f.key)
        if isinstance(value, FieldError):
            errors.append(value)
        else:
            parsed[f.key] = value
    country = parsed.get("country")
    if country and country != now["country"] and known_country and not known_country(country):
        errors.append(FieldError("country", "unknown_country", {"value": country}))
    if parsed.get("location_required") and parsed.get("location_required_actions") == []:
        errors.append(FieldError("location_required_actions", "choose_action"))
    if parsed.get("digest_kinds") == []:
        errors.append(FieldError("digest_kinds", "choose_kind"))
    if errors:
        return RulesSubmission((), tuple(errors), echo)
    untouched = _untouched(parsed, shown)
    return RulesSubmission(tuple(_changes(parsed, now, current, untouched)), (), echo)


def _untouched(parsed: Mapping[str, Any], shown: Mapping[str, Any] | None) -> set[str]:
    """The fields whose submitted value is the value the page showed."""
    if not isinstance(shown, Mapping):
        return set()
    same: set[str] = set()
    for f in FIELDS:
        if f.key not in shown:
            continue
        before = _parse_field(f, shown)
        if not isinstance(before, FieldError) and before == parsed[f.key]:
            same.add(f.key)
    return same


def _changes(
    parsed: Mapping[str, Any],
    now: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    untouched: set[str],
) -> list[Change]:
    stored_now = current if isinstance(current, Mapping) else {}
    changes: list[Change] = []
    for f in FIELDS:
        value = parsed[f.key]
        if value == now[f.key] or f.key in untouched:
            continue
        if f.key == "location_required_actions" and not value and not parsed["location_required"]:
            continue  # no action ticked while no location is required: nothing to keep
        new = _stored(f, value)
        old = stored_now.get(f.key)
        if new is _MISSING:
            if f.key in stored_now:
                changes.append(Change(f.key, old, None, removed=True))
            continue
        if f.key in stored_now and old == new:
            continue
        changes.append(Change(f.key, old, new))
    return changes
