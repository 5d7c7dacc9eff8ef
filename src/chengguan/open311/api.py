"""Open311 GeoReport v2 at ``/open311/v2/``: discovery, services, service definitions, POST and GET requests,
tokens; every resource as ``.json`` or ``.xml``.

Parameters are read here by hand rather than by pydantic so that every refusal is the spec's array of
``{code, description}`` (400, 403 or 404) in the format the caller asked for, never problem+json. These routes
stay out of ``/openapi.json``: their contract is the GeoReport v2 specification (docs/intake.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.routing import Match

from chengguan.http.deps import AppSettings, Db, commit
from chengguan.intake.models import IntakeClient
from chengguan.media import storage
from chengguan.media.checks import Limits
from chengguan.open311 import definitions, views
from chengguan.open311 import service as open311
from chengguan.open311.formats import Format, Open311Error, parse_format, render, render_errors
from chengguan.shared.errors import DomainError, NotFound, PermissionDenied, Unauthenticated
from chengguan.shared.text import find_forbidden

PREFIX = "/open311/v2"
MAX_FIELDS = 100  # form fields one POST may carry
MAX_FIELD_BYTES = 64 * 1024  # one form field (not the media file: the media service bounds that)
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
PHONE = re.compile(r"^\+?\d{5,15}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
REQUEST_ID = re.compile(r"^[0-9A-Za-z\-]{1,32}$")
SERVICE_CODE = re.compile(r"^[0-9A-Za-z]{1,16}$")
TOKEN = re.compile(r"^[0-9A-Za-z]{6,16}$")


def _format_of(request: Request) -> Format:
    try:
        return Format(str(request.path_params.get("fmt", "json")))
    except ValueError:
        return Format.JSON


def _status_of(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionDenied | Unauthenticated):
        return 403
    return 400


class Open311Route(APIRoute):
    """Every refusal in the spec's shape, in the format of the URL (JSON when the format itself is wrong)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            fmt = _format_of(request)
            try:
                return await handler(request)
            except Open311Error as e:
                return render_errors(fmt, e)
            except DomainError as e:
                return render_errors(fmt, Open311Error(_status_of(e), e.detail))
            except RequestValidationError:
                return render_errors(fmt, Open311Error(400, "请求参数不合法"))

        return guarded


router = APIRouter(route_class=Open311Route, tags=["Open311"], include_in_schema=False)


# ---- reading parameters ---------------------------------------------------------------------------------


def _one(source: Any, name: str, max_length: int) -> str | None:
    values = source.getlist(name)
    if len(values) > 1:
        raise Open311Error(400, f"参数 {name} 只能出现一次")
    if not values:
        return None
    value = values[0]
    if not isinstance(value, str):
        raise Open311Error(400, f"参数 {name} 应为文本，不是文件")
    value = value.strip()
    if len(value) > max_length:
        raise Open311Error(400, f"参数 {name} 不能超过 {max_length} 个字符")
    char = find_forbidden(value)
    if char is not None:
        raise Open311Error(400, f"参数 {name} 不能包含控制字符（U+{ord(char):04X}）")
    return value or None


def _coordinate(source: Any, name: str, bound: float) -> float | None:
    text = _one(source, name, 32)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Open311Error(400, f"参数 {name} 应为数字（WGS84 十进制度），收到「{text}」") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise Open311Error(400, f"参数 {name} 超出范围（-{bound:g} 至 {bound:g}）")
    return value


def _list(source: Any, name: str, pattern: re.Pattern[str], limit: int) -> tuple[str, ...]:
    text = _one(source, name, limit * 34)
    if text is None:
        return ()
    items = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if len(items) > limit:
        raise Open311Error(400, f"参数 {name} 最多 {limit} 项")
    bad = next((i for i in items if not pattern.match(i)), None)
    if bad is not None:
        raise Open311Error(400, f"参数 {name} 中的取值不合法：{bad[:32]}")
    return items


def _date(source: Any, name: str) -> datetime | None:
    text = _one(source, name, 40)
    if text is None:
        return None
    try:
        return definitions.parse_datetime(text, f"参数 {name} ")
    except definitions.InvalidAnswer as e:
        raise Open311Error(400, str(e)) from None


def _int(source: Any, name: str, default: int, low: int, high: int) -> int:
    text = _one(source, name, 12)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise Open311Error(400, f"参数 {name} 应为 {low} 至 {high} 的整数")
    return int(text)


def _flag(source: Any, name: str) -> bool:
    text = (_one(source, name, 8) or "false").lower()
    if text not in ("true", "false"):
        raise Open311Error(400, f"参数 {name} 只能是 true 或 false")
    return text == "true"


