"""Real photos and a real video for the media tests, with GPS written into copies where a test needs it.

The photos are ../shared/data/images (real street photos, no GPS of their own); the video is a real camera clip
from ../shared/data/video, remuxed into MP4/MOV here (stream copy, no re-encoding).
"""

from __future__ import annotations

import io
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import piexif
import pillow_heif
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGES = SHARED / "images"
STREET_JPEG = IMAGES / "cn_street_parked_cars_posters_1920x1080.jpg"  # 1920×1080 JPEG
CROSSWALK_JPEG = IMAGES / "crosswalk_pedestrians_800x564.jpg"
PLATE_PNG_NAMED_JPG = IMAGES / "cn_car_plate_1140x456.jpg"  # a PNG, despite its name
SMALL_JPEG = IMAGES / "cn_plate_closeup_320.jpg"
VIDEO_AVI = SHARED / "video" / "vtest_480x360_h264.avi"

# 西湖区, 文三路一带 (the demo city's 西湖区 brigade), as a phone's GPS records it (WGS84)
WEST_LAKE = (120.1300, 30.2750)
TAKEN = "2026:11:20 10:03:04"  # local time at +08:00 → 02:03:04 UTC


def _rational(value: float) -> tuple[int, int]:
    f = Fraction(value).limit_denominator(1_000_000)
    return (f.numerator, f.denominator)


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return ((d, 1), (m, 1), _rational(round(s, 4)))


def exif_bytes(
    lon: float = WEST_LAKE[0],
    lat: float = WEST_LAKE[1],
    *,
    taken: str | None = TAKEN,
    offset: str | None = "+08:00",
    orientation: int | None = None,
    gps_time: tuple[str, tuple[int, int, int]] | None = None,
) -> bytes:
    gps = {
        piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
        piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
        piexif.GPSIFD.GPSLatitude: _dms(lat),
        piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
        piexif.GPSIFD.GPSLongitude: _dms(lon),
        piexif.GPSIFD.GPSMapDatum: b"WGS-84",
    }
    if gps_time is not None:
        day, (h, m, s) = gps_time
        gps[piexif.GPSIFD.GPSDateStamp] = day.encode()
        gps[piexif.GPSIFD.GPSTimeStamp] = ((h, 1), (m, 1), (s, 1))
    zeroth: dict[int, object] = {piexif.ImageIFD.Make: b"TestPhone", piexif.ImageIFD.Model: b"X1"}
    if orientation is not None:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    sub: dict[int, object] = {}
    if taken:
        sub[piexif.ExifIFD.DateTimeOriginal] = taken.encode()
    if offset:
        sub[piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    return bytes(piexif.dump({"0th": zeroth, "Exif": sub, "GPS": gps, "1st": {}, "thumbnail": None}))


def jpeg_with_gps(path: Path = STREET_JPEG, **kw: object) -> bytes:
    """A copy of a real photo with EXIF GPS (and time taken) written in, as a phone would."""
    out = io.BytesIO()
    piexif.insert(exif_bytes(**kw), path.read_bytes(), out)  # type: ignore[arg-type]
    return out.getvalue()


def heic_with_gps(path: Path = CROSSWALK_JPEG) -> bytes:
    """The real photo re-encoded as HEIC (the iPhone's format) with EXIF GPS."""
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    with Image.open(path) as im:
        im.save(buf, format="HEIF", exif=exif_bytes(), quality=60)
    return buf.getvalue()


def video(
    fmt: str = "mp4", *, seconds: float = 2.0, location: str | None = "+30.2750+120.1300/", created: str | None = None
) -> bytes:
    """The first ``seconds`` of the real camera clip in an MP4 (or MOV) container, with a phone-style location
    tag (ISO 6709) and creation time when given."""
    with av.open(str(VIDEO_AVI)) as src:
        stream = src.streams.video[0]
        buf = io.BytesIO()
        with av.open(buf, "w", format=fmt) as out:
            o = out.add_stream_from_template(stream)
            if location:
                out.metadata["location"] = location
            if created:
                out.metadata["creation_time"] = created
            for packet in src.demux(stream):
                if packet.dts is None:
                    continue
                if packet.pts is not None and stream.time_base and packet.pts * stream.time_base > seconds:
                    break
                packet.stream = o
                out.mux(packet)
    return buf.getvalue()


def png_bomb(side: int = 20_000) -> bytes:
    """A real PNG of ``side``² pixels that compresses to a few tens of kilobytes (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("1", (side, side), 0).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def at_utc(text: str) -> datetime:
    return datetime.fromisoformat(text)
