"""Integration tests: real SQLite and PostgreSQL, real HTTP."""
