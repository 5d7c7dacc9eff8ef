"""Typed settings read from ``CHENGGUAN_*`` environment variables or a ``.env`` file.

Imports nothing internal. ``get_settings()`` is cached; tests build ``Settings(...)`` directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - refused outside dev, see below


class StaffRobot(BaseModel):
    """A bureau's staff group robot: DingTalk (浙政钉 alike) or WeCom, by its webhook URL (which holds the token)."""

    provider: Literal["dingtalk", "wecom"]
    webhook: SecretStr
    secret: SecretStr = SecretStr("")  # DingTalk 加签 secret (SEC…)


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
    # Notifications to people (chengguan.notify, docs/intake.md). "outbox" records in notify_outbox the exact
    # request each adapter would make (development default); "live" sends it. Secrets are SecretStr: never logged.
    notify_delivery: Literal["outbox", "live"] = "outbox"
    notify_sms_provider: Literal["aliyun", "tencent", "none"] = "aliyun"
    notify_sms_endpoint: str = ""  # empty: the provider's public endpoint
    notify_sms_region: str = ""  # empty: cn-hangzhou (Aliyun) / ap-guangzhou (Tencent)
    notify_sms_key_id: str = ""  # AccessKeyId / SecretId
    notify_sms_key_secret: SecretStr = SecretStr("")  # AccessKeySecret / SecretKey
    notify_sms_app_id: str = ""  # Tencent SmsSdkAppId
    notify_sms_sign_name: str = "城管执法"
    notify_sms_templates: dict[str, str] = Field(default_factory=dict)  # template key → approved template code
    notify_staff_im: dict[str, StaffRobot] = Field(default_factory=dict)  # bureau code → its group robot
    notify_smtp_host: str = ""  # empty: no e-mail
    notify_smtp_port: int = Field(default=25, ge=1, le=65535)
    notify_smtp_security: Literal["none", "starttls", "ssl"] = "none"
    notify_smtp_username: str = ""
    notify_smtp_password: SecretStr = SecretStr("")
    notify_mail_from: str = "noreply@chengguan.local"
    notify_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # The broker that hands queued work to workers: empty = in-process (embedded default); in production
    # nats://host:4222 (NATS JetStream: durable stream, `chengguan consume` workers). The prefix names the
    # stream and its subjects (one per installation sharing a NATS server).
    broker_url: str = ""
    broker_prefix: str = Field(default="chengguan", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    # Text classification of reports without a category (intake.classify): below this confidence a person decides.
    classify_min_confidence: float = Field(default=0.6, ge=0, le=1)
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
    # The citizens' public door (intake.public_api, /h5) and other endpoints anyone may call: requests per
    # client address within a window (http.ratelimit; 0 switches a limit off), and how long the same text from
    # the same address is answered with the earlier report's tracking code instead of a new report.
    public_rate_window_seconds: int = Field(default=600, ge=1)
    public_max_writes: int = Field(default=20, ge=0)  # reports and ratings per address per window
    public_max_reads: int = Field(default=600, ge=0)  # tracking and place look-ups per address per window
    public_flood_minutes: int = Field(default=30, ge=1)
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
