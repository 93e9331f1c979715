"""Who a viewer of the operations pages may see: an administrator the whole portal, a head the
people of the departments they head (sub-departments included).

`AdminSession.department_ids` holds `departments.id` values; employees carry Bitrix department
ids, so the scope maps one to the other once per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from timebot.services.timesheet import department_ids_of
from timebot.storage import UnitOfWork
from timebot.storage.tables import Department, Employee

__all__ = ["DepartmentInfo", "Scope", "load_scope", "subtree"]


@dataclass(frozen=True, slots=True)
class DepartmentInfo:
    """A department as the pages use it (plain values: readable after the transaction)."""

    id: int  # departments.id
    bitrix_id: int
    name: str
    parent_bitrix_id: int | None

    @classmethod
    def of(cls, row: Department) -> DepartmentInfo:
        return cls(row.id, row.bitrix_id, row.name, row.parent_bitrix_id)


def subtree(roots: Iterable[int], departments: Sequence[DepartmentInfo]) -> frozenset[int]:
    """Bitrix ids of `roots` and every department below them."""
    children: dict[int, list[int]] = {}
    for d in departments:
        if d.parent_bitrix_id is not None:
            children.setdefault(d.parent_bitrix_id, []).append(d.bitrix_id)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        todo.extend(children.get(current, ()))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Scope:
    """The departments in view. `everything`: an administrator (people without a department
    included); otherwise only people in one of `bitrix_ids`."""

    everything: bool
    bitrix_ids: frozenset[int]
    departments: tuple[DepartmentInfo, ...]  # the portal's, in Bitrix id order

    def sees(self, employee: Employee) -> bool:
        if self.everything:
            return True
        return any(d in self.bitrix_ids for d in department_ids_of(employee))

    def sees_department(self, bitrix_id: int) -> bool:
        return self.everything or bitrix_id in self.bitrix_ids

    @property
    def visible_departments(self) -> list[DepartmentInfo]:
        """The departments a viewer may pick, in name order."""
        shown = [d for d in self.departments if self.sees_department(d.bitrix_id)]
        return sorted(shown, key=lambda d: (d.name.casefold(), d.bitrix_id))

    def by_row_id(self, department_id: int) -> DepartmentInfo | None:
        """A visible department by its `departments.id`; None when unknown or out of view."""
        for d in self.departments:
            if d.id == department_id and self.sees_department(d.bitrix_id):
                return d
        return None

    def names(self) -> Mapping[int, str]:
        return {d.bitrix_id: d.name for d in self.departments}


async def load_scope(uow: UnitOfWork, session: Any) -> Scope:
    """The scope of an `AdminSession` (admin: everything; head: their departments' subtree;
    anyone else: nothing)."""
    departments = tuple(DepartmentInfo.of(d) for d in await uow.departments.all(session.portal_id))
    if session.role == "admin":
        return Scope(True, frozenset(d.bitrix_id for d in departments), departments)
    if session.role != "head":
        return Scope(False, frozenset(), departments)
    roots = [d.bitrix_id for d in departments if d.id in session.department_ids]
    return Scope(False, subtree(roots, departments), departments)
