"""The storage port for media bytes, and its two adapters: the local filesystem and S3-compatible servers.

Storage is content-addressed: the key of an object is the SHA-256 of its bytes (64 lower-case hex digits),
so storing the same bytes twice stores them once, an object never changes once written, and a key names
nothing but what it hashes. Keys are checked before they reach a path or a bucket (no ``../``).

Writes happen before the database rows that name them (the caller's transaction commits later): a rolled-back
request may leave an object that no row names (harmless, and collectable), but a row never names a missing
object.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chengguan.config import Settings

KEY = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 256 * 1024


class StorageError(Exception):
    """The storage backend failed (unreachable server, full disk): a 5xx, never the caller's fault."""


class MissingObject(StorageError):
    pass


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_key(key: str) -> str:
    if not KEY.match(key):
        raise ValueError(f"not a SHA-256 content address: {key!r}")
    return key


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range of an object (HTTP ``Range: bytes=start-end``)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Storage(Protocol):
    """Where media bytes live. Every method takes a content address (``sha256_hex`` of the bytes)."""

    def put(self, key: str, data: bytes, *, content_type: str) -> bool:
        """Store ``data`` under ``key`` unless it is there already; True when it was written now."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def get(self, key: str) -> bytes: ...

    def stream(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        """The object's bytes (or the range's) in chunks, for responses that should not hold it all."""
        ...

    def delete(self, key: str) -> None: ...


def _verify(key: str, data: bytes) -> None:
    check_key(key)
    if sha256_hex(data) != key:
        raise ValueError("the key is not the SHA-256 of the data")


# ---- local filesystem ----------------------------------------------------------------------------------


class LocalStorage:
    """Files under ``root``, sharded by the first two bytes of the hash: ``root/ab/cd/abcd…``.

    A write goes to a temporary file in the same folder, is flushed to disk and renamed into place, so a
    crash never leaves a half-written object under its final name.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, key: str, data: bytes, *, content_type: str) -> bool:
        _verify(key, data)
        target = self.path(key)
        if target.is_file() and target.stat().st_size == len(data):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise MissingObject(key) from exc

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise MissingObject(key) from exc

    def stream(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        try:
            fh = self.path(key).open("rb")
        except FileNotFoundError as exc:
            raise MissingObject(key) from exc
        return self._chunks(fh, byte_range)

    @staticmethod
    def _chunks(fh: Any, byte_range: ByteRange | None) -> Iterator[bytes]:
        with fh:
            left = None
            if byte_range is not None:
                fh.seek(byte_range.start)
                left = byte_range.length
            while left is None or left > 0:
                chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


# ---- S3-compatible -------------------------------------------------------------------------------------


class S3Storage:
    """Objects in one bucket of an S3-compatible server (AWS S3, MinIO, Ceph RGW, Aliyun OSS and Tencent COS
    through their S3 endpoints), under ``prefix`` + the first two hex digits + the key."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def connect(
        cls,
        *,
        endpoint_url: str | None,
        bucket: str,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
    ) -> S3Storage:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=Config(
                s3={"addressing_style": "path"},  # MinIO and most private deployments have no wildcard DNS
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )
        return cls(client, bucket, prefix)

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}{key[:2]}/{key}"

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (development servers; production buckets are provisioned)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def put(self, key: str, data: bytes, *, content_type: str) -> bool:
        _verify(key, data)
        if self.exists(key):
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=data,
                ContentType=content_type,
                ContentMD5=_md5_b64(data),  # the server refuses bytes that changed on the way
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 put {key}: {exc}") from exc
        return True

    def _head(self, key: str) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if self._missing(exc):
                raise MissingObject(key) from exc
            raise StorageError(f"S3 head {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 head {key}: {exc}") from exc
        return head

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except MissingObject:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def _body(self, key: str, byte_range: ByteRange | None) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"Range": f"bytes={byte_range.start}-{byte_range.end}"} if byte_range else {}
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), **extra)["Body"]
        except ClientError as exc:
            if self._missing(exc):
                raise MissingObject(key) from exc
            raise StorageError(f"S3 get {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 get {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        body = self._body(key, None)
        with body:
            data: bytes = body.read()
        return data

    def stream(self, key: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        body = self._body(key, byte_range)

        def chunks() -> Iterator[bytes]:
            with body:
                yield from body.iter_chunks(CHUNK)

        return chunks()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))


def _md5_b64(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def from_settings(settings: Settings) -> Storage:
    """The storage the settings name: local files under ``media_root`` (default) or an S3-compatible bucket."""
    if settings.media_storage == "s3":
        return S3Storage.connect(
            endpoint_url=settings.media_s3_endpoint_url or None,
            bucket=settings.media_s3_bucket,
            region=settings.media_s3_region,
            access_key=settings.media_s3_access_key or None,
            secret_key=settings.media_s3_secret_key or None,
            prefix=settings.media_s3_prefix,
        )
    return LocalStorage(settings.media_root)
