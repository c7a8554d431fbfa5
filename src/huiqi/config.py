"""Settings, validated when the app or CLI starts (never at import time)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from ``HUIQI_*`` environment variables (or a ``.env`` file)."""

    model_config = SettingsConfigDict(env_prefix="HUIQI_", env_file=".env", extra="ignore")

    #: SQLite by default (a file created on first use); PostgreSQL by one setting, e.g.
    #: ``postgresql+psycopg://user@127.0.0.1:5432/huiqi``.
    database_url: str = Field(default="sqlite:///var/huiqi.sqlite3")
    #: Working days a public notice (公示) runs at least (and by default), counted by the
    #: official holiday calendar from the day after publication.
    notice_days: int = Field(default=5, ge=1, le=60)
    #: Where attachments are kept (outside any served folder), by content hash.
    data_dir: Path = Field(default=Path("var"))
    #: The largest attachment accepted, in bytes.
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    #: Threads per server process that run the service layer (the database work of a
    #: request); the database pool keeps as many connections. On two cores two are best
    #: (bench/load.py: 2 → 183 submissions/s, 3 → 171, 4 → 161, 8 → 129, 16 → 114): more
    #: only queue for Python's interpreter lock. Raise it if slow requests (documents,
    #: reports) must not hold up others, or on more cores.
    threads: int = Field(default=2, ge=1, le=200)
    #: Address and port of ``huiqi serve``.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _supported(cls, url: str) -> str:
        if not url.startswith(("sqlite://", "postgresql")):
            raise ValueError("HUIQI_DATABASE_URL must be sqlite:///… or postgresql+psycopg://…")
        return url

    def sqlite_path(self) -> Path | None:
        """The SQLite file, if the database is one."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and self.database_url != "sqlite://":
            return Path(self.database_url.removeprefix(prefix))
        return None


@cache
def get_settings() -> Settings:
    return Settings()
