"""Media routes: upload a photo or video, fetch its public copy, thumbnail or original, and a case's gallery.

``POST /api/v1/media`` takes one file (multipart field ``file``) from anyone — staff, citizens, anonymous
reporters of the public door — checks it from its bytes and answers with its ``sha256`` (what a report or a
case then names), its ``kind`` and signed links to its public copy and thumbnail. The copies are fetched by
their original's SHA-256: with a signed link (reporters' views, which may have no login), or logged in as
their uploader or as staff who may read a case holding them; originals only by staff.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from chengguan.cases import access
from chengguan.cases import media as case_media
from chengguan.cases.access import Purpose
from chengguan.cases.models import Case
from chengguan.http.deps import CurrentUser, Db, OptionalUser, commit, get_settings, require_roles
from chengguan.http.ratelimit import RateLimit
from chengguan.identity.access import scope_of
from chengguan.identity.models import User
from chengguan.identity.roles import STAFF_ROLES
from chengguan.media import checks, storage
from chengguan.media import service as media
from chengguan.media.models import MediaObject
from chengguan.media.schemas import SHA256, CaseMediaIn, CaseMediaPageOut, MediaOut
from chengguan.media.service import Variant
from chengguan.shared.errors import NotFound

router = APIRouter(tags=["照片视频"])

Staff = Annotated[User, Depends(require_roles(*STAFF_ROLES))]
Sha = Annotated[str, Path(pattern=SHA256, description="原件的 SHA-256（上传后返回）")]
Expires = Annotated[int | None, Query(ge=0, le=2**40, description="签名链接的过期时间（Unix 秒）")]
Signature = Annotated[str | None, Query(max_length=64, pattern=r"^[0-9a-f]{1,64}$", description="签名")]

# Anonymous uploads per client address and window: a report carries at most MAX_PER_REPORT of them.
ANONYMOUS_UPLOADS = RateLimit(
    "media-upload",
    limit=lambda s: s.public_max_writes * media.MAX_PER_REPORT,
    window=lambda s: timedelta(seconds=s.public_rate_window_seconds),
    what="上传",
)
RANGE = re.compile(r"^bytes=(\d{0,15})-(\d{0,15})$")
FILE_TYPES: dict[str, dict[str, Any]] = {
    "image/jpeg": {},
    "image/png": {},
    "image/webp": {},
    "image/heic": {},
    "image/heif": {},
    "video/mp4": {},
    "video/quicktime": {},
}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
}


def get_storage(request: Request) -> storage.Storage:
    """The app's media storage (from its settings, made once per app; tests may set another)."""
    store: storage.Storage | None = getattr(request.app.state, "media_storage", None)
    if store is None:
        store = storage.from_settings(get_settings(request))
        request.app.state.media_storage = store
    return store


Store = Annotated[storage.Storage, Depends(get_storage)]


# ---- upload ---------------------------------------------------------------------------------------------


@router.post(
    "/api/v1/media",
    status_code=status.HTTP_201_CREATED,
    summary="上传照片或视频（市民、工作人员；上报或办案时引用返回的 sha256）",
    responses={
        413: {"description": "文件过大：字节数、像素数（解压炸弹）或视频时长超过上限"},
        415: {"description": "不支持的文件类型（按文件内容判断）"},
        429: {"description": "匿名上传过于频繁"},
    },
)
def upload(
    request: Request,
    db: Db,
    store: Store,
    user: OptionalUser,
    file: Annotated[
        UploadFile, File(description="一个文件：JPEG、PNG、WebP、HEIC 图片或 MP4、MOV 视频（类型按内容判断）")
    ],
) -> MediaOut:
    """The file is checked from its bytes; what is kept is the original (evidence), a public copy without
    EXIF/GPS and a thumbnail. The answer's links are signed, so a page without a login can show them; the
    place and time the original records are told to its uploader."""
    if user is None:
        ANONYMOUS_UPLOADS(request)
    settings = get_settings(request)
    limits = checks.Limits.from_settings(settings)
    data = file.file.read(limits.max_upload_bytes + 1)
    obj = media.ingest(db, storage=store, limits=limits, data=data, uploader_id=user.id if user else None)
    out = media.present(obj, signed=case_media.public_links(), with_place=True)
    commit(request, db)
    return out


# ---- fetch ----------------------------------------------------------------------------------------------


def _byte_range(header: str | None, size: int) -> storage.ByteRange | None:
    """One ``Range: bytes=a-b`` (or ``a-``, ``-n``) within ``size``; None: send it all (ranges we do not
    serve, several ranges, or nonsense, are ignored as HTTP allows); a start beyond the end comes back with
    ``end == -1`` (416)."""
    if not header or size == 0:
        return None
    m = RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        start, end = max(0, size - int(m.group(2))), size - 1
    if start > end:
        return storage.ByteRange(start, -1) if start >= size else None
    return storage.ByteRange(start, end)


