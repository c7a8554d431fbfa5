"""Settings, validated when the app or CLI starts (never at import time)."""

from __future__ import annotations

import ipaddress
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from huiqi.contents.limits import ContentLimits

_LIMITS = ContentLimits()


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
    #: The largest request body read, in bytes (JSON and forms; an upload may be as large as
    #: ``max_upload_bytes`` and its multipart wrapping). A larger one is refused 413 before
    #: it is parsed — at once when its Content-Length says so.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Where the anonymous rate limits count requests: ``memory://`` (each server process
    #: counts its own) or a storage of the ``limits`` library shared by every process, e.g.
    #: ``redis://127.0.0.1:6379``.
    rate_limit_storage: str = Field(default="memory://", min_length=1)
    #: Anonymous evaluations (``/api/v1/evaluate``, the calculator's result page) per client
    #: address, in the ``limits`` notation (``"60/minute"``; several: ``"10/second;60/minute"``).
    anonymous_evaluate_rate: str = "60/minute"
    #: Anonymous objections to a public notice (API and page) per client address.
    anonymous_objection_rate: str = "5/minute;20/hour"
    #: What an attachment or an imported file may hold, read to the bottom before it is
    #: accepted (see ``huiqi.contents``). Zip-based files (XLSX): entries, bytes expanded in
    #: all, expansion of one entry above ``zip_ratio_from_bytes``; files nested in files.
    zip_max_entries: int = Field(default=_LIMITS.zip_max_entries, ge=10)
    zip_max_uncompressed_bytes: int = Field(default=_LIMITS.zip_max_uncompressed_bytes, ge=1024)
    zip_max_ratio: int = Field(default=_LIMITS.zip_max_ratio, ge=2)
    zip_ratio_from_bytes: int = Field(default=_LIMITS.zip_ratio_from_bytes, ge=1024)
    max_nesting: int = Field(default=_LIMITS.max_nesting, ge=0, le=5)
    #: Objects in a PDF (each is read).
    pdf_max_objects: int = Field(default=_LIMITS.pdf_max_objects, ge=100)
    #: Official-data imports (``huiqi import``): file bytes, data rows, columns, cells, the
    #: characters of one cell, shared string or CSV field, and the shared-string table's bytes.
    #: (Body sizes of HTTP requests are the ASGI guard's settings, not these.)
    import_max_bytes: int = Field(default=_LIMITS.import_max_bytes, ge=1024)
    import_max_rows: int = Field(default=_LIMITS.import_max_rows, ge=1)
    import_max_columns: int = Field(default=_LIMITS.import_max_columns, ge=10, le=16_384)
    import_max_cells: int = Field(default=_LIMITS.import_max_cells, ge=100)
    import_max_text_chars: int = Field(default=_LIMITS.import_max_text_chars, ge=200)
    import_max_shared_strings_bytes: int = Field(
        default=_LIMITS.import_max_shared_strings_bytes, ge=1024
    )
    #: Bytes of any other XML part of an imported workbook (styles, the workbook itself).
    import_max_part_bytes: int = Field(default=_LIMITS.import_max_part_bytes, ge=1024)
    #: Threads per server process that run the service layer (the database work of a
    #: request); the database pool keeps as many connections. On two cores two are best
    #: (bench/load.py: 2 → 183 submissions/s, 3 → 171, 4 → 161, 8 → 129, 16 → 114): more
    #: only queue for Python's interpreter lock. Raise it if slow requests (documents,
    #: reports) must not hold up others, or on more cores.
    threads: int = Field(default=2, ge=1, le=200)
    #: Address and port of ``huiqi serve``.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: The deployment is reached over HTTPS (directly or through a reverse proxy that ends
    #: TLS): cookies are sent ``Secure`` and browsers are told to keep to HTTPS (HSTS),
    #: whatever scheme the proxy forwards the request with.
    https: bool = False
    #: Addresses (IPs or networks, comma-separated) of the reverse proxies whose
    #: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed, e.g. ``127.0.0.1`` for an
    #: nginx on the same machine. Empty: none is, and the client address is the peer's
    #: (rate limits, sign-in throttling and logs use it).
    trusted_proxies: str = ""
    #: ``text`` (one readable line per event) or ``json`` (one JSON object per line, for a
    #: log collector); either way each line carries the request id.
    log_format: Literal["text", "json"] = "text"
    #: Seconds a stopping server (SIGTERM) gives the requests in flight to finish.
    shutdown_grace_seconds: int = Field(default=30, ge=0, le=600)
    #: Keyed checkpoints of the audit chain, written outside the database (see
    #: ``huiqi.service.anchors``). Off only when set to false.
    audit_anchor: bool = True
    #: The checkpoints' HMAC key (at least 32 characters). Unset: the key file below.
    audit_key: SecretStr | None = None
    #: The key file; default ``<data_dir>/audit.key``, made (mode 600) at the first checkpoint.
    audit_key_file: Path | None = None
    #: The append-only JSON-lines file of checkpoints; default
    #: ``<data_dir>/audit-checkpoints.jsonl``.
    audit_checkpoints: Path | None = None
    #: A checkpoint every this many audit entries too (0: only at plan approvals, at server
    #: start and by ``huiqi audit checkpoint``).
    audit_checkpoint_every: int = Field(default=100, ge=0)

    @field_validator("database_url")
    @classmethod
    def _supported(cls, url: str) -> str:
        if not url.startswith(("sqlite://", "postgresql")):
            raise ValueError("HUIQI_DATABASE_URL must be sqlite:///… or postgresql+psycopg://…")
        return url

    @field_validator("anonymous_evaluate_rate", "anonymous_objection_rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"not a rate in the limits notation (e.g. 60/minute): {value!r}"
            ) from None
        return value

    @field_validator("audit_key")
    @classmethod
    def _strong_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(set(key.get_secret_value())) < 10:
            raise ValueError(
                "HUIQI_AUDIT_KEY must be a random secret (e.g. `openssl rand -hex 32`), "
                "not a placeholder"
            )
        if key is not None and len(key.get_secret_value()) < 32:
            raise ValueError("HUIQI_AUDIT_KEY must have at least 32 characters")
        return key

    def content_limits(self) -> ContentLimits:
        """The limits above, as the content checks take them."""
        return ContentLimits(**{f.name: getattr(self, f.name) for f in fields(ContentLimits)})

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",")):
            if not entry:
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"HUIQI_TRUSTED_PROXIES takes IP addresses or networks, not {entry!r}"
                ) from None
        return value

    def sqlite_path(self) -> Path | None:
        """The SQLite file, if the database is one."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and self.database_url != "sqlite://":
            return Path(self.database_url.removeprefix(prefix))
        return None


@cache
def get_settings() -> Settings:
    return Settings()
