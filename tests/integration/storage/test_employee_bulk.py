"""A whole directory is inserted at once: more rows than one statement may bind parameters for.

asyncpg (and SQLite) bind at most 32,767 parameters per statement; an employee row has 17, so a
single INSERT of more than 1,927 people failed and a 5,000-person portal never synced.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from timebot.storage.database import Database
from timebot.storage.tables import Employee

from .rows import NOW, new_portal

PEOPLE = 2_500  # 2,500 × 17 = 42,500 parameters in one call


def person(portal_id: int, user_id: int) -> dict[str, Any]:
    return {
        "portal_id": portal_id,
        "bitrix_user_id": user_id,
        "name": f"User {user_id}",
        "first_name": "",
        "last_name": "",
        "timezone": None,
        "department_ids": [],
        "language": None,
        "active": True,
        "is_admin": False,
        "remote_always": False,
        "remote_weekdays": [],
        "all_offices": True,
        "created_at": NOW,
    }


async def test_a_directory_larger_than_one_statement_is_inserted_whole(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        portal = new_portal("bulk")
        uow.session.add(portal)
        await uow.session.flush()
        rows = [person(portal.id, n) for n in range(1, PEOPLE + 1)]
        assert await uow.employees.insert_missing(rows) == PEOPLE
        # The second time every row exists: nothing new, and no error.
        assert await uow.employees.insert_missing(rows) == 0
        await uow.commit()
    async with database.unit_of_work() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(Employee))
    assert count == PEOPLE
