"""Directory sync: employees, departments, heads and time zones mirrored from Bitrix24.

`sync_directory` reads `department.get` and `user.get` (every page, in batches) first and only
then writes, in one transaction under the portal's row lock: a REST failure leaves the database
as it was, and two syncs of one portal do not interleave. Employees are never deleted (marks
reference them): people missing from the answer become inactive.

`ensure_employee` is the REST-free half: event handling calls it inside the event's transaction
to get (or create from the event's user data) the author's row, and queues a full sync when the
person is new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from timebot.bitrix import BitrixClient, BitrixError, EventUser, PortalAuth
from timebot.bitrix.client import MAX_BATCH
from timebot.domain.clock import Clock
from timebot.domain.timezones import resolve_zone, zone_or_none
from timebot.gateway.auth import PortalNotConnected, portal_auth
from timebot.gateway.install import INSTALLED_BY
from timebot.gateway.limits import apply_portal_limits
from timebot.gateway.periodic import for_due_portals, resting_after_failure, settings_instant
from timebot.gateway.timeman_limits import apply_limits, fetch_limits, limits_wanted
from timebot.logs import get_logger
from timebot.storage import Database, UnitOfWork
from timebot.storage.repositories.people import DepartmentRepository, EmployeeRepository
from timebot.storage.tables import Department, Employee, Portal

__all__ = [
    "DIRECTORY_SYNCED_AT",
    "DIRECTORY_SYNC_FAILED_AT",
    "DIRECTORY_SYNC_REQUESTS",
    "DIRECTORY_SYNC_SERVED",
    "DirectorySyncError",
    "EnsuredEmployee",
    "RemoteDepartment",
    "RemoteUser",
    "SyncResult",
    "ensure_employee",
    "fetch_directory",
    "parse_department",
    "parse_user",
    "request_directory_sync",
    "sync_directory",
    "sync_due",
]

log = get_logger(__name__)

# Keys in `portal.settings` (ISO 8601 instants).
DIRECTORY_SYNCED_AT = "directory_synced_at"
DIRECTORY_SYNC_FAILED_AT = "directory_sync_failed_at"
# Counters: a sync is due while more were requested than served (see request_directory_sync).
DIRECTORY_SYNC_REQUESTS = "directory_sync_requests"
DIRECTORY_SYNC_SERVED = "directory_sync_served"

# Only people who work here: not dismissed, not extranet or e-mail users.
USER_FILTER: dict[str, Any] = {"ACTIVE": True, "USER_TYPE": "employee"}


class DirectorySyncError(Exception):
    """Bitrix24 answered, but not with something a sync can trust."""


@dataclass(frozen=True, slots=True)
class RemoteDepartment:
    bitrix_id: int
    name: str
    parent_bitrix_id: int | None
    head_user_id: int | None


@dataclass(frozen=True, slots=True)
class RemoteUser:
    bitrix_user_id: int
    name: str
    first_name: str
    last_name: str
    email: str | None
    department_ids: tuple[int, ...]
    active: bool
    # user.get sends TIME_ZONE only sometimes: absent → keep what we have; "" → portal default.
    timezone: str | None
    has_timezone: bool


@dataclass(frozen=True, slots=True)
class SyncResult:
    portal_id: int
    departments: int  # departments in Bitrix24's answer
    departments_changed: int  # added, edited or removed here
    employees: int  # active employees in Bitrix24's answer
    created: int
    updated: int  # changed data, reactivated included
    deactivated: int
    schedules_imported: int = 0  # people given their Bitrix24 limits (`timeman_limits`)

    @property
    def changed(self) -> bool:
        return bool(
            self.departments_changed
            or self.created
            or self.updated
            or self.deactivated
            or self.schedules_imported
        )

    def counts(self) -> dict[str, int]:
        return {
            "departments": self.departments,
            "departments_changed": self.departments_changed,
            "employees": self.employees,
            "created": self.created,
            "updated": self.updated,
            "deactivated": self.deactivated,
            "schedules_imported": self.schedules_imported,
        }


class EnsuredEmployee(NamedTuple):
    employee: Employee
    created: bool  # True: first contact, queue a directory sync for the details


# --- parsing -------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _ref(value: Any) -> int | None:
    """A user or department id; Bitrix24 sends "" or "0" for none."""
    number = _int(value)
    return number if number else None


def _text(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"y", "true", "1"}


def _ids(value: Any) -> tuple[int, ...]:
    if isinstance(value, Mapping):
        value = list(value.values())
    if not isinstance(value, list):
        value = [value]
    out: list[int] = []
    for item in value:
        number = _ref(item)
        if number is not None and number not in out:
            out.append(number)
    return tuple(out)


def display_name(first: str, last: str, fallback: str) -> str:
    return " ".join(p for p in (first, last) if p)[:255] or fallback[:255]


def parse_department(record: Any) -> RemoteDepartment | None:
    """A `department.get` row; None when it carries no id."""
    if not isinstance(record, Mapping):
        return None
    bitrix_id = _ref(record.get("ID"))
    if bitrix_id is None:
        return None
    return RemoteDepartment(
        bitrix_id=bitrix_id,
        name=_text(record.get("NAME"), 255) or f"#{bitrix_id}",
        parent_bitrix_id=_ref(record.get("PARENT")),
        head_user_id=_ref(record.get("UF_HEAD")),
    )


def parse_user(record: Any) -> RemoteUser | None:
    """A `user.get` row; None when it carries no id."""
    if not isinstance(record, Mapping):
        return None
    user_id = _ref(record.get("ID"))
    if user_id is None:
        return None
    first = _text(record.get("NAME"), 128)
    last = _text(record.get("LAST_NAME"), 128)
    email = _text(record.get("EMAIL"), 255) or None
    has_timezone = "TIME_ZONE" in record
    zone = zone_or_none(record.get("TIME_ZONE") if isinstance(record.get("TIME_ZONE"), str) else "")
    return RemoteUser(
        bitrix_user_id=user_id,
        name=display_name(first, last, email or f"#{user_id}"),
        first_name=first,
        last_name=last,
        email=email,
        department_ids=_ids(record.get("UF_DEPARTMENT")),
        active=_flag(record.get("ACTIVE", True)),
        timezone=zone.key if zone is not None else None,
        has_timezone=has_timezone,
    )


# --- reading -------------------------------------------------------------------------------


def _rows(result: Any, key: str) -> list[Any]:
    if isinstance(result, list):
        return result
    if isinstance(result, Mapping):  # PHP sends a 0..n-1 keyed array as an object sometimes
        return list(result.values())
    raise DirectorySyncError(f"{key}: expected a list, got {type(result).__name__}")


def _raise_first(errors: Mapping[str, BitrixError]) -> None:
    for error in errors.values():
        raise error


async def _fetch_lists(
    client: BitrixClient,
    auth: PortalAuth,
    lists: Mapping[str, tuple[str, Mapping[str, Any]]],
) -> dict[str, list[Any]]:
    """Every row of several list methods: first pages in one batch, then the remaining pages
    (known from `total`) up to 50 per batch; `next` page by page when no total is given."""
    first = await client.batch(
        auth, {key: (method, {**params, "start": 0}) for key, (method, params) in lists.items()}
    )
    _raise_first(first.errors)
    pages: dict[str, dict[int, list[Any]]] = {
        key: {0: _rows(first.results.get(key), key)} for key in lists
    }
    planned: list[tuple[str, int]] = []
    for key in lists:
        following = first.nexts.get(key)
        total = first.totals.get(key)
        if not following or following <= 0:
            continue
        if total is not None:
            planned.extend((key, start) for start in range(following, total, following))
            continue
        start: int | None = following  # no total: follow `next`
        method, params = lists[key]
        while start is not None:
            response = await client.call(auth, method, {**params, "start": start})
            pages[key][start] = _rows(response.result, key)
            start = response.next if response.next and response.next > start else None
    for offset in range(0, len(planned), MAX_BATCH):
        chunk = planned[offset : offset + MAX_BATCH]
        commands = {
            f"{key}_{start}": (lists[key][0], {**lists[key][1], "start": start})
            for key, start in chunk
        }
        batch = await client.batch(auth, commands, halt=True)
        _raise_first(batch.errors)
        for key, start in chunk:
            name = f"{key}_{start}"
            pages[key][start] = _rows(batch.results.get(name), name)
    return {key: [row for _, rows in sorted(pages[key].items()) for row in rows] for key in lists}


async def fetch_directory(
    client: BitrixClient, auth: PortalAuth
) -> tuple[list[RemoteDepartment], list[RemoteUser]]:
    """The portal's departments and active employees (deduplicated by id)."""
    rows = await _fetch_lists(
        client,
        auth,
        {
            "departments": ("department.get", {"sort": "ID", "order": "ASC"}),
            "users": ("user.get", {"FILTER": USER_FILTER, "SORT": "ID", "ORDER": "ASC"}),
        },
    )
    departments: dict[int, RemoteDepartment] = {}
    for record in rows["departments"]:
        department = parse_department(record)
        if department is not None:
            departments[department.bitrix_id] = department
    users: dict[int, RemoteUser] = {}
    for record in rows["users"]:
        user = parse_user(record)
        if user is not None:
            users[user.bitrix_user_id] = user
    return list(departments.values()), list(users.values())


