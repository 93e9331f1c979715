"""Persistence: SQLAlchemy tables, the engine and unit of work, Alembic migrations.

Works on SQLite (embedded default) and PostgreSQL (production) alike. Imports nothing from
settings, the web layer or the Bitrix24 client; the composition root hands it a URL.
"""

from timebot.storage.database import Database, create_engine, normalize_url
from timebot.storage.uow import UnitOfWork

__all__ = ["Database", "UnitOfWork", "create_engine", "normalize_url"]
