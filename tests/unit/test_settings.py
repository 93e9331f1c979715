"""Settings: prefix, .env, secrets, and refusal of the default secret outside development."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from timebot.config import DEFAULT_SECRET_KEY, Environment, Settings


def test_settings_read_the_timebot_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEBOT_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("TIMEBOT_BITRIX_CLIENT_SECRET", "s3cret")
    s = Settings()
    assert s.database_url == "postgresql://u@h/db"
    assert s.bitrix_client_secret is not None
    assert s.bitrix_client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


def test_settings_read_a_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("TIMEBOT_PUBLIC_URL=https://tb.example\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert Settings().public_url == "https://tb.example"


def test_default_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="TIMEBOT_SECRET_KEY"):
        Settings(environment=Environment.PRODUCTION)


def test_short_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="too short"):
        Settings(environment=Environment.PRODUCTION, secret_key="short")  # type: ignore[arg-type]


def test_default_secret_is_accepted_in_development() -> None:
    s = Settings(environment=Environment.DEVELOPMENT)
    assert s.secret_key.get_secret_value() == DEFAULT_SECRET_KEY


def test_production_logs_are_json_and_development_logs_are_readable() -> None:
    assert Settings(environment=Environment.PRODUCTION, secret_key="x" * 32).json_logs  # type: ignore[arg-type]
    assert not Settings().json_logs


def test_sqlite_path_is_derived_from_the_url() -> None:
    s = Settings(database_url="sqlite+aiosqlite:///var/x.sqlite3")
    assert s.is_sqlite
    assert s.sqlite_path() == Path("var/x.sqlite3")
    assert Settings(database_url="postgresql+asyncpg://h/db").sqlite_path() is None
