"""Bitrix24's own work-time clock: timeman.open|pause|close|status|settings and
timeman.networkrange.get.

Shapes and rules from apidocs timeman/base/*.md and timeman/networkrange/*.md: `TIME` must be
today (its offset sets the day's zone), `REPORT` is required with `TIME` unless the schedule is
free, the close date must equal the open date, a day left open past midnight is EXPIRED.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from timebot.sandbox.errors import RestError
from timebot.sandbox.methods.context import CallContext, MethodSpec
from timebot.sandbox.state import User, WorkDay

__all__ = ["specs"]


def _hms(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _iso(at: datetime | None) -> str | None:
    return at.replace(microsecond=0).isoformat() if at is not None else None


def _zone(ctx: CallContext, user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone) if user.time_zone else ctx.portal.zone
    except (KeyError, ValueError):
        return ctx.portal.zone


def _may_manage(ctx: CallContext, target: User) -> bool:
    state = ctx.portal.state
    me = state.users[ctx.user_id]
    if me.is_admin or me.id == target.id:
        return True
    # Department heads edit the work days of their department and its sub-departments.
    for dept_id in target.departments:
        dept = state.departments.get(dept_id)
        while dept is not None:
            if dept.head == me.id:
                return True
            dept = state.departments.get(dept.parent) if dept.parent else None
    return False


def _target(ctx: CallContext) -> User:
    uid = ctx.params.integer("USER_ID") or ctx.user_id
    user = ctx.portal.state.users.get(uid)
    if user is None or user.is_bot:
        raise RestError("", "User not found")
    if not _may_manage(ctx, user):
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    return user


def _now(ctx: CallContext, zone: Any) -> datetime:
    return ctx.portal.clock.now().astimezone(zone).replace(microsecond=0)


def _expired(day: WorkDay, now: datetime) -> bool:
    return day.finish is None and day.start.date() < now.astimezone(day.start.tzinfo).date()


def _status(ctx: CallContext, user: User) -> dict[str, Any]:
    zone = _zone(ctx, user)
    now = _now(ctx, zone)
    day = ctx.portal.state.workdays.get(user.id)
    if day is None:
        return {
            "STATUS": "CLOSED",
            "TIME_START": None,
            "TIME_FINISH": None,
            "DURATION": "00:00:00",
            "TIME_LEAKS": "00:00:00",
            "ACTIVE": False,
            "IP_OPEN": "",
            "IP_CLOSE": "",
            "LAT_OPEN": 0,
            "LON_OPEN": 0,
            "LAT_CLOSE": 0,
            "LON_CLOSE": 0,
            "TZ_OFFSET": int(now.utcoffset().total_seconds()),  # type: ignore[union-attr]
        }
    if day.finish is not None:
        status = "CLOSED"
    elif _expired(day, now):
        status = "EXPIRED"
    else:
        status = "PAUSED" if day.paused_at is not None else "OPENED"
    duration = day.finish - day.start - day.leaks if day.finish is not None else timedelta()
    result: dict[str, Any] = {
        "STATUS": status,
        "TIME_START": _iso(day.start),
        "TIME_FINISH": _iso(day.finish),
        "DURATION": _hms(duration),
        "TIME_LEAKS": _hms(day.leaks),
        "ACTIVE": day.active,
        "IP_OPEN": day.ip_open,
        "IP_CLOSE": day.ip_close,
        "LAT_OPEN": day.lat_open,
        "LON_OPEN": day.lon_open,
        "LAT_CLOSE": day.lat_close,
        "LON_CLOSE": day.lon_close,
        "TZ_OFFSET": int(day.start.utcoffset().total_seconds()),  # type: ignore[union-attr]
    }
    if status == "EXPIRED":
        finish = time.fromisoformat(user.timeman.min_finish)
        default = datetime.combine(day.start.date(), finish, tzinfo=day.start.tzinfo)
        result["TIME_FINISH_DEFAULT"] = _iso(default)
    return result


def _explicit_time(ctx: CallContext, user: User) -> datetime | None:
    text = ctx.params.text("TIME").strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RestError("WRONG_DATETIME", "Wrong date/time format") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=_zone(ctx, user))
    if not user.timeman.free and not ctx.params.text("REPORT").strip():
        raise RestError("REPORT_REQUIRED", "Report is required")
    return at.replace(microsecond=0)


def open_day(ctx: CallContext) -> dict[str, Any]:
    """timeman.open: start a day, or resume after a pause or a close earlier today."""
    user = _target(ctx)
    zone = _zone(ctx, user)
    now = _now(ctx, zone)
    state = ctx.portal.state
    day = state.workdays.get(user.id)
    if day is not None and day.finish is None:
        if _expired(day, now):
            raise RestError("WORKDAY_EXPIRED", "Close the previous work day first")
        if ctx.params.text("TIME").strip():
            kind = "paused" if day.paused_at is not None else "opened"
            raise RestError("TIME", f"Unable to set time, work day is {kind}")
        if day.paused_at is not None:
            day.leaks += now - day.paused_at
            day.paused_at = None
        return _status(ctx, user)
    if (
        day is not None
        and day.finish is not None
        and day.start.date() == now.astimezone(day.start.tzinfo).date()
    ):
        if ctx.params.text("TIME").strip():
            raise RestError("TIME", "Unable to set time, work day is closed today")
        day.leaks += now - day.finish
        day.finish = None
        return _status(ctx, user)
    at = _explicit_time(ctx, user)
    if at is not None and at.date() != ctx.portal.clock.now().astimezone(at.tzinfo).date():
        raise RestError("WRONG_DATETIME", "Day open date should correspond to the current date")
    state.workdays[user.id] = WorkDay(
        user_id=user.id,
        start=at or now,
        lat_open=ctx.params.number("LAT") or 0.0,
        lon_open=ctx.params.number("LON") or 0.0,
        ip_open=ctx.ip,
        active=at is None or user.timeman.free,
        reports=[ctx.params.text("REPORT")] if ctx.params.text("REPORT") else [],
    )
    return _status(ctx, user)


def pause_day(ctx: CallContext) -> dict[str, Any]:
    """timeman.pause: pause an open day; a closed day of today resumes (its gap counts as
    work) and is paused."""
    user = _target(ctx)
    now = _now(ctx, _zone(ctx, user))
    day = ctx.portal.state.workdays.get(user.id)
    if day is None or _expired(day, now):
        return _status(ctx, user)
    if day.finish is not None:
        if day.start.date() != now.astimezone(day.start.tzinfo).date():
            return _status(ctx, user)
        day.finish = None
    if day.paused_at is None:
        day.paused_at = now
    return _status(ctx, user)


def close_day(ctx: CallContext) -> dict[str, Any]:
    """timeman.close: end the day now (in the day's zone) or at an explicit `TIME`."""
    user = _target(ctx)
    now = _now(ctx, _zone(ctx, user))
    day = ctx.portal.state.workdays.get(user.id)
    if day is None or day.finish is not None:
        return _status(ctx, user)
    at = _explicit_time(ctx, user)
    if at is None and _expired(day, now):
        raise RestError("WRONG_DATETIME", "Day close date should correspond to the day open date")
    finish = (at or now).astimezone(day.start.tzinfo)
    if finish.date() != day.start.date() or finish < day.start:
        raise RestError("WRONG_DATETIME", "Day close date should correspond to the day open date")
    if day.paused_at is not None:
        day.leaks += max(timedelta(), finish - day.paused_at)
        day.paused_at = None
    day.finish = finish
    day.lat_close = ctx.params.number("LAT") or 0.0
    day.lon_close = ctx.params.number("LON") or 0.0
    day.ip_close = ctx.ip
    if at is not None:
        day.active = user.timeman.free
        day.reports.append(ctx.params.text("REPORT"))
    return _status(ctx, user)


def status(ctx: CallContext) -> dict[str, Any]:
    """timeman.status."""
    return _status(ctx, _target(ctx))


def settings(ctx: CallContext) -> dict[str, Any]:
    """timeman.settings; ADMIN only for the calling user."""
    user = _target(ctx)
    tm = user.timeman
    result: dict[str, Any] = {
        "UF_TIMEMAN": tm.enabled,
        "UF_TM_FREE": tm.free,
        "UF_TM_MAX_START": tm.max_start,
        "UF_TM_MIN_FINISH": tm.min_finish,
        "UF_TM_MIN_DURATION": tm.min_duration,
        "UF_TM_ALLOWED_DELTA": tm.allowed_delta,
    }
    if user.id == ctx.user_id:
        me = ctx.portal.state.users[ctx.user_id]
        state = ctx.portal.state
        result["ADMIN"] = me.is_admin or any(d.head == me.id for d in state.departments.values())
    return result


def network_ranges(ctx: CallContext) -> list[dict[str, str]]:
    """timeman.networkrange.get (administrators only)."""
    if not ctx.portal.state.users[ctx.user_id].is_admin:
        raise RestError("ACCESS_ERROR", "You don't have access to use this method")
    return [dict(r) for r in ctx.portal.state.network_ranges]


def specs() -> list[MethodSpec]:
    """timeman methods."""
    return [
        MethodSpec("timeman.open", "timeman", open_day),
        MethodSpec("timeman.pause", "timeman", pause_day),
        MethodSpec("timeman.close", "timeman", close_day),
        MethodSpec("timeman.status", "timeman", status),
        MethodSpec("timeman.settings", "timeman", settings),
        MethodSpec("timeman.networkrange.get", "timeman", network_ranges),
    ]
