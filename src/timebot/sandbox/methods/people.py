"""People and structure: user.get (filters with the documented prefixes, 50 per page),
user.current and department.get. Shapes from apidocs user/user-get.md, user/user-current.md and
departments/department-get.md (ids as strings, UF_DEPARTMENT as integers)."""

from __future__ import annotations

from typing import Any

from timebot.sandbox.methods.context import CallContext, ListResult, MethodSpec, Params
from timebot.sandbox.state import Department, User

__all__ = ["specs", "user_record"]

PAGE = 50
_OPERATORS = ("!=%", "!%=", ">=", "<=", "!@", "!%", "=%", "%=", "!=", "@", "%", ">", "<", "!", "=")
_RESERVED = {"SORT", "ORDER", "START", "ADMIN_MODE", "FILTER", "AUTH"}


def user_record(user: User) -> dict[str, Any]:
    """A user as user.get / user.current return it."""
    return {
        "ID": str(user.id),
        "ACTIVE": user.active,
        "NAME": user.first_name,
        "LAST_NAME": user.last_name,
        "SECOND_NAME": "",
        "EMAIL": user.email,
        "LAST_LOGIN": user.date_register,
        "DATE_REGISTER": user.date_register,
        "TIME_ZONE": user.time_zone,
        "IS_ONLINE": "Y",
        "TIMESTAMP_X": {},
        "LAST_ACTIVITY_DATE": {},
        "PERSONAL_GENDER": user.gender,
        "PERSONAL_WWW": "",
        "PERSONAL_BIRTHDAY": "",
        "PERSONAL_MOBILE": "",
        "PERSONAL_CITY": "",
        "WORK_PHONE": "",
        "WORK_POSITION": user.work_position,
        "UF_EMPLOYMENT_DATE": "",
        "UF_DEPARTMENT": list(user.departments),
        "USER_TYPE": "employee",
    }


def _split(key: str) -> tuple[str, str]:
    for op in _OPERATORS:
        if key.startswith(op):
            return op, key[len(op) :]
    return "=", key


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        truthy = {"y", "true", "1"}
        return (str(a).lower() in truthy) == (str(b).lower() in truthy)
    return str(a).strip().lower() == str(b).strip().lower()


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _like(pattern: str, text: str, explicit: bool) -> bool:
    pattern, text = pattern.lower(), text.lower()
    if not explicit:
        return pattern in text
    core = pattern.strip("%")
    if pattern.startswith("%") and pattern.endswith("%"):
        return core in text
    if pattern.endswith("%"):
        return text.startswith(core)
    if pattern.startswith("%"):
        return text.endswith(core)
    return text == core


def _matches(record: dict[str, Any], op: str, field: str, wanted: Any) -> bool:
    if field == "NAME_SEARCH":
        text = f"{record['NAME']} {record['LAST_NAME']} {record['EMAIL']}"
        return str(wanted).lower() in text.lower()
    actual = record.get(field)
    values = actual if isinstance(actual, list) else [actual]
    negate = op.startswith("!")
    if op == "=" and isinstance(wanted, str) and "%" in wanted:
        op = "=%"  # the docs filter {"NAME": "Iva%"} means "starts with Iva"
    if op in ("%", "!%", "=%", "%=", "!=%", "!%="):
        hit = any(_like(str(wanted), str(v), op not in ("%", "!%")) for v in values)
        return hit != negate
    if op in (">", ">=", "<", "<="):
        left, right = _number(actual), _number(wanted)
        if left is None or right is None:
            return False
        return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]
    hit = any(_same(v, w) for v in values for w in _as_list(wanted))
    return hit != negate


def _user_filter(params: Params) -> list[tuple[str, str, Any]]:
    source = dict(params.mapping("FILTER").raw)
    for key, value in params.raw.items():
        if key.upper() not in _RESERVED and key.lstrip("!@%=<>").isupper():
            source[key] = value
    conditions = []
    for key, value in source.items():
        op, field = _split(key)
        conditions.append((op, field.upper(), value))
    return conditions


def _sorted(records: list[dict[str, Any]], params: Params) -> list[dict[str, Any]]:
    field = (params.text("SORT") or params.text("sort") or "ID").upper()
    descending = (params.text("ORDER") or "ASC").upper() == "DESC"

    def key(record: dict[str, Any]) -> tuple[int, float, str]:
        value = record.get(field, "")
        number = _number(value)
        return (0, number, "") if number is not None else (1, 0.0, str(value).lower())

    return sorted(records, key=key, reverse=descending)


def _page(records: list[Any], params: Params) -> ListResult:
    start = params.integer("start", 0) or 0
    if start < 0:
        # start=-1: the fast mode for big exports, without counting (no total, no next).
        return ListResult(records[:PAGE], None)
    page = records[start : start + PAGE]
    more = start + PAGE < len(records)
    return ListResult(page, len(records), start + PAGE if more else None)


def user_get(ctx: CallContext) -> ListResult:
    """user.get: employees matching FILTER (and top-level field filters), 50 per page."""
    conditions = _user_filter(ctx.params)
    records = [user_record(u) for u in ctx.portal.state.employees()]
    selected = [r for r in records if all(_matches(r, *c) for c in conditions)]
    return _page(_sorted(selected, ctx.params), ctx.params)


def user_current(ctx: CallContext) -> dict[str, Any]:
    """user.current: the calling user."""
    return user_record(ctx.portal.state.users[ctx.user_id])


def _department_record(department: Department) -> dict[str, Any]:
    record: dict[str, Any] = {
        "ID": str(department.id),
        "NAME": department.name,
        "SORT": department.sort,
    }
    if department.parent is not None:
        record["PARENT"] = str(department.parent)
    if department.head is not None:
        record["UF_HEAD"] = str(department.head)
    return record


def department_get(ctx: CallContext) -> ListResult:
    """department.get: filters ID, NAME, SORT, PARENT, UF_HEAD (upper case); `sort`, `order`
    and `START` (lower-case `sort` names the sort field, upper-case `SORT` filters)."""
    raw = ctx.params.raw
    records = [_department_record(d) for _, d in sorted(ctx.portal.state.departments.items())]
    for field in ("ID", "NAME", "SORT", "PARENT", "UF_HEAD"):
        if field in raw:
            wanted = _as_list(raw[field])
            records = [r for r in records if any(_same(r.get(field, ""), w) for w in wanted)]
    paging = Params(
        {
            "SORT": raw.get("sort", "ID"),
            "ORDER": raw.get("order", raw.get("ORDER", "ASC")),
            "start": raw.get("start", raw.get("START", 0)),
        }
    )
    return _page(_sorted(records, paging), paging)


def specs() -> list[MethodSpec]:
    """user.* and department.get."""
    return [
        MethodSpec("user.get", "user_basic", user_get),
        MethodSpec("user.current", "user_basic", user_current),
        MethodSpec("department.get", "department", department_get),
    ]
