"""The storage port on both adapters: local files, and S3 over HTTP against a real S3-protocol server process
(moto's standalone ``moto_server``, started here on a free port), not a mock object.

Then the media service on a real database with each adapter: an upload is stored once by its SHA-256 with its
public copy and thumbnail, and the same bytes uploaded again are the same object.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.config import Settings
from chengguan.identity.models import User
from chengguan.media import checks, storage
from chengguan.media import service as media
from chengguan.media.models import MediaObject, MediaUpload
from chengguan.media.storage import ByteRange, LocalStorage, MissingObject, S3Storage, sha256_hex
from tests import media_samples as samples


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """A real S3-protocol server in a process of its own, on 127.0.0.1 only; stopped after the module."""
    port = _free_port()
    exe = Path(sys.executable).with_name("moto_server")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _s3(url: str, bucket: str) -> S3Storage:
    s3 = S3Storage.connect(
        endpoint_url=url, bucket=bucket, region="us-east-1", access_key="test", secret_key="test", prefix="media/"
    )
    s3.ensure_bucket()
    return s3


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> storage.Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    url = request.getfixturevalue("s3_server")
    return _s3(url, f"test-{request.node.name.split('[')[0][-20:].replace('_', '-')}-{os.getpid()}")


PHOTO = samples.STREET_JPEG.read_bytes()
KEY = sha256_hex(PHOTO)


def test_put_then_get_by_content_address(store: storage.Storage) -> None:
    assert not store.exists(KEY)
    assert store.put(KEY, PHOTO, content_type="image/jpeg") is True
    assert store.exists(KEY) and store.size(KEY) == len(PHOTO)
    assert store.get(KEY) == PHOTO
    assert b"".join(store.stream(KEY)) == PHOTO


def test_the_same_bytes_are_stored_once(store: storage.Storage) -> None:
    assert store.put(KEY, PHOTO, content_type="image/jpeg") is True
    assert store.put(KEY, PHOTO, content_type="image/jpeg") is False


def test_a_key_that_is_not_the_hash_of_the_bytes_is_refused(store: storage.Storage) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        store.put(sha256_hex(b"other"), PHOTO, content_type="image/jpeg")
    with pytest.raises(ValueError, match="content address"):
        store.put("../../etc/passwd", PHOTO, content_type="image/jpeg")
    assert not store.exists(sha256_hex(b"other"))


def test_byte_ranges_for_video_seeking(store: storage.Storage) -> None:
    store.put(KEY, PHOTO, content_type="image/jpeg")
    part = b"".join(store.stream(KEY, ByteRange(1000, 300_999)))
    assert part == PHOTO[1000:301_000]
    tail = b"".join(store.stream(KEY, ByteRange(len(PHOTO) - 10, len(PHOTO) - 1)))
    assert tail == PHOTO[-10:]


def test_a_missing_object_says_so(store: storage.Storage) -> None:
    with pytest.raises(MissingObject):
        store.get(sha256_hex(b"never stored"))
    with pytest.raises(MissingObject):
        store.size(sha256_hex(b"never stored"))


def test_local_files_are_sharded_by_hash_and_never_left_half_written(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    local.put(KEY, PHOTO, content_type="image/jpeg")
    assert (tmp_path / KEY[:2] / KEY[2:4] / KEY).read_bytes() == PHOTO
    assert not list(tmp_path.rglob(".tmp-*"))


def test_s3_objects_live_under_the_prefix(s3_server: str) -> None:
    s3 = _s3(s3_server, "prefix-check")
    s3.put(KEY, PHOTO, content_type="image/jpeg")
    listed = s3.client.list_objects_v2(Bucket="prefix-check")["Contents"]
    assert [o["Key"] for o in listed] == [f"media/{KEY[:2]}/{KEY}"]
    head = s3.client.head_object(Bucket="prefix-check", Key=f"media/{KEY[:2]}/{KEY}")
    assert head["ContentType"] == "image/jpeg"


def test_settings_choose_the_adapter(tmp_path: Path, s3_server: str) -> None:
    assert isinstance(storage.from_settings(Settings(env="test", data_dir=tmp_path)), LocalStorage)
    s3 = storage.from_settings(
        Settings(
            env="test",
            media_storage="s3",
            media_s3_endpoint_url=s3_server,
            media_s3_bucket="from-settings",
            media_s3_access_key="test",
            media_s3_secret_key="test",
        )
    )
    assert isinstance(s3, S3Storage)
    s3.ensure_bucket()
    s3.put(KEY, PHOTO, content_type="image/jpeg")
    assert s3.get(KEY) == PHOTO


# ---- the service on a real database, with each adapter ---------------------------------------------------


def test_an_upload_is_stored_with_its_public_copy_and_thumbnail(
    city_db: Session, people: dict[str, User], store: storage.Storage
) -> None:
    photo = samples.jpeg_with_gps()
    obj = media.ingest(city_db, storage=store, limits=checks.Limits(), data=photo, uploader_id=people["citizen1"].id)
    assert obj.sha256 == sha256_hex(photo) and obj.mime == "image/jpeg" and (obj.width, obj.height) == (1920, 1080)
    assert obj.gps_lon == pytest.approx(samples.WEST_LAKE[0], abs=1e-6)
    assert store.get(obj.sha256) == photo  # the original, EXIF and all, is kept as evidence
    public = store.get(obj.public_sha256)
    assert sha256_hex(public) == obj.public_sha256 and b"Exif\x00\x00" not in public
    assert store.exists(obj.thumb_sha256)
    located = media.location_of(obj)
    assert located is not None and located.taken_at is not None and located.lat == pytest.approx(samples.WEST_LAKE[1])


def test_the_same_bytes_uploaded_twice_are_one_object(
    city_db: Session, people: dict[str, User], store: storage.Storage
) -> None:
    limits = checks.Limits()
    first = media.ingest(city_db, storage=store, limits=limits, data=PHOTO, uploader_id=people["citizen1"].id)
    again = media.ingest(city_db, storage=store, limits=limits, data=PHOTO, uploader_id=people["citizen1"].id)
    other = media.ingest(city_db, storage=store, limits=limits, data=PHOTO, uploader_id=people["grid1"].id)
    assert first.id == again.id == other.id
    assert city_db.scalar(select(func.count()).select_from(MediaObject).where(MediaObject.sha256 == KEY)) == 1
    uploaders = city_db.scalars(select(MediaUpload.user_id).where(MediaUpload.sha256 == KEY)).all()
    assert set(uploaders) == {people["citizen1"].id, people["grid1"].id} and len(uploaders) == 2


def test_a_refused_upload_stores_nothing(city_db: Session, store: storage.Storage) -> None:
    bomb = samples.png_bomb(12_000)
    with pytest.raises(checks.MediaTooLarge):
        media.ingest(city_db, storage=store, limits=checks.Limits(), data=bomb, uploader_id=None)
    assert not store.exists(sha256_hex(bomb))
    assert city_db.scalar(select(func.count()).select_from(MediaObject)) == 0
