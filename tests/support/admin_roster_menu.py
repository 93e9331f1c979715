"""Probe for the menu's list of rosters (see `tests.support.admin`): another portal's
administrator must not see this portal's shift schedules there (`admin_roster` makes one)."""

from __future__ import annotations

from tests.support.admin import probe

probe("GET", "/bitrix/app/rosters", "manager")
