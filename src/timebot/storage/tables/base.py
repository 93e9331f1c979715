"""The declarative base, constraint naming convention and the column shapes tables repeat.

Named constraints let Alembic's batch mode rebuild SQLite tables and drop constraints by name.
Rule kept by every table: each foreign-key column leads some index, because PostgreSQL does
not index referencing columns and cascades/RI checks would otherwise scan whole tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from timebot.storage.types import UtcDateTime, id_type, json_type

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every timebot table. `Mapped[datetime]` means an aware UTC `UtcDateTime` column."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UtcDateTime(),
        dict[str, Any]: json_type(),
        list[Any]: json_type(),
    }


def id_column() -> Mapped[int]:
    """Surrogate primary key (BIGINT on PostgreSQL, rowid alias on SQLite)."""
    return mapped_column(id_type(), primary_key=True, autoincrement=True)


def portal_column(*, index: bool = True) -> Mapped[int]:
    """The tenant key; deleting a portal erases everything that hangs off it."""
    return mapped_column(
        id_type(), ForeignKey("portals.id", ondelete="CASCADE"), nullable=False, index=index
    )


def reference(
    target: str,
    *,
    ondelete: str | None = None,
    index: bool = True,
    unique: bool = False,
    use_alter: bool = False,
) -> Mapped[Any]:
    """A foreign key to another table's surrogate id (`target` like "employees.id").

    Nullability follows the annotation: `Mapped[int | None]` is an optional reference.

    Without `ondelete` the database refuses to delete a referenced row (history stays whole);
    the portal cascade still removes both sides in one statement. `use_alter` breaks a cycle
    of foreign keys: PostgreSQL gets that one constraint after both tables exist.
    """
    return mapped_column(
        id_type(),
        ForeignKey(target, ondelete=ondelete, use_alter=use_alter),
        # A unique constraint already gives the column its index.
        index=index and not unique,
        unique=unique,
    )


def created_at_column() -> Mapped[datetime]:
    """Set by the application from its Clock, never by the database (tests fix time)."""
    return mapped_column(UtcDateTime(), nullable=False)