# --- writing -------------------------------------------------------------------------------


def _new_employee(portal_id: int, user: RemoteUser, now: datetime) -> dict[str, Any]:
    return {
        "portal_id": portal_id,
        "bitrix_user_id": user.bitrix_user_id,
        "name": user.name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "timezone": user.timezone,
        "department_ids": list(user.department_ids),
        "language": None,
        "active": True,
        "is_admin": False,
        "remote_always": False,
        "remote_weekdays": [],
        "all_offices": True,
        "consented_at": None,
        "synced_at": now,
        "created_at": now,
    }


def _apply(employee: Employee, user: RemoteUser) -> bool:
    """Copy Bitrix24's data onto the row; True when anything changed."""
    wanted: dict[str, Any] = {
        "name": user.name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "department_ids": list(user.department_ids),
        "active": True,
    }
    if user.has_timezone:
        wanted["timezone"] = user.timezone
    changed = False
    for field, value in wanted.items():
        if getattr(employee, field) != value:
            setattr(employee, field, value)
            changed = True
    return changed


async def _sync_departments(
    repo: DepartmentRepository, portal_id: int, remote: Sequence[RemoteDepartment], now: datetime
) -> int:
    existing = {d.bitrix_id: d for d in await repo.all(portal_id)}
    changed = 0
    for item in remote:
        row = existing.get(item.bitrix_id)
        if row is None:
            repo.add(
                Department(
                    portal_id=portal_id,
                    bitrix_id=item.bitrix_id,
                    name=item.name,
                    parent_bitrix_id=item.parent_bitrix_id,
                    head_user_id=item.head_user_id,
                    synced_at=now,
                )
            )
            changed += 1
            continue
        wanted = (item.name, item.parent_bitrix_id, item.head_user_id)
        if (row.name, row.parent_bitrix_id, row.head_user_id) != wanted:
            row.name, row.parent_bitrix_id, row.head_user_id = wanted
            changed += 1
        row.synced_at = now
    gone = [bitrix_id for bitrix_id in existing if bitrix_id not in {d.bitrix_id for d in remote}]
    changed += await repo.remove(portal_id, gone)
    return changed


