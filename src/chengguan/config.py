"""Typed settings read from ``CHENGGUAN_*`` environment variables or a ``.env`` file.

Imports nothing internal. ``get_settings()`` is cached; tests build ``Settings(...)`` directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - refused outside dev, see below


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHENGGUAN_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under data_dir
    secret_key: str = DEV_SECRET
    session_ttl_hours: int = 12
    # Map tiles: empty means no tiles (offline); boundaries are drawn from the database.
    tile_url: str = ""
    tile_attribution: str = ""
    # Where npm put the front-end libraries (Leaflet, ECharts, HTMX).
    node_modules_dir: Path = Field(default_factory=lambda: _repo_root() / "node_modules")
    # Run queued side effects in-process right after commit (embedded default).
    inline_jobs: bool = True
    # The broker that hands queued work to workers: empty = in-process (embedded default); in production
    # nats://host:4222 (NATS JetStream: durable stream, `chengguan consume` workers). The prefix names the
    # stream and its subjects (one per installation sharing a NATS server).
    broker_url: str = ""
    broker_prefix: str = Field(default="chengguan", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    # Login throttling (identity.throttle): failures per account and per client address within a window.
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    login_address_max_failures: int = Field(default=20, ge=1)
    # Origins other than the app's own that may send state-changing requests with the session cookie
    # (e.g. the public name when a proxy rewrites Host). Comma-separated in the environment.
    trusted_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Request bodies larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    @field_validator("trusted_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "prod" and self.secret_key == DEV_SECRET:
            raise ValueError("CHENGGUAN_SECRET_KEY must be set to a real secret when CHENGGUAN_ENV=prod")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chengguan.db').resolve()}"


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
