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
    # Media (photos and videos, chengguan.media): where the bytes live, and what is accepted.
    media_storage: Literal["local", "s3"] = "local"
    media_dir: Path | None = None  # local storage; empty: data_dir / "media"
    media_s3_endpoint_url: str = ""  # an S3-compatible server (MinIO, Ceph, OSS/COS S3 endpoints); empty: AWS
    media_s3_bucket: str = "chengguan-media"
    media_s3_region: str = "us-east-1"
    media_s3_access_key: str = ""
    media_s3_secret_key: str = ""
    media_s3_prefix: str = ""  # key prefix inside the bucket, e.g. "prod/"
    media_max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    media_max_video_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    media_max_pixels: int = Field(default=50_000_000, ge=1)  # decoded image size; more is refused unread
    media_max_video_pixels: int = Field(default=3840 * 2160, ge=1)
    media_max_video_seconds: int = Field(default=300, ge=1)
    media_public_max_side: int = Field(default=2560, ge=64)  # longest side of the public copy, pixels
    media_thumb_side: int = Field(default=320, ge=32)
    media_per_report: int = Field(default=9, ge=1, le=50)  # photos/videos attached to one report
    media_url_ttl_minutes: int = Field(default=24 * 60, ge=1)  # signed public links in reporters' views

    @property
    def media_root(self) -> Path:
        return self.media_dir or self.data_dir / "media"

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