async def _sync_employees(
    repo: EmployeeRepository, portal_id: int, remote: Sequence[RemoteUser], now: datetime
) -> tuple[int, int, int]:
    """Returns (created, updated, deactivated)."""
    active = {u.bitrix_user_id: u for u in remote if u.active}
    known = {e.bitrix_user_id for e in await repo.all(portal_id)}
    created = await repo.insert_missing(
        [_new_employee(portal_id, u, now) for uid, u in active.items() if uid not in known]
    )
    updated = deactivated = 0
    # Re-read: rows may have been inserted just now (here or by a concurrent first contact).
    for employee in await repo.all(portal_id, refresh=True):
        user = active.get(employee.bitrix_user_id)
        if user is not None:
            if _apply(employee, user) and employee.bitrix_user_id in known:
                updated += 1
            employee.synced_at = now
        elif employee.active:
            employee.active = False
            employee.synced_at = now
            deactivated += 1
    return created, updated, deactivated


async def sync_directory(
    database: Database, client: BitrixClient, portal_id: int, *, clock: Clock
) -> SyncResult:
    """Mirror the portal's departments and employees; raises on any REST or database error,
    in which case nothing was written."""
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        if portal is None or portal.status != "active":
            raise PortalNotConnected(f"portal {portal_id} is not active")
        auth = portal_auth(portal)
        apply_portal_limits(client, portal)
        # Requests made from here on may concern people this read misses: they stay due.
        requests_seen = _count(portal.settings, DIRECTORY_SYNC_REQUESTS)
        import_limits = limits_wanted(portal.settings)
    departments, users = await fetch_directory(client, auth)
    if not any(u.active for u in users):
        # The caller's own account is an active employee; an empty list means a bad answer
        # (scope, permissions), and trusting it would deactivate everybody.
        raise DirectorySyncError(f"user.get returned no active employees for portal {portal_id}")
    limits = (
        await fetch_limits(client, auth, [u.bitrix_user_id for u in users if u.active])
        if import_limits
        else {}
    )
    async with database.unit_of_work() as uow:
        portal = await uow.portals.lock(portal_id)
        if portal is None:
            raise PortalNotConnected(f"portal {portal_id} is gone")
        now = clock.now()
        departments_changed = await _sync_departments(
            DepartmentRepository(uow.session), portal_id, departments, now
        )
        created, updated, deactivated = await _sync_employees(
            EmployeeRepository(uow.session), portal_id, users, now
        )
        await _mark_installer_admin(uow, portal)
        imported = 0
        if limits:
            employees = await EmployeeRepository(uow.session).all(portal_id)
            imported = await apply_limits(
                uow,
                portal_id,
                [e for e in employees if e.active],
                limits,
                today=now.astimezone(resolve_zone(None, None, portal.timezone)).date(),
                now=now,
            )
        result = SyncResult(
            portal_id=portal_id,
            departments=len(departments),
            departments_changed=departments_changed,
            employees=sum(1 for u in users if u.active),
            created=created,
            updated=updated,
            deactivated=deactivated,
            schedules_imported=imported,
        )
        settings = {
            k: v for k, v in (portal.settings or {}).items() if k != DIRECTORY_SYNC_FAILED_AT
        }
        settings[DIRECTORY_SYNCED_AT] = now.isoformat()
        served = max(requests_seen, _count(settings, DIRECTORY_SYNC_SERVED))
        if served:
            settings[DIRECTORY_SYNC_SERVED] = served
        portal.settings = settings  # a new dict: JSON columns do not track in-place edits
        uow.audit.record(
            portal_id=portal_id,
            at=now,
            actor="system",
            action="directory.synced",
            entity="portal",
            entity_id=portal_id,
            details=result.counts(),
        )
        await uow.commit()
    log.info("directory.synced", portal_id=portal_id, **result.counts())
    return result


