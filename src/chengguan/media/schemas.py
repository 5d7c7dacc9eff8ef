"""The media API contract: one photo or video as a reader sees it, and attaching media to a case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chengguan.shared.text import SafeStr

SHA256 = r"^[0-9a-f]{64}$"
Sha256 = Annotated[str, Field(pattern=SHA256, description="文件的 SHA-256（上传后返回）")]


class MediaOut(BaseModel):
    """A photo or video. ``url`` and ``thumbnail_url`` are the public copy (no EXIF/GPS) and its thumbnail;
    ``original_url`` only for staff who may read a case it belongs to (and its uploader on staff)."""

    sha256: str = Field(description="原件的 SHA-256（内容寻址）")
    kind: str = Field(description="image 图片 / video 视频")
    mime: str = Field(description="公开副本的类型（图片为 image/jpeg，视频为 video/mp4）")
    size: int = Field(description="公开副本的字节数")
    width: int
    height: int
    duration_s: float | None = Field(default=None, description="视频时长（秒）")
    url: str = Field(description="公开副本（已去除 EXIF、GPS 等元数据）")
    thumbnail_url: str = Field(description="缩略图（JPEG）")
    original_url: str | None = Field(default=None, description="原件（含 EXIF，作证据用，仅办案人员可见）")
    original_mime: str | None = None
    original_size: int | None = None
    role: str | None = Field(default=None, description="report 上报照片 / result 处置结果 / evidence 取证材料")
    role_label: str | None = None
    added_at: datetime | None = None
    taken_at: datetime | None = Field(default=None, description="拍摄时间（原件记录，仅上传者与办案人员可见）")
    lon: float | None = Field(default=None, description="拍摄位置经度（WGS84，原件 GPS；仅上传者与办案人员可见）")
    lat: float | None = None


class CaseMediaIn(BaseModel):
    """Attach uploaded photos/videos to a case (upload each first: ``POST /api/v1/media``)."""

    model_config = ConfigDict(extra="forbid")

    media: list[Sha256] = Field(min_length=1, max_length=20, description="已上传文件的 SHA-256")
    role: str = Field(default="result", pattern=r"^(result|evidence)$", description="result 处置结果 / evidence 取证")
    note: SafeStr | None = Field(default=None, max_length=200, description="说明（选填）")


class CaseMediaPageOut(BaseModel):
    items: list[MediaOut]
    can_add: bool = Field(description="当前用户能否为本案添加照片")