def _send(request: Request, store: storage.Storage, key: str, mime: str, disposition: str) -> Response:
    size = store.size(key)
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=3600",
        "ETag": f'"{key}"',
        "Content-Disposition": disposition,
    }
    wanted = _byte_range(request.headers.get("range"), size)
    if wanted is not None and wanted.end < 0:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(store.stream(key), media_type=mime, headers=headers)
    headers["Content-Length"] = str(wanted.length)
    headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    return StreamingResponse(store.stream(key, wanted), status_code=206, media_type=mime, headers=headers)


FETCHED: dict[int | str, dict[str, Any]] = {
    200: {"description": "文件内容", "content": FILE_TYPES},
    206: {"description": "请求的字节范围（视频拖动播放）", "content": FILE_TYPES},
    416: {"description": "请求的字节范围超出文件大小"},
}


def _object(
    request: Request, db: Db, user: User | None, sha256: str, variant: Variant, exp: int | None, sig: str | None
) -> MediaObject:
    obj = db.scalar(select(MediaObject).where(MediaObject.sha256 == sha256))
    missing = NotFound("文件不存在或无权查看")
    if obj is None:
        raise missing
    secret = get_settings(request).secret_key
    if variant is not Variant.ORIGINAL and media.signature_valid(sha256, variant, expires=exp, sig=sig, secret=secret):
        return obj
    if user is None or not case_media.may_fetch(db, user=user, obj=obj, original=variant is Variant.ORIGINAL):
        raise missing
    return obj


@router.get(
    "/api/v1/media/{sha256}",
    summary="照片、视频的公开副本（已去除 EXIF、拍摄位置等元数据）",
    response_class=Response,
    responses=FETCHED,
)
def public_copy(
    sha256: Sha, request: Request, db: Db, store: Store, user: OptionalUser, exp: Expires = None, sig: Signature = None
) -> Response:
    obj = _object(request, db, user, sha256, Variant.PUBLIC, exp, sig)
    ext = EXTENSIONS.get(obj.public_mime, "bin")
    return _send(request, store, obj.public_sha256, obj.public_mime, f'inline; filename="{sha256[:16]}.{ext}"')


@router.get(
    "/api/v1/media/{sha256}/thumb",
    summary="缩略图（JPEG）",
    response_class=Response,
    responses=FETCHED,
)
def thumbnail(
    sha256: Sha, request: Request, db: Db, store: Store, user: OptionalUser, exp: Expires = None, sig: Signature = None
) -> Response:
    obj = _object(request, db, user, sha256, Variant.THUMB, exp, sig)
    return _send(
        request, store, obj.thumb_sha256, checks.PUBLIC_IMAGE_MIME, f'inline; filename="{sha256[:16]}-thumb.jpg"'
    )


@router.get(
    "/api/v1/media/{sha256}/original",
    summary="原件（含 EXIF 等元数据，作证据用；仅能查看所属案件的工作人员）",
    response_class=Response,
    responses=FETCHED,
)
def original(sha256: Sha, request: Request, db: Db, store: Store, user: CurrentUser) -> Response:
    obj = _object(request, db, user, sha256, Variant.ORIGINAL, None, None)
    ext = EXTENSIONS.get(obj.mime, "bin")
    return _send(request, store, obj.sha256, obj.mime, f'attachment; filename="{sha256}.{ext}"')


# ---- a case's gallery -----------------------------------------------------------------------------------


def _page(db: Db, case: Case, user: User) -> CaseMediaPageOut:
    return CaseMediaPageOut(
        items=case_media.gallery(db, case=case),
        can_add=scope_of(db, user).can_act(bureau_id=case.bureau_id),
    )


@router.get("/api/v1/cases/{case_no}/media", summary="案件的照片、视频（上报照片、处置结果、取证材料）")
def list_case_media(case_no: str, db: Db, user: Staff) -> CaseMediaPageOut:
    case = access.get_case_for_user(db, user=user, case_no=case_no)
    return _page(db, case, user)


@router.post(
    "/api/v1/cases/{case_no}/media",
    summary="为案件添加照片、视频（处置结果或取证；先上传 POST /api/v1/media）",
)
def add_case_media(case_no: str, body: CaseMediaIn, request: Request, db: Db, user: Staff) -> CaseMediaPageOut:
    case = access.get_case_for_user(db, user=user, case_no=case_no, purpose=Purpose.ACT)
    case_media.attach(db, case=case, actor=user, sha256s=body.media, role=media.Role(body.role), note=body.note)
    out = _page(db, case, user)
    commit(request, db)
    return out