async def _mark_installer_admin(uow: UnitOfWork, portal: Portal) -> None:
    """Who installed the app (or owns the webhook) is a portal administrator; Bitrix24 tells an
    application no one else's admin rights (`user.admin` answers only for the caller)."""
    installer = (portal.settings or {}).get(INSTALLED_BY)
    if not isinstance(installer, int):
        return
    employee = await EmployeeRepository(uow.session).by_bitrix_id(portal.id, installer)
    if employee is not None and not employee.is_admin:
        employee.is_admin = True


def _count(settings: Mapping[str, Any] | None, key: str) -> int:
    return _int((settings or {}).get(key)) or 0


def request_directory_sync(portal: Portal) -> None:
    """Ask for a sync at the next `sync_due` (e.g. someone new wrote to the bot).

    No REST: it only marks the portal, inside the caller's transaction (which must commit).
    """
    settings = dict(portal.settings or {})
    settings[DIRECTORY_SYNC_REQUESTS] = _count(settings, DIRECTORY_SYNC_REQUESTS) + 1
    portal.settings = settings


def is_due(
    settings: Mapping[str, Any], now: datetime, *, every: timedelta, retry_after: timedelta
) -> bool:
    """Never synced, asked for, or the last sync is `every` old; after a failure it waits
    `retry_after` whatever the reason."""
    synced = settings_instant(settings, DIRECTORY_SYNCED_AT)
    failed = settings_instant(settings, DIRECTORY_SYNC_FAILED_AT)
    requested = _count(settings, DIRECTORY_SYNC_REQUESTS) > _count(settings, DIRECTORY_SYNC_SERVED)
    if synced is not None and now - synced < every and not requested:
        return False
    return not resting_after_failure(synced, failed, now, retry_after)


async def sync_due(
    database: Database,
    client: BitrixClient,
    *,
    clock: Clock,
    every: timedelta = timedelta(days=1),
    retry_after: timedelta = timedelta(hours=1),
) -> int:
    """Sync every active portal whose directory is `every` old (or never synced); returns how
    many synced. A failing portal is logged and retried after `retry_after`, not every tick."""

    async def sync(portal_id: int) -> None:
        await sync_directory(database, client, portal_id, clock=clock)

    return await for_due_portals(
        database,
        clock=clock,
        due=lambda settings, now: is_due(settings, now, every=every, retry_after=retry_after),
        work=sync,
        failed_key=DIRECTORY_SYNC_FAILED_AT,
        event="directory.sync_failed",
    )


# --- first contact -------------------------------------------------------------------------


async def ensure_employee(
    uow: UnitOfWork,
    portal: Portal,
    user: EventUser,
    *,
    now: datetime,
    language: str | None = None,
) -> EnsuredEmployee:
    """The event author's employee row, created from the event's user data when missing.

    No REST here (it runs inside the event's transaction): time zone and e-mail stay empty
    until the directory sync fills them, so `created=True` should queue one.
    """
    first = _text(user.first_name, 128)
    last = _text(user.last_name, 128)
    name = _text(user.name, 255) or display_name(first, last, f"#{user.id}")
    values = {
        "name": name,
        "first_name": first,
        "last_name": last,
        "email": None,
        "timezone": None,
        "department_ids": [d for d in user.departments if d],
        "language": language[:8] if language else None,
        "active": True,
        "is_admin": False,
        "remote_always": False,
        "remote_weekdays": [],
        "all_offices": True,
        "consented_at": None,
        "synced_at": None,
        "created_at": now,
    }
    values["is_admin"] = (portal.settings or {}).get(INSTALLED_BY) == user.id
    employee, created = await EmployeeRepository(uow.session).get_or_create(
        portal.id, user.id, values
    )
    if created:
        log.info("directory.first_contact", portal_id=portal.id, bitrix_user_id=user.id)
    return EnsuredEmployee(employee, created)
