"""Alembic environment and revisions of the timebot schema (shipped inside the package)."""