def _client(db: Db, source: Any, *, required: bool) -> IntakeClient | None:
    key = _one(source, "api_key", 200)
    if key is None:
        if required:
            raise Open311Error(403, "缺少 api_key：提交问题需要接入应用的 api_key")
        return None
    return open311.client_for_key(db, api_key=key)


def _jurisdiction(db: Db, source: Any, client: IntakeClient | None) -> open311.Jurisdiction:
    return open311.jurisdiction_of(db, jurisdiction_id=_one(source, "jurisdiction_id", 32), client=client)


async def read_form(request: Request) -> FormData:
    """The POST's form (url-encoded, or multipart with at most one file), bounded in fields and sizes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, "请以表单提交（application/x-www-form-urlencoded 或 multipart/form-data）")
    try:
        return await request.form(max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
    except HTTPException:
        raise Open311Error(
            400, f"表单无法解析：格式不正确、超过 {MAX_FIELDS} 个字段、多于 1 个文件，或某个字段超过 64 KB"
        ) from None


Form = Annotated[FormData, Depends(read_form)]


def _attributes(form: FormData) -> dict[str, list[str]]:
    """``attribute[CODE]=v`` and, for a multivaluelist, ``attribute[CODE][]=v1&attribute[CODE][]=v2``."""
    answers: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        match = ATTRIBUTE.match(key)
        if match is None:
            if key.startswith("attribute"):
                raise Open311Error(400, f"无法识别的属性参数：{key[:80]}")
            continue
        if not isinstance(value, str) or len(value) > definitions.MAX_LENGTH["text"]:
            raise Open311Error(400, f"参数 {key[:80]} 应为不超过 2000 字的文本")
        answers.setdefault(match.group(1), []).append(value)
    return answers


def read_request(form: FormData, *, limit: int) -> open311.NewRequest:
    """A POST's fields, each checked for form and bounds (the service definition checks the attributes);
    ``limit``: the largest photo or video accepted, in bytes."""
    service_code = _one(form, "service_code", 16)
    if service_code is None:
        raise Open311Error(400, "缺少 service_code")
    phone = _one(form, "phone", 32)
    if phone is not None:
        phone = re.sub(r"[\s\-()（）.]", "", phone)
        if not PHONE.match(phone):
            raise Open311Error(400, "phone 格式不正确：应为 5–15 位数字，可带 + 号")
    email = _one(form, "email", 254)
    if email is not None and not EMAIL.match(email):
        raise Open311Error(400, "email 格式不正确")
    media_url = _one(form, "media_url", 500)
    if media_url is not None:
        parts = urlsplit(media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Open311Error(400, "media_url 应为 http 或 https 地址")
    return open311.NewRequest(
        service_code=service_code,
        lat=_coordinate(form, "lat", 90),
        long=_coordinate(form, "long", 180),
        address_string=_one(form, "address_string", 200),
        address_id=_one(form, "address_id", 64),
        attributes=_attributes(form),
        email=email,
        device_id=_one(form, "device_id", 64),
        account_id=_one(form, "account_id", 64),
        first_name=_one(form, "first_name", 32),
        last_name=_one(form, "last_name", 32),
        phone=phone,
        description=_one(form, "description", 2000),
        media_url=media_url,
        media=_upload(form, limit),
    )


def _upload(form: FormData, limit: int) -> bytes | None:
    """The photo or video sent as the multipart field ``media`` (the usual extension), read up to ``limit``
    bytes and one more, so that the media service refuses an oversized one with its own message."""
    parts = form.getlist("media")
    if not parts:
        return None
    if len(parts) > 1:
        raise Open311Error(400, "参数 media 只能出现一次（一个照片或视频）")
    part = parts[0]
    if isinstance(part, str):
        if part.strip():
            raise Open311Error(400, "media 应为上传的文件（multipart/form-data）；图片链接请用 media_url")
        return None
    assert isinstance(part, UploadFile)
    data = part.file.read(limit + 1)
    if not data and not part.filename:
        return None  # an empty file input of an HTML form
    return data


# ---- routes ---------------------------------------------------------------------------------------------


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get(PREFIX + "/discovery.{fmt}")
def discovery(fmt: str, request: Request, settings: AppSettings) -> Response:
    f = parse_format(fmt)
    url = _base(request) + PREFIX
    return render(f, views.discovery(url, production=settings.env == "prod"), root="discovery")


@router.get(PREFIX + "/services.{fmt}")
def services(fmt: str, request: Request, db: Db) -> Response:
    f = parse_format(fmt)
    params = request.query_params
    where = _jurisdiction(db, params, _client(db, params, required=False))
    specs = definitions.load()
    rows = [views.service_row(m, specs.for_service(m.code)) for m in open311.services(db, jurisdiction=where)]
    return render(f, rows, root="services", item="service")


@router.get(PREFIX + "/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: str, request: Request, db: Db) -> Response:
    f = parse_format(fmt)
    if not SERVICE_CODE.match(service_code):
        raise Open311Error(404, f"service_code 不存在：{service_code[:32]}")
    params = request.query_params
    where = _jurisdiction(db, params, _client(db, params, required=False))
    minor = open311.service(db, jurisdiction=where, service_code=service_code)
    body = views.definition(minor, definitions.load().for_service(minor.code))
    return render(f, body, root="service_definition")


@router.post(PREFIX + "/requests.{fmt}")
def create_request(fmt: str, request: Request, db: Db, form: Form, settings: AppSettings) -> Response:
    """Answered with the service request id when processing decided at once (the embedded default runs it
    right after the commit), else with a token; either way the report is stored before the answer."""
    f = parse_format(fmt)
    client = _client(db, form, required=True)
    assert client is not None
    where = _jurisdiction(db, form, client)
    limits = Limits.from_settings(settings)
    new = read_request(form, limit=limits.max_upload_bytes)
    uploads = open311.Uploads(storage=storage.from_settings(settings), limits=limits) if new.media else None
    report = open311.submit(db, client=client, jurisdiction=where, new=new, uploads=uploads)
    commit(request, db)  # stored; processing runs after the commit
    db.refresh(report)
    body = views.posted(open311.request_id_of(db, report), report, new.account_id)
    return render(f, [body], root="service_requests", item="request", status=201)


@router.get(PREFIX + "/requests.{fmt}")
def list_requests(fmt: str, request: Request, db: Db) -> Response:
    f = parse_format(fmt)
    params = request.query_params
    where = _jurisdiction(db, params, _client(db, params, required=False))
    notes = _flag(params, "extensions")
    most = open311.MAX_WITH_NOTES if notes else open311.MAX_REQUESTS  # each request's timeline costs reads
    query = open311.RequestQuery(
        ids=_list(params, "service_request_id", REQUEST_ID, most),
        service_codes=_list(params, "service_code", SERVICE_CODE, 100),
        start=_date(params, "start_date"),
        end=_date(params, "end_date"),
        statuses=_statuses(params),
        page=_int(params, "page", 1, 1, 100_000),
        page_size=_int(params, "page_size", most, 1, most),
        extensions=notes,
    )
    found = open311.find(db, jurisdiction=where, query=query)
    rows = views.requests(db, found, notes=query.extensions, base=_base(request))
    return render(f, rows, root="service_requests", item="request")


def _statuses(params: Any) -> tuple[str, ...]:
    statuses = _list(params, "status", re.compile(r"^[a-z]{1,10}$"), 2)
    if not set(statuses) <= {"open", "closed"}:
        raise Open311Error(400, "参数 status 只能是 open、closed 或两者（逗号分隔）")
    return statuses


@router.get(PREFIX + "/requests/{service_request_id}.{fmt}")
def get_request(service_request_id: str, fmt: str, request: Request, db: Db) -> Response:
    f = parse_format(fmt)
    if not REQUEST_ID.match(service_request_id):
        raise Open311Error(404, f"service_request_id 不存在：{service_request_id[:32]}")
    params = request.query_params
    where = _jurisdiction(db, params, _client(db, params, required=False))
    notes = _flag(params, "extensions")
    found = open311.find_one(db, jurisdiction=where, request_id=service_request_id, extensions=notes)
    return render(
        f, views.requests(db, found, notes=notes, base=_base(request)), root="service_requests", item="request"
    )


@router.get(PREFIX + "/tokens/{token}.{fmt}")
def get_token(token: str, fmt: str, db: Db) -> Response:
    f = parse_format(fmt)
    if not TOKEN.match(token):
        raise Open311Error(404, f"token 不存在：{token[:32]}")
    report = open311.report_by_token(db, token=token)
    body = views.token(report, open311.request_id_of(db, report))
    return render(f, [body], root="service_requests", item="request")


METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route(PREFIX + "/{rest:path}", methods=METHODS)
def elsewhere(rest: str, request: Request) -> Response:
    """Anything else under the prefix: 405 with ``Allow`` on a resource asked with the wrong method, else 404;
    both in the spec's shape (JSON, or XML when the path ends in ``.xml``)."""
    fmt = Format.XML if rest.endswith(".xml") else Format.JSON
    allowed = sorted(
        {
            m
            for r in router.routes
            if isinstance(r, APIRoute) and r.endpoint is not elsewhere
            for m in (r.methods or ())
            if r.matches(request.scope)[0] is Match.PARTIAL
        }
    )
    if allowed:
        error = Open311Error(
            405, f"该地址不支持 {request.method}，可用：{', '.join(allowed)}", headers={"Allow": ", ".join(allowed)}
        )
        return render_errors(fmt, error)
    return render_errors(fmt, Open311Error(404, f"没有这个 Open311 资源：{PREFIX}/{rest[:80]}"))
