"""What comes in is checked, and what goes out is clean: no I/O here beyond the bytes handed in.

``inspect(data, limits)`` decides whether an upload is accepted and derives what the platform keeps:

* the type is sniffed from the bytes (``filetype``), never taken from the name or the declared type, and only
  JPEG, PNG, WebP, HEIC/HEIF, MP4 and QuickTime are accepted; the decoder is then restricted to that one format
  (a file that sniffs as JPEG is decoded by the JPEG decoder only);
* size limits per kind (bytes) and a pixel limit read from the header *before* anything is decoded, so a
  decompression bomb (a tiny PNG that claims 100,000 × 100,000 pixels) is refused without allocating it;
* images are decoded in full (a truncated or forged file fails here), videos are demuxed by FFmpeg's MP4/MOV
  demuxer only (no other demuxer may claim them: HLS or concat playlists inside an upload are never followed)
  and must hold a decodable video stream;
* EXIF GPS (WGS84, as GPS receivers record it) and the time taken are read from the original; a video's
  ISO 6709 ``location`` tag and ``creation_time`` likewise;
* the public copy is re-encoded from the pixels only (JPEG, EXIF orientation applied, longest side bounded):
  no EXIF, GPS, XMP, IPTC, ICC comments or trailing bytes survive; a video is remuxed (streams copied, no
  container or stream metadata); a thumbnail (``thumb_side`` px) for lists and timelines, a video's from its
  first frame.
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import filetype
import pillow_heif
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from chengguan.config import Settings
from chengguan.shared.clock import BUREAU_TZ
from chengguan.shared.errors import DomainError

pillow_heif.register_heif_opener()  # HEIC/HEIF from phones (iPhone's default format)
# Our own pixel limit is checked before decoding; Pillow's warning threshold is lifted to match it.
Image.MAX_IMAGE_PIXELS = None


class Kind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


# sniffed MIME type → (kind, the one Pillow format / FFmpeg demuxer allowed to read it, label for people)
ACCEPTED: dict[str, tuple[Kind, str, str]] = {
    "image/jpeg": (Kind.IMAGE, "JPEG", "JPEG 图片"),
    "image/png": (Kind.IMAGE, "PNG", "PNG 图片"),
    "image/webp": (Kind.IMAGE, "WEBP", "WebP 图片"),
    "image/heic": (Kind.IMAGE, "HEIF", "HEIC 图片"),
    "image/heif": (Kind.IMAGE, "HEIF", "HEIF 图片"),
    "video/mp4": (Kind.VIDEO, "mov", "MP4 视频"),
    "video/quicktime": (Kind.VIDEO, "mov", "MOV 视频"),
}
ACCEPTED_LABEL = "JPEG、PNG、WebP、HEIC 图片或 MP4、MOV 视频"
PUBLIC_IMAGE_MIME = "image/jpeg"
SNIFF_BYTES = 8192


class MediaRefused(DomainError):
    """Not a kind of file the platform accepts (sniffed from the bytes)."""

    status = 415
    code = "media-type-refused"
    title = "不支持的文件类型"


class MediaTooLarge(DomainError):
    """Too many bytes, too many pixels (a decompression bomb), or too long a video."""

    status = 413
    code = "media-too-large"
    title = "文件过大"


class MediaUnreadable(DomainError):
    """It claims to be an accepted type but cannot be read as one (forged, truncated, corrupt)."""

    status = 422
    code = "media-unreadable"
    title = "文件无法识别"


@dataclass(frozen=True)
class Limits:
    max_image_bytes: int = 20 * 1024 * 1024
    max_video_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_video_pixels: int = 3840 * 2160
    max_video_seconds: int = 300
    public_max_side: int = 2560
    thumb_side: int = 320

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            max_image_bytes=s.media_max_image_bytes,
            max_video_bytes=s.media_max_video_bytes,
            max_pixels=s.media_max_pixels,
            max_video_pixels=s.media_max_video_pixels,
            max_video_seconds=s.media_max_video_seconds,
            public_max_side=s.media_public_max_side,
            thumb_side=s.media_thumb_side,
        )

    @property
    def max_upload_bytes(self) -> int:
        return max(self.max_image_bytes, self.max_video_bytes)


@dataclass(frozen=True)
class GPS:
    lon: float  # WGS84
    lat: float


@dataclass(frozen=True)
class Inspected:
    """An accepted upload: what it is, where and when it was taken, and its derived copies."""

    mime: str
    kind: Kind
    size: int
    width: int
    height: int
    duration_s: float | None
    taken_at: datetime | None
    gps: GPS | None
    public: bytes  # the copy anyone outside the handling staff gets: no metadata
    public_mime: str
    thumb: bytes  # JPEG, longest side ``thumb_side``
    thumb_mime: str = PUBLIC_IMAGE_MIME


def _size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} MB"
    return f"{max(1, n // 1024)} KB"


def sniff(data: bytes) -> str:
    """The accepted MIME type of ``data`` judged from its first bytes; ``MediaRefused`` otherwise."""
    kind = filetype.guess(data[:SNIFF_BYTES])
    mime: str | None = str(kind.mime) if kind is not None else None
    if mime is None or mime not in ACCEPTED:
        found = f"（识别为 {mime}）" if mime else "（无法识别文件类型）"
        raise MediaRefused(f"只接受{ACCEPTED_LABEL}{found}；文件类型按内容判断，与文件名无关", mime=mime)
    return mime


def inspect(data: bytes, limits: Limits) -> Inspected:
    """Check an upload and derive its public copy and thumbnail; a refusal is a ``DomainError`` (4xx)."""
    if not data:
        raise MediaUnreadable("文件为空")
    if len(data) > limits.max_upload_bytes:
        raise MediaTooLarge(f"文件超过 {_size_text(limits.max_upload_bytes)} 的上限")
    mime = sniff(data)
    kind, fmt, label = ACCEPTED[mime]
    cap = limits.max_image_bytes if kind is Kind.IMAGE else limits.max_video_bytes
    if len(data) > cap:
        raise MediaTooLarge(f"{label}不能超过 {_size_text(cap)}（本文件 {_size_text(len(data))}）")
    if kind is Kind.IMAGE:
        return _inspect_image(data, mime, fmt, label, limits)
    return _inspect_video(data, mime, label, limits)


# ---- images ------------------------------------------------------------------------------------------


def _inspect_image(data: bytes, mime: str, fmt: str, label: str, limits: Limits) -> Inspected:
    try:
        im = Image.open(io.BytesIO(data), formats=[fmt])
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaUnreadable(f"文件内容不是有效的{label}") from exc
    with im:
        width, height = im.size
        if width < 1 or height < 1:
            raise MediaUnreadable(f"文件内容不是有效的{label}")
        if width * height > limits.max_pixels:  # decided from the header, before any pixel is decoded
            raise MediaTooLarge(
                f"图片像素数过大（{width}×{height}），上限为 {limits.max_pixels / 1e6:.0f} 百万像素",
                width=width,
                height=height,
            )
        exif = im.getexif()
        gps, taken_at = exif_gps(exif), exif_taken_at(exif)
        try:
            im.load()
            upright = ImageOps.exif_transpose(im)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise MediaUnreadable(f"{label}已损坏或不完整，无法解码") from exc
        public = _jpeg(upright, limits.public_max_side, quality=85)
        thumb = _jpeg(upright, limits.thumb_side, quality=80)
    return Inspected(
        mime=mime,
        kind=Kind.IMAGE,
        size=len(data),
        width=upright.width,
        height=upright.height,
        duration_s=None,
        taken_at=taken_at,
        gps=gps,
        public=public,
        public_mime=PUBLIC_IMAGE_MIME,
        thumb=thumb,
    )


def _jpeg(im: Image.Image, side: int, *, quality: int) -> bytes:
    """A new JPEG from the pixels alone (nothing of the original's metadata is passed on)."""
    out = im.copy()
    if out.mode not in ("RGB", "L"):
        if out.mode in ("RGBA", "LA", "PA") or (out.mode == "P" and "transparency" in out.info):
            out = out.convert("RGBA")
            flat = Image.new("RGB", out.size, (255, 255, 255))
            flat.paste(out, mask=out.getchannel("A"))
            out = flat
        else:
            out = out.convert("RGB")
    out.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def _ratio(value: Any) -> float:
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator)
        return float(Fraction(int(value[0]), int(value[1]))) if value[1] else 0.0
    return float(value)


def _degrees(dms: Any, ref: Any) -> float | None:
    try:
        d, m, s = (_ratio(v) for v in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if str(ref).strip().upper().rstrip("\x00") in ("S", "W"):
        value = -value
    return value


def exif_gps(exif: Image.Exif) -> GPS | None:
    """WGS84 longitude and latitude from an image's EXIF GPS block, or None (absent, zero or out of range)."""
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (KeyError, ValueError, TypeError, OSError):
        return None
    if not gps:
        return None
    lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef, "N"))
    lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef, "E"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return GPS(lon=round(lon, 7), lat=round(lat, 7))


_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def _exif_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip().rstrip("\x00")


def exif_taken_at(exif: Image.Exif) -> datetime | None:
    """When the photo was taken, aware: DateTimeOriginal with its OffsetTimeOriginal; else the GPS time (UTC);
    else DateTimeOriginal read in the bureau's time zone (cameras without an offset keep local time)."""
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (KeyError, ValueError, TypeError, OSError):
        return None
    original = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    local: datetime | None = None
    if original:
        try:
            local = datetime.strptime(_exif_text(original), "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007 - zone below
        except ValueError:
            local = None
    offset = _OFFSET.match(_exif_text(sub.get(ExifTags.Base.OffsetTimeOriginal, "")))
    if local is not None and offset:
        sign = -1 if offset.group(1) == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
        return local.replace(tzinfo=zone).astimezone(UTC)
    stamp, day = gps.get(ExifTags.GPS.GPSTimeStamp), gps.get(ExifTags.GPS.GPSDateStamp)
    if stamp and day:
        try:
            h, m, s = (_ratio(v) for v in stamp)
            base = datetime.strptime(_exif_text(day), "%Y:%m:%d").replace(tzinfo=UTC)
            return base + timedelta(hours=h, minutes=m, seconds=s)
        except (TypeError, ValueError, ZeroDivisionError):
            pass
    if local is not None:
        return local.replace(tzinfo=BUREAU_TZ).astimezone(UTC)
    return None


# ---- videos ------------------------------------------------------------------------------------------

_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def video_gps(location: str | None) -> GPS | None:
    """An ISO 6709 location tag (``+30.2741+120.1551+012.000/``, as phones write it) as WGS84."""
    m = _ISO6709.match((location or "").strip())
    if not m:
        return None
    lat, lon = float(m.group(1)), float(m.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return GPS(lon=round(lon, 7), lat=round(lat, 7))


def _creation_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def _inspect_video(data: bytes, mime: str, label: str, limits: Limits) -> Inspected:
    try:
        container = av.open(io.BytesIO(data), mode="r", format="mov", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaUnreadable(f"文件内容不是有效的{label}") from exc
    with container:
        if not container.streams.video:
            raise MediaUnreadable(f"{label}中没有视频画面")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width < 1 or height < 1:
            raise MediaUnreadable(f"文件内容不是有效的{label}")
        if width * height > limits.max_video_pixels:
            raise MediaTooLarge(f"视频分辨率过大（{width}×{height}）", width=width, height=height)
        duration = container.duration / av.time_base if container.duration else None
        if duration is not None and duration > limits.max_video_seconds:
            raise MediaTooLarge(f"视频时长 {duration:.0f} 秒，超过 {limits.max_video_seconds} 秒的上限")
        tags = {**container.metadata, **stream.metadata}
        gps = video_gps(
            tags.get("location") or tags.get("location-eng") or tags.get("com.apple.quicktime.location.ISO6709")
        )
        taken_at = _creation_time(tags.get("com.apple.quicktime.creationdate") or tags.get("creation_time"))
        try:
            frame = next(container.decode(stream))
            poster = frame.to_image()  # type: ignore[no-untyped-call]
        except (StopIteration, av.FFmpegError, ValueError) as exc:
            raise MediaUnreadable(f"{label}无法解码出画面") from exc
    public = _remux(data, label)
    return Inspected(
        mime=mime,
        kind=Kind.VIDEO,
        size=len(data),
        width=width,
        height=height,
        duration_s=round(duration, 3) if duration is not None else None,
        taken_at=taken_at,
        gps=gps,
        public=public,
        public_mime="video/mp4",
        thumb=_jpeg(poster, limits.thumb_side, quality=80),
    )


def _remux(data: bytes, label: str) -> bytes:
    """The first video and audio stream copied into a new MP4 without any metadata (no location, no device
    names, no creation dates), with the index in front so that browsers can start playing at once."""
    # faststart rewrites the file in a second pass, so the muxer needs a real file, not a buffer
    with tempfile.TemporaryDirectory(prefix="cg-media-") as tmp:
        target = Path(tmp) / "public.mp4"
        _remux_to(data, target, label)
        return target.read_bytes()


def _remux_to(data: bytes, target: Path, label: str) -> None:
    try:
        with av.open(io.BytesIO(data), mode="r", format="mov", metadata_errors="ignore") as src:
            keep = [src.streams.video[0], *src.streams.audio[:1]]
            with av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
                mapping = {}
                for s in keep:
                    o = dst.add_stream_from_template(s)
                    o.metadata.clear()
                    mapping[s.index] = o
                dst.metadata.clear()
                for packet in src.demux(keep):
                    if packet.dts is None:
                        continue
                    packet.stream = mapping[packet.stream.index]
                    dst.mux(packet)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaUnreadable(f"{label}无法转存为公开副本") from exc
