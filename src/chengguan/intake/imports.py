"""The 12345 importer: work-order exports (CSV, JSON, XLSX) → reports, fast.

A file is read (``intake.tables``), its columns are mapped onto our fields (a default that knows the usual
Chinese headers of 12345 exports, or a mapping of the bureau's own: a YAML/JSON file, or ``--map
工单编号=external_id,来电时间=called_at``), every row is validated with a per-row, per-field zh-CN message,
the rows are located — on PostgreSQL in one spatial join per chunk of 10,000 rows — and stored (``COPY`` and
one ``INSERT … SELECT`` per chunk on PostgreSQL, multi-row INSERTs elsewhere) with their processing queued: one
``intake.import`` outbox message per chunk, which a worker fans out into the ``intake.report`` message
``intake.service.submit`` queues for a single report. A bad row is reported and left out; the rest of the file
lands (a row is its report and its queued processing, written together or not at all). With ``strict`` a
file with any bad row is refused whole and nothing is stored. Orders already imported (same client, same
order number) are recognised and not stored twice, so importing the same file again stores nothing new.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chengguan.cases.channels import Channel
from chengguan.catalog import service as catalog
from chengguan.geo import service as geo
from chengguan.identity import access
from chengguan.intake import gazetteer
from chengguan.intake.models import IntakeClient, Report
from chengguan.intake.service import MAX_TEXT, TOPIC, TRACKING_ALPHABET, TRACKING_LENGTH
from chengguan.intake.states import ReportStatus
from chengguan.intake.tables import TableStream, stream_table
from chengguan.jobs import outbox
from chengguan.jobs.models import OutboxMessage
from chengguan.shared.clock import BUREAU_TZ, utcnow
from chengguan.shared.coords import CRS, to_wgs84
from chengguan.shared.errors import ValidationFailed
from chengguan.shared.text import describe, find_forbidden

# Our fields and how people call them.
FIELDS: dict[str, str] = {
    "order_no": "工单编号",
    "called_at": "来电时间",
    "content": "诉求内容",
    "title": "工单标题",
    "address": "事发地址",
    "caller_name": "来电人",
    "caller_phone": "联系电话",
    "lon": "经度",
    "lat": "纬度",
    "crs": "坐标系",
    "category_code": "小类编码",
}
REQUIRED = ("order_no", "called_at", "content")
# Other names a mapping may use for our fields (the platform's own words elsewhere: external_id, text ...).
ALIASES: dict[str, str] = {
    "external_id": "order_no",
    "text": "content",
    "description": "content",
    "occurred_at": "called_at",
    "reporter_name": "caller_name",
    "reporter_phone": "caller_phone",
    "category": "category_code",
}
# Their column → our field: the headers common 12345 exports use (and our own field names).
DEFAULT_COLUMNS: dict[str, str] = {
    **{name: name for name in FIELDS},
    **{
        header: target
        for target, headers in {
            "order_no": ("工单编号", "工单号", "受理编号", "工单流水号", "编号"),
            "called_at": ("来电时间", "受理时间", "登记时间", "创建时间", "派单时间"),
            "content": ("诉求内容", "来电内容", "反映内容", "问题描述", "工单内容", "诉求描述"),
            "title": ("工单标题", "诉求标题", "标题"),
            "address": ("事发地址", "事发地点", "事件地址", "发生地址", "问题地址", "地址"),
            "caller_name": ("来电人", "来电人姓名", "诉求人", "联系人", "市民姓名"),
            "caller_phone": ("联系电话", "来电号码", "联系方式", "诉求人电话", "电话"),
            "lon": ("经度",),
            "lat": ("纬度",),
            "crs": ("坐标系",),
            "category_code": ("小类编码", "问题小类编码", "类别编码"),
        }.items()
        for header in headers
    },
}
ORDER_NO = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_\-./:#]{0,63}$")
PHONE = re.compile(r"^\+?\d{5,15}$")
CATEGORY = re.compile(r"^[0-9A-Za-z]{2,16}$")
CRS_NAMES = {
    "wgs84": CRS.WGS84,
    "wgs-84": CRS.WGS84,
    "gps": CRS.WGS84,
    "gcj02": CRS.GCJ02,
    "gcj-02": CRS.GCJ02,
    "国测局": CRS.GCJ02,
    "火星坐标": CRS.GCJ02,
    "bd09": CRS.BD09,
    "bd-09": CRS.BD09,
    "百度": CRS.BD09,
}
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H时%M分",
    "%Y%m%d%H%M%S",
    "%m/%d/%Y %I:%M:%S %p",  # exports of US 311 systems
    "%m/%d/%Y %H:%M",
)
US_TIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) ([AaPp][Mm])$")
EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 - Excel's day 0, local time as the sheet wrote it
MAX_MAPPING = 16 * 1024
MAX_ERRORS_SHOWN = 200
MAX_MAP_ITEMS = 64
BATCH = 2000  # rows per INSERT batch (SQLite)
CHUNK = 10_000  # rows validated, located and stored at a time (a pipeline on PostgreSQL)
CHUNK_TOPIC = "intake.import"  # one outbox message per stored chunk: its reports' processing, fanned out later
FAN_OUT = 500  # reports whose processing one run of a chunk message queues
T = TypeVar("T")


class ImportRefused(ValidationFailed):
    code = "import-refused"
    title = "导入文件有错误，未导入任何工单"


@dataclass(frozen=True)
class ColumnMapping:
    """Their column names → our fields, the CRS of coordinates without a 坐标系 column, an XLSX sheet."""

    columns: Mapping[str, str]
    crs: CRS = CRS.WGS84
    sheet: str | None = None
    explicit: bool = False  # a bureau's own mapping: two columns for one field is a mistake, not a synonym
    tz: tzinfo = BUREAU_TZ  # the local time of times written without an offset


DEFAULT_MAPPING = ColumnMapping(columns=DEFAULT_COLUMNS)


def load_mapping(source: str) -> ColumnMapping:
    """A mapping file (YAML or JSON)::

    columns:          # their column: our field
      受理单号: order_no
      反映时间: called_at
    crs: gcj02        # coordinates without a 坐标系 column
    sheet: 工单明细    # XLSX only: the sheet to read (default: the first)
    timezone: Asia/Shanghai   # times written without an offset (default: the bureau's, Asia/Shanghai)
    """
    if len(source) > MAX_MAPPING:
        raise ValidationFailed(f"列映射最多 {MAX_MAPPING // 1024} KB")
    try:
        data = yaml.safe_load(source) if source.strip() else None
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"列映射不是合法的 YAML/JSON：{exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict) or not data["columns"]:
        raise ValidationFailed("列映射应为对象，含 columns（原文件列名: 字段名），如 {columns: {受理单号: order_no}}")
    unknown_keys = set(data) - {"columns", "crs", "sheet", "timezone"}
    if unknown_keys:
        raise ValidationFailed(
            f"列映射含未知的键：{'、'.join(sorted(map(str, unknown_keys)))}（可用 columns、crs、sheet、timezone）"
        )
    columns = _targets(data["columns"].items())
    crs = _crs(data.get("crs")) if data.get("crs") is not None else CRS.WGS84
    if crs is None:
        raise ValidationFailed("列映射的 crs 只能是 wgs84、gcj02 或 bd09")
    sheet = data.get("sheet")
    if sheet is not None and (not isinstance(sheet, str) or len(sheet) > 100):
        raise ValidationFailed("列映射的 sheet 应为工作表名称")
    return ColumnMapping(columns=columns, crs=crs, sheet=sheet, explicit=True, tz=_zone(data.get("timezone")))


def parse_map(
    spec: str, *, crs: str | None = None, sheet: str | None = None, timezone: str | None = None
) -> ColumnMapping:
    """A mapping written on the command line: ``工单编号=external_id,来电时间=called_at,诉求内容=content``."""
    if len(spec) > MAX_MAPPING:
        raise ValidationFailed(f"列映射最多 {MAX_MAPPING // 1024} KB")
    pairs = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        column, sep, target = item.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise ValidationFailed(f"列映射「{item}」应写成 原列名=字段名，如 工单编号=external_id")
        pairs.append((column.strip(), target.strip()))
    if not pairs:
        raise ValidationFailed("列映射为空，应写成 原列名=字段名,原列名=字段名")
    if len(pairs) > MAX_MAP_ITEMS:
        raise ValidationFailed(f"列映射最多 {MAX_MAP_ITEMS} 项")
    found = _crs(crs) if crs is not None else CRS.WGS84
    if found is None:
        raise ValidationFailed("坐标系只能是 wgs84、gcj02 或 bd09")
    return ColumnMapping(columns=_targets(pairs), crs=found, sheet=sheet, explicit=True, tz=_zone(timezone))


def _targets(pairs: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    columns: dict[str, str] = {}
    for column, target in pairs:
        name = ALIASES.get(str(target), str(target))
        if name not in FIELDS:
            allowed = "、".join(f"{k}（{v}）" for k, v in FIELDS.items())
            raise ValidationFailed(f"列映射中「{column}」对应的字段 {target!r} 不存在；可用字段：{allowed}")
        columns[str(column).strip()] = name
    return columns


def _zone(name: Any) -> tzinfo:
    if name is None:
        return BUREAU_TZ
    if not isinstance(name, str) or len(name) > 64:
        raise ValidationFailed("时区应为 IANA 时区名，如 Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"未知的时区：{name}（应为 IANA 时区名，如 Asia/Shanghai）") from exc


# ---- rows ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # the row number people see in the file (CSV/XLSX: the header is row 1; JSON: the n-th object)
    column: str | None  # their column name
    message: str

    def location(self) -> str:
        return f"row[{self.row}]" + (f".{self.column}" if self.column else "")


@dataclass
class Order:
    """One validated work order, as it will be stored."""

    row: int
    order_no: str
    called_at: datetime
    content: str
    title: str | None = None
    address: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    lon: float | None = None  # WGS84
    lat: float | None = None
    crs: CRS = CRS.WGS84  # as given
    category_code: str | None = None
    bureau_id: int | None = None
    grid_id: int | None = None
    location_source: str | None = None
    location_note: str | None = None


def _plain(value: Any) -> str | None:
    """A cell as text: numbers from spreadsheets without a spurious ``.0``; empty cells as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        value = int(value)
    out = str(value).strip()
    return out or None


def _crs(value: Any) -> CRS | None:
    return CRS_NAMES.get(str(value).strip().lower().replace(" ", "")) if value is not None else None


def _time(
    value: Any,
    now: datetime,
    tz: tzinfo = BUREAU_TZ,
    formats: list[str] | None = None,
    offsets: dict[tuple[int, int, int, int], timedelta | None] | None = None,
) -> datetime:
    """Local (``tz``, Asia/Shanghai by default) unless the value says its offset; 2000–2099, not in the future.

    ``formats`` is the order to try the written formats in; the one that matched moves to the front, so a
    file's rows (which share one format) are parsed by the first attempt (``strptime`` keeps only a handful of
    compiled formats: trying them all on every row would recompile them every time). ``offsets`` caches the
    zone's offset per local hour (see ``_local_to_utc``)."""
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool) and 36526 <= value < 73051:
        moment = EXCEL_EPOCH + timedelta(days=float(value))  # an Excel serial date (2000–2099)
    else:
        raw = _plain(value) or ""
        us = US_TIME.match(raw)
        try:
            if us is not None:  # the common US export shape, without strptime (fast on a 100k-row file)
                month, day, year, hour, minute, second, half = us.groups()
                if not 1 <= int(hour) <= 12:
                    raise ValueError(hour)
                h = int(hour) % 12 + (12 if half.upper() == "PM" else 0)
                moment = datetime(int(year), int(month), int(day), h, int(minute), int(second))  # noqa: DTZ001
            else:
                moment = datetime.fromisoformat(raw)
        except ValueError:
            order = formats if formats is not None else list(TIME_FORMATS)
            for i, fmt in enumerate(order):
                try:
                    moment = datetime.strptime(raw, fmt)  # noqa: DTZ007 - local time, zone added below
                except ValueError:
                    continue
                if i:
                    order.insert(0, order.pop(i))
                break
    if moment is None:
        raise ValueError("无法识别的时间，应如 2026-03-01 08:30:00")
    if not 2000 <= moment.year <= 2099:
        raise ValueError("时间应在 2000 至 2099 年之间")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz) if offsets is None else _local_to_utc(moment, tz, offsets)
    if moment > now + timedelta(hours=1):
        raise ValueError("时间不能晚于当前时间")
    return moment.astimezone(UTC)


def _local_to_utc(moment: datetime, tz: tzinfo, offsets: dict[tuple[int, int, int, int], timedelta | None]) -> datetime:
    """``moment.replace(tzinfo=tz)`` in UTC, the zone's offset looked up once per local hour: an hour whose
    first and last instants have the same offset has it throughout (a DST change inside it, None, is worked
    out exactly, as ``astimezone`` does)."""
    key = (moment.year, moment.month, moment.day, moment.hour)
    if key not in offsets:
        start = moment.replace(minute=0, second=0, microsecond=0, tzinfo=tz)
        first = start.utcoffset()
        offsets[key] = first if first == (start + timedelta(minutes=59, seconds=59.999999)).utcoffset() else None
    offset = offsets[key]
    if offset is None:
        return moment.replace(tzinfo=tz).astimezone(UTC)
    return (moment - offset).replace(tzinfo=UTC)


def _number(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise ValueError("应为数字")
    try:
        number = float(value if isinstance(value, int | float) else str(value).strip())
    except ValueError as exc:
        raise ValueError("应为数字") from exc
    if not low <= number <= high:  # also refuses NaN
        raise ValueError(f"应在 {low:g} 到 {high:g} 之间")
    return number


def _checked_text(value: Any, limit: int) -> str | None:
    out = _plain(value)
    if out is None:
        return None
    bad = find_forbidden(out)
    if bad is not None:
        raise ValueError(f"不能包含控制字符或双向文本控制符（{describe(bad)}）")
    if len(out) > limit:
        raise ValueError(f"最多 {limit} 个字符（现有 {len(out)} 个）")
    return out


def validate_row(
    values: Mapping[str, Any],
    *,
    row: int,
    columns: Mapping[str, str],
    default_crs: CRS,
    now: datetime,
    tz: tzinfo = BUREAU_TZ,
    formats: list[str] | None = None,
) -> tuple[Order | None, list[RowError]]:
    """One row's values by our field → an ``Order``, or the errors of each field (``columns``: field → their
    column name, for the messages)."""
    errors: list[RowError] = []
    got: dict[str, Any] = {}

    def fail(name: str, message: str) -> None:
        errors.append(RowError(row, columns.get(name, FIELDS[name]), f"{FIELDS[name]}：{message}"))

    for name, limit in (("content", MAX_TEXT), ("title", 100), ("address", 200), ("caller_name", 64)):
        try:
            got[name] = _checked_text(values.get(name), limit)
        except ValueError as exc:
            fail(name, str(exc))
    order_no = _plain(values.get("order_no"))
    if order_no is not None and not ORDER_NO.match(order_no):
        fail("order_no", "只能含字母、数字和 _ - . / : #，以字母或数字开头，最多 64 个字符")
    got["order_no"] = order_no
    if order_no is None:
        fail("order_no", "必填，不能为空")
    if got.get("content") is None and "content" in got:
        fail("content", "必填，不能为空")
    if _plain(values.get("called_at")) is None:
        fail("called_at", "必填，不能为空")
    else:
        try:
            got["called_at"] = _time(values["called_at"], now, tz, formats)
        except ValueError as exc:
            fail("called_at", str(exc))
    phone = _plain(values.get("caller_phone"))
    if phone is not None:
        phone = re.sub(r"[\s\-()（）]", "", phone)
        if not PHONE.match(phone):
            fail("caller_phone", "格式不正确（应为 5–15 位数字，可带 +）")
    got["caller_phone"] = phone
    code = _plain(values.get("category_code"))
    if code is not None and not CATEGORY.match(code):
        fail("category_code", "格式不正确（应为 2–16 位字母或数字，如 0501）")
    got["category_code"] = code
    crs = default_crs
    if values.get("crs") is not None:
        found = _crs(values["crs"])
        if found is None:
            fail("crs", "只能是 wgs84、gcj02 或 bd09")
        else:
            crs = found
    lon, lat = values.get("lon"), values.get("lat")
    lon, lat = (None if _plain(lon) is None else lon), (None if _plain(lat) is None else lat)
    if (lon is None) != (lat is None):
        fail("lat" if lat is None else "lon", "经度和纬度必须同时填写")
    elif lon is not None:
        try:
            got["lon"] = _number(lon, -180, 180)
        except ValueError as exc:
            fail("lon", str(exc))
        try:
            got["lat"] = _number(lat, -90, 90)
        except ValueError as exc:
            fail("lat", str(exc))
    if lon is None and lat is None and not got.get("address"):
        fail("address", "事发地址和经纬度至少填写一项")
    if errors:
        return None, errors
    order = Order(
        row=row,
        order_no=got["order_no"],
        called_at=got["called_at"],
        content=got["content"],
        title=got.get("title"),
        address=got.get("address"),
        caller_name=got.get("caller_name"),
        caller_phone=phone,
        crs=crs,
        category_code=code,
    )
    if "lon" in got:
        order.lon, order.lat = to_wgs84(got["lon"], got["lat"], crs)
    return order, []


def map_columns(headers: Sequence[str], mapping: ColumnMapping) -> tuple[dict[int, str], dict[str, str]]:
    """Which column index feeds which field, and field → their column name; a file without a required
    column is refused with the columns it does have."""
    by_index: dict[int, str] = {}
    names: dict[str, str] = {}
    for i, header in enumerate(headers):
        target = mapping.columns.get(header.strip())
        if target is None:
            continue
        if target in names:
            if mapping.explicit:
                raise ValidationFailed(f"列「{names[target]}」和「{header}」都对应字段 {target}，请只保留一列")
            continue  # a synonym of a column already used: the first one wins
        by_index[i] = target
        names[target] = header.strip()
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        need = "、".join(f"{FIELDS[f]}（{f}）" for f in missing)
        seen = "、".join(h for h in headers[:30] if h) or "（无）"
        raise ValidationFailed(
            f"文件缺少必需的列：{need}。文件中的列：{seen}。可用列映射（--map 或 --mapping）指定列名的对应关系"
        )
    if not ({"address", "lon"} & set(names)):
        raise ValidationFailed("文件既没有事发地址列，也没有经纬度列，无法定位")
    return by_index, names


# ---- the import ---------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    fmt: str
    encoding: str | None
    file_sha256: str
    columns: dict[str, str]  # field → their column
    rows: int = 0
    stored: int = 0
    replayed: int = 0
    invalid_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase


def import_orders(
    session: Session,
    *,
    client: IntakeClient,
    data: bytes,
    filename: str | None = None,
    mapping: ColumnMapping | None = None,
    strict: bool = False,
    encoding: str | None = None,
    at: datetime | None = None,
) -> ImportResult:
    """Validate, locate and store a 12345 export for ``client``: bad rows are reported (``result.errors``)
    and left out, the rest is stored; with ``strict``, ``ImportRefused`` (nothing stored) when a row is bad."""
    if client.channel != Channel.HOTLINE_12345.value:
        raise ValidationFailed(f"客户端 {client.code} 不是 12345 热线渠道，不能导入热线工单")
    at = at or utcnow()
    mapping = mapping or DEFAULT_MAPPING
    del filename  # the bytes decide the format; the name is only what people called the file
    clock = time.perf_counter()
    table = stream_table(data, size=CHUNK, sheet=mapping.sheet, encoding=encoding)
    by_index, names = map_columns(table.headers, mapping)
    result = ImportResult(
        fmt=table.fmt, encoding=table.encoding, file_sha256=hashlib.sha256(data).hexdigest(), columns=names
    )
    result.timings["read"] = time.perf_counter() - clock

    with _without_jit(session):
        _run(
            session,
            client=client,
            table=table,
            by_index=by_index,
            names=names,
            mapping=mapping,
            strict=strict,
            at=at,
            result=result,
        )
    return result


@contextmanager
def _without_jit(session: Session) -> Iterator[None]:
    """PostgreSQL compiles a statement its planner thinks costly (a chunk's spatial join) with LLVM before
    running it: 50–200 ms each time, more than the join itself takes. Off during the import, then back as it
    was (``set_config`` local to the caller's transaction)."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.scalar(text("SELECT current_setting('jit')"))
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    yield
    session.execute(text("SELECT set_config('jit', :before, true)"), {"before": before})


def _run(
    session: Session,
    *,
    client: IntakeClient,
    table: TableStream,
    by_index: Mapping[int, str],
    names: Mapping[str, str],
    mapping: ColumnMapping,
    strict: bool,
    at: datetime,
    result: ImportResult,
) -> None:
    """Validate, place and store the table's rows into ``result``: whole (``strict``) or chunk by chunk."""
    scope = access.bureau_scope_ids(session, bureau_id=client.bureau_id)
    source = result.file_sha256[:16]
    seen: dict[str, int] = {}
    formats = list(TIME_FORMATS)

    def read() -> tuple[list[list[Any]], list[int]] | None:
        clock = time.perf_counter()
        chunk = next(table.chunks, None)
        _add(result.timings, "read", clock)
        result.rows += len(chunk[0]) if chunk is not None else 0
        return chunk

    def validate(rows: list[list[Any]], numbers: list[int]) -> list[Order]:
        clock = time.perf_counter()
        orders, errors = _validate(rows, numbers, table.fmt, by_index, names, mapping, at, seen=seen, formats=formats)
        result.errors += errors
        _add(result.timings, "validate", clock)
        return orders

    def place(orders: list[Order]) -> tuple[list[Order], list[RowError]]:
        clock = time.perf_counter()
        errors = _locate(session, orders, scope, names) + _check_categories(session, orders, names)
        _add(result.timings, "locate", clock)
        bad = {e.row for e in errors}
        return [o for o in orders if o.row not in bad], errors

    def store(orders: list[Order]) -> tuple[int, int]:
        clock = time.perf_counter()
        done = store_orders(session, client=client, orders=orders, at=at, source=source)
        _add(result.timings, "store", clock)
        return done

    def place_and_store(orders: list[Order]) -> tuple[int, int, list[RowError]]:
        placed, errors = place(orders)
        return (*store(placed), errors)

    def prepare(orders: list[Order]) -> tuple[list[Order], str]:
        """PostgreSQL: the orders with a point become staging text here (placed later by the database, in
        one join with the store); the others (an address to look up) are left for ``place_and_store_pg``."""
        clock = time.perf_counter()
        pinned = [o for o in orders if o.lon is not None]
        for order in pinned:
            order.location_source = "gps"
        text_ = stage_text(pinned, source)
        _add(result.timings, "prepare", clock)
        return [o for o in orders if o.lon is None], text_

    def place_and_store_pg(others: list[Order], pinned: str) -> tuple[int, int, list[RowError]]:
        placed, errors = place(others)
        clock = time.perf_counter()
        staged = [pinned, stage_text(placed, source)]
        stored, replayed, more = _store_pg(session, client=client, staged=staged, at=at, scope=scope, names=names)
        _add(result.timings, "store", clock)
        return stored, replayed, errors + more

    if strict:  # everything is checked before anything is stored
        orders: list[Order] = []
        while (chunk := read()) is not None:
            orders += validate(*chunk)
        placed, errors = place(orders)
        result.errors += errors
        _finish_errors(result)
        if result.errors:
            shown = result.errors[:MAX_ERRORS_SHOWN]
            raise ImportRefused(
                f"共 {result.rows} 行，其中 {result.invalid_rows} 行有错误，整个文件未导入（改正后重新导入，"
                f"或不选“严格模式”以导入其余各行）。第一处：{shown[0].location()}：{shown[0].message}",
                errors=[{"location": e.location(), "message": e.message, "type": "invalid_row"} for e in shown],
                error_count=len(result.errors),
                invalid_rows=result.invalid_rows,
                rows=result.rows,
            )
        result.stored, result.replayed = store(placed)
        return
    # Chunks in a pipeline: while the database locates and stores one chunk (in a second thread: the server
    # works on the other core), this thread reads and validates the next. SQLite's connection stays in its
    # thread. A file that turns out unreadable part-way raises here, and the caller's transaction is lost.
    chunk = read()
    pg = session.get_bind().dialect.name == "postgresql"
    threaded = pg and chunk is not None and len(chunk[0]) >= CHUNK
    with ThreadPoolExecutor(max_workers=1) if threaded else _Inline() as pool:
        pending: list[Future[tuple[int, int, list[RowError]]]] = []
        try:
            while chunk is not None:
                orders = validate(*chunk)
                if pg:
                    pending.append(pool.submit(place_and_store_pg, *prepare(orders)))
                else:
                    pending.append(pool.submit(place_and_store, orders))
                chunk = read()
            for future in pending:
                stored, replayed, errors = future.result()
                result.stored += stored
                result.replayed += replayed
                result.errors += errors
        except BaseException:
            for future in pending:
                future.cancel()  # the transaction is lost: chunks not yet started do not start
            raise
    _finish_errors(result)


def _add(timings: dict[str, float], phase: str, since: float) -> None:
    """Seconds spent per phase (in a pipeline the phases overlap, so they add up to more than the wall time)."""
    timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - since


def _finish_errors(result: ImportResult) -> None:
    result.errors.sort(key=lambda e: e.row)
    result.invalid_rows = len({e.row for e in result.errors})


class _Inline:
    """An executor that runs each task at once, in this thread."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        future.set_result(fn(*args))
        return future


def _validate(
    rows: list[list[Any]],
    numbers: list[int],
    fmt: str,
    by_index: Mapping[int, str],
    names: Mapping[str, str],
    mapping: ColumnMapping,
    at: datetime,
    *,
    seen: dict[str, int],
    formats: list[str],
) -> tuple[list[Order], list[RowError]]:
    """``rows`` (numbered ``numbers`` in the file) of a table in format ``fmt``; ``seen`` (order number → row)
    carries over from the rows before.

    Text rows (CSV) go through ``_fast_check`` first; a row it does not pass whole is checked again by
    ``validate_row``, which names every mistake, so the answer is the same either way."""
    orders: list[Order] = []
    errors: list[RowError] = []
    first_row = seen
    fast = _fast_check(by_index, mapping, at, formats) if fmt == "csv" else None
    for number, cells in zip(numbers, rows, strict=True):
        order = fast(cells, number) if fast is not None else None
        if order is None:
            values = {target: cells[i] for i, target in by_index.items() if i < len(cells)}
            order, row_errors = validate_row(
                values, row=number, columns=names, default_crs=mapping.crs, now=at, tz=mapping.tz, formats=formats
            )
        else:
            row_errors = []
        if order is not None and order.order_no in first_row:
            row_errors = [RowError(number, names["order_no"], f"工单编号：与第 {first_row[order.order_no]} 行重复")]
            order = None
        if order is None:
            errors.extend(row_errors)
            continue
        first_row[order.order_no] = number
        orders.append(order)
    return orders, errors


def _fast_check(
    by_index: Mapping[int, str], mapping: ColumnMapping, at: datetime, formats: list[str]
) -> Callable[[list[str], int], Order | None]:
    """A check of one row of text cells that only *accepts*: the ``Order`` when every field is plainly valid
    (the common case of a large export), None whenever anything is missing, odd or wrong — that row then goes
    through ``validate_row``, which says what is wrong. Accepting means exactly what ``validate_row`` accepts;
    it is only quicker (no per-field calls, dictionaries or exceptions)."""
    col = {target: i for i, target in by_index.items()}
    width = max(by_index) + 1
    i_no, i_at, i_text = col["order_no"], col["called_at"], col["content"]
    i_title, i_addr, i_name = col.get("title"), col.get("address"), col.get("caller_name")
    i_phone, i_cat, i_crs = col.get("caller_phone"), col.get("category_code"), col.get("crs")
    i_lon, i_lat = col.get("lon"), col.get("lat")
    order_no_ok, phone_ok, category_ok = ORDER_NO.match, PHONE.match, CATEGORY.match
    forbidden = find_forbidden
    default_crs, tz = mapping.crs, mapping.tz
    offsets: dict[tuple[int, int, int, int], timedelta | None] = {}

    def check(cells: list[str], row: int) -> Order | None:
        if len(cells) < width:
            return None
        order_no = cells[i_no].strip()
        content = cells[i_text].strip()
        if not order_no or order_no_ok(order_no) is None or not content or len(content) > MAX_TEXT:
            return None
        title = (cells[i_title].strip() or None) if i_title is not None else None
        address = (cells[i_addr].strip() or None) if i_addr is not None else None
        name = (cells[i_name].strip() or None) if i_name is not None else None
        if (
            (title is not None and len(title) > 100)
            or (address is not None and len(address) > 200)
            or (name is not None and len(name) > 64)
            or forbidden(f"{content}{title or ''}{address or ''}{name or ''}") is not None
        ):
            return None
        phone = (cells[i_phone].strip() or None) if i_phone is not None else None
        if phone is not None and phone_ok(phone) is None:
            return None  # perhaps only spaces or dashes to take out: validate_row does that
        code = (cells[i_cat].strip() or None) if i_cat is not None else None
        if code is not None and category_ok(code) is None:
            return None
        crs = default_crs
        if i_crs is not None:
            found = _crs(cells[i_crs])  # an empty 坐标系 cell is a mistake too (validate_row says so)
            if found is None:
                return None
            crs = found
        raw_lon = cells[i_lon].strip() if i_lon is not None else ""
        raw_lat = cells[i_lat].strip() if i_lat is not None else ""
        lon = lat = None
        if raw_lon or raw_lat:
            try:
                lon, lat = float(raw_lon), float(raw_lat)
            except ValueError:
                return None
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # also refuses NaN
                return None
        elif address is None:
            return None
        raw_at = cells[i_at].strip()
        if not raw_at:
            return None
        try:
            called_at = _time(raw_at, at, tz, formats, offsets)
        except ValueError:
            return None
        order = Order(row, order_no, called_at, content, title, address, name, phone, None, None, crs, code)
        if lon is not None and lat is not None:
            order.lon, order.lat = to_wgs84(lon, lat, crs) if crs is not CRS.WGS84 else (lon, lat)
        return order

    return check


def _locate(session: Session, orders: list[Order], scope: list[int], names: Mapping[str, str]) -> list[RowError]:
    """Place every order: coordinates are located (all at once on PostgreSQL); an address alone is looked up
    in the gazetteer, once per distinct address. A point outside the client's bureaus is a row error."""
    errors: list[RowError] = []
    pinned = [o for o in orders if o.lon is not None and o.lat is not None]
    found = _locate_points(session, pinned, scope)
    for order in pinned:
        where = found.get(order.row)
        if where is None:
            errors.append(
                RowError(
                    order.row,
                    names.get("lon", FIELDS["lon"]),
                    f"经纬度：坐标 ({order.lon:.6f}, {order.lat:.6f}) 不在本平台服务的辖区内",
                )
            )
            continue
        order.bureau_id, order.grid_id = where
        order.location_source = "gps"
    places: dict[str, tuple[float, float, int, int | None, str] | None] = {}
    for order in orders:
        if order.lon is not None or not order.address:
            continue
        if order.address not in places:
            places[order.address] = None
            place = gazetteer.lookup(session, address=order.address, bureau_ids=scope)
            if place is not None:
                spot = geo.locate(session, bureau_ids=scope, lon=place.lon, lat=place.lat)
                if spot is not None:
                    places[order.address] = (place.lon, place.lat, spot.bureau_id, spot.grid_id, place.name)
        hit = places[order.address]
        if hit is None:
            order.location_note = "未能确定位置（没有坐标，地址也未能定位），需人工确认"
            continue
        order.lon, order.lat, order.bureau_id, order.grid_id, name = hit
        order.location_source, order.location_note = "address", f"按地址定位：{name}"
    return errors


def _locate_points(session: Session, orders: Sequence[Order], scope: list[int]) -> dict[int, tuple[int, int | None]]:
    """Row → (bureau, grid) for each order whose point lies in a district of ``scope``."""
    if not orders or not scope:
        return {}
    if session.get_bind().dialect.name != "postgresql":
        out: dict[int, tuple[int, int | None]] = {}
        for o in orders:
            assert o.lon is not None and o.lat is not None
            where = geo.locate(session, bureau_ids=scope, lon=o.lon, lat=o.lat)
            if where is not None:
                out[o.row] = (where.bureau_id, where.grid_id)
        return out
    # One statement for the whole file: the points as arrays, districts and grids by their GiST indexes.
    stmt = text(
        """
        SELECT DISTINCT ON (p.row) p.row, d.bureau_id, g.id
        FROM unnest(:rows, :lons, :lats) AS p(row, lon, lat)
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) AS pt) AS q
        JOIN district d ON d.bureau_id = ANY(:scope) AND ST_Covers(d.geom, q.pt)
        LEFT JOIN unit_grid g ON g.district_id = d.id AND ST_Covers(g.geom, q.pt)
        ORDER BY p.row, d.code, g.code
        """
    ).bindparams(
        bindparam("rows", type_=postgresql.ARRAY(postgresql.INTEGER)),
        bindparam("lons", type_=postgresql.ARRAY(postgresql.DOUBLE_PRECISION)),
        bindparam("lats", type_=postgresql.ARRAY(postgresql.DOUBLE_PRECISION)),
        bindparam("scope", type_=postgresql.ARRAY(postgresql.BIGINT)),
    )
    rows = session.execute(
        stmt,
        {
            "rows": [o.row for o in orders],
            "lons": [o.lon for o in orders],
            "lats": [o.lat for o in orders],
            "scope": scope,
        },
    )
    return {row: (bureau_id, grid_id) for row, bureau_id, grid_id in rows}


def _check_categories(session: Session, orders: list[Order], names: Mapping[str, str]) -> list[RowError]:
    """A 小类 the order names must exist in the catalog of the bureau it was located to."""
    known: dict[int, frozenset[str]] = {}
    errors = []
    for order in orders:
        if order.category_code is None or order.bureau_id is None:
            continue
        if order.bureau_id not in known:
            known[order.bureau_id] = frozenset(
                minor.code
                for major in catalog.list_catalog(session, bureau_id=order.bureau_id)
                for minor in major.minors
            )
        if order.category_code not in known[order.bureau_id]:
            column = names.get("category_code", FIELDS["category_code"])
            errors.append(RowError(order.row, column, f"小类编码：目录中没有小类 {order.category_code}"))
    return errors


def tracking_codes(n: int) -> list[str]:
    """``n`` tracking codes like ``intake.service.new_tracking_code`` makes, from one read of the OS's
    randomness (bytes below 248 = 8 × 31 map evenly onto the 31 letters; the rest are skipped)."""
    alphabet, width = TRACKING_ALPHABET, len(TRACKING_ALPHABET)
    limit = 256 - 256 % width
    out: list[str] = []
    while len(out) < n:
        need = (n - len(out)) * TRACKING_LENGTH
        usable = [b for b in os.urandom(need + need // 8 + 16) if b < limit]
        for i in range(0, len(usable) - TRACKING_LENGTH + 1, TRACKING_LENGTH):
            out.append("".join(alphabet[b % width] for b in usable[i : i + TRACKING_LENGTH]))
            if len(out) == n:
                break
    return out


def store_orders(
    session: Session, *, client: IntakeClient, orders: Sequence[Order], at: datetime, source: str
) -> tuple[int, int]:
    """Store the orders not imported before, with their processing queued: (stored, replayed).

    On PostgreSQL the rows are streamed with ``COPY`` into a temporary table, and one statement moves them
    into ``intake_report`` and queues each stored report's processing in the outbox; elsewhere multi-row
    INSERTs in batches. ``ON CONFLICT DO NOTHING`` on (client, order number) keeps an order that was imported
    before, or that a concurrent import stored first, from being stored twice (it counts as replayed).
    """
    session.flush()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        stored, replayed, _errors = _store_pg(
            session, client=client, staged=[stage_text(orders, source)], at=at, scope=[], names={}
        )
        return stored, replayed
    report_table = Report.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = (
        dialect.insert(report_table)
        .on_conflict_do_nothing(index_elements=["client_id", "external_id"])
        .returning(report_table.c.id, report_table.c.bureau_id)
    )
    stored = 0
    for start in range(0, len(orders), BATCH):
        batch = list(_new_only(session, client, orders[start : start + BATCH]))
        if not batch:
            continue
        codes = tracking_codes(len(batch))
        rows = [_report_row(o, code, client, at, source) for o, code in zip(batch, codes, strict=True)]
        made = [report_id for report_id, _bureau in conn.execute(insert, rows)]
        stored += len(made)
        if made:
            conn.execute(
                OutboxMessage.__table__.insert(),  # type: ignore[attr-defined]
                _chunk_message(client, first=min(made), last=max(made), count=len(made), at=at),
            )
    return stored, len(orders) - stored


def _chunk_message(client: IntakeClient, *, first: int, last: int, count: int, at: datetime) -> dict[str, Any]:
    payload = {"client_id": client.id, "first": first, "last": last, "count": count}
    return {
        "topic": CHUNK_TOPIC,
        "payload": payload,
        "bureau_id": client.bureau_id,
        "created_at": at,
        "available_at": at,
        "attempts": 0,
    }


@outbox.handler(CHUNK_TOPIC)
def queue_chunk(session: Session, payload: dict[str, Any]) -> None:
    """An imported chunk's processing: ``intake.report`` is queued for each of its reports still received
    (the client's reports with ids ``first``…``last``), ``FAN_OUT`` at a time; the rest of the range goes back
    to the outbox as a message of its own, in the same transaction. So each report is processed through
    the path every channel takes (its own message, retries and broker message id), and the import itself
    writes one outbox row per chunk instead of one per report. Running a chunk message twice queues a
    report twice at most, and ``intake.service.process`` processes a report once."""
    client_id, first, last = int(payload["client_id"]), int(payload["first"]), int(payload["last"])
    rows = session.execute(
        select(Report.id, Report.bureau_id)
        .where(Report.client_id == client_id, Report.id.between(first, last))
        .where(Report.status == ReportStatus.RECEIVED.value)
        .order_by(Report.id)
        .limit(FAN_OUT + 1)
    ).all()
    for report_id, bureau_id in rows[:FAN_OUT]:
        outbox.enqueue(session, topic=TOPIC, payload={"report_id": report_id}, bureau_id=bureau_id)
    if len(rows) > FAN_OUT:
        rest = {"client_id": client_id, "first": rows[FAN_OUT][0], "last": last}
        outbox.enqueue(session, topic=CHUNK_TOPIC, payload=rest, bureau_id=None)


_STAGE_COLUMNS = (
    "row_no",
    "tracking_code",
    "external_id",
    "occurred_at",
    "text",
    "claimed_category",
    "lon",
    "lat",
    "crs",
    "address",
    "location_source",
    "location_note",
    "bureau_id",
    "grid_id",
    "reporter_name",
    "reporter_phone",
    "payload",
)
_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS intake_import_stage (
    row_no integer, tracking_code text, external_id text, occurred_at timestamptz, text text, claimed_category text,
    lon double precision, lat double precision, crs text, address text, location_source text,
    location_note text, bureau_id bigint, grid_id bigint, reporter_name text, reporter_phone text, payload jsonb
) ON COMMIT DROP
"""
_MOVE = """
WITH made AS (
    INSERT INTO intake_report (
        tracking_code, external_id, occurred_at, text, claimed_category, lon, lat, crs, address,
        location_source, location_note, bureau_id, grid_id, reporter_name, reporter_phone, payload,
        channel, client_id, received_at, anonymous, trusted, status
    )
    SELECT
        tracking_code, external_id, occurred_at, text, claimed_category, lon, lat, crs, address,
        location_source, location_note, bureau_id, grid_id, reporter_name, reporter_phone, payload,
        %(channel)s, %(client_id)s, %(at)s, false, false, %(status)s
    FROM intake_import_stage
    ON CONFLICT (client_id, external_id) DO NOTHING
    RETURNING id
)
INSERT INTO outbox_message (topic, payload, bureau_id, created_at, available_at, attempts)
SELECT %(topic)s, jsonb_build_object('client_id', %(client_id)s, 'first', min(id), 'last', max(id), 'count', count(*)),
    %(bureau_id)s, %(at)s, %(at)s, 0
FROM made HAVING count(*) > 0
RETURNING (payload ->> 'count')::integer
"""


_PLACE = """
UPDATE intake_import_stage s SET bureau_id = p.bureau_id, grid_id = p.grid_id
FROM (
    SELECT DISTINCT ON (s.row_no) s.row_no, d.bureau_id, g.id AS grid_id
    FROM intake_import_stage s
    CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS pt) AS q
    JOIN district d ON d.bureau_id = ANY(%(scope)s) AND ST_Covers(d.geom, q.pt)
    LEFT JOIN unit_grid g ON g.district_id = d.id AND ST_Covers(g.geom, q.pt)
    WHERE s.location_source = 'gps' AND s.bureau_id IS NULL
    ORDER BY s.row_no, d.code, g.code
) AS p
WHERE s.row_no = p.row_no
"""


def stage_text(orders: Sequence[Order], source: str) -> str:
    """The orders as the CSV text ``COPY`` reads into the staging table, each with a tracking code of its own
    (built by the thread that validates, while the database works on the chunk before)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(_stage_rows(orders, tracking_codes(len(orders)), source))
    return buffer.getvalue()


def _store_pg(
    session: Session,
    *,
    client: IntakeClient,
    staged: Sequence[str],
    at: datetime,
    scope: list[int],
    names: Mapping[str, str],
) -> tuple[int, int, list[RowError]]:
    """COPY the ``staged`` texts into a temporary table; place its points not placed yet (``gps``, no bureau)
    in one spatial join, where a point outside every district of ``scope`` is a row error, and so is a 小类
    missing from the catalog of the bureau a point fell in; then one INSERT … SELECT … ON CONFLICT DO NOTHING
    that also queues the processing of the chunk. Returns (stored, replayed, row errors)."""
    if not any(staged):
        return 0, 0, []
    raw: Any = session.connection().connection.driver_connection  # psycopg, inside the session's transaction
    errors: list[RowError] = []
    with raw.cursor() as cur:
        cur.execute(_STAGE)
        cur.execute("TRUNCATE intake_import_stage")
        # CSV text written by the csv module (C): an empty unquoted field is NULL; text fields are never ""
        with cur.copy(f"COPY intake_import_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
            for text_ in staged:
                copy.write(text_)
        cur.execute(_PLACE, {"scope": scope})
        cur.execute(
            "DELETE FROM intake_import_stage WHERE location_source = 'gps' AND bureau_id IS NULL "
            "RETURNING row_no, lon, lat"
        )
        column = names.get("lon", FIELDS["lon"])
        errors += [
            RowError(row, column, f"经纬度：坐标 ({lon:.6f}, {lat:.6f}) 不在本平台服务的辖区内")
            for row, lon, lat in cur.fetchall()
        ]
        cur.execute(
            "SELECT row_no, bureau_id, claimed_category FROM intake_import_stage "
            "WHERE location_source = 'gps' AND claimed_category IS NOT NULL"
        )
        claimed = [Order(row, "", at, "", category_code=code, bureau_id=bureau) for row, bureau, code in cur.fetchall()]
        if claimed:
            bad = _check_categories(session, claimed, names)
            cur.execute("DELETE FROM intake_import_stage WHERE row_no = ANY(%s)", ([e.row for e in bad],))
            errors += bad
        cur.execute("SELECT count(*) FROM intake_import_stage")
        count = cur.fetchone()
        cur.execute(
            _MOVE,
            {
                "channel": Channel.HOTLINE_12345.value,
                "client_id": client.id,
                "at": at,
                "status": ReportStatus.RECEIVED.value,
                "topic": CHUNK_TOPIC,
                "bureau_id": client.bureau_id,
            },
        )
        made = cur.fetchone()
        stored = int(made[0]) if made else 0
        cur.execute("TRUNCATE intake_import_stage")
    return stored, int(count[0]) - stored, errors


def _stage_rows(orders: Sequence[Order], codes: Sequence[str], source: str) -> Iterable[tuple[Any, ...]]:
    for order, code in zip(orders, codes, strict=True):
        payload = (
            json.dumps({"import": source, "row": order.row, "title": order.title}, ensure_ascii=False)
            if order.title
            else f'{{"import": "{source}", "row": {order.row}}}'  # source is hex: nothing to escape
        )
        yield (
            order.row,
            code,
            order.order_no,
            order.called_at.isoformat(),
            order.content,
            order.category_code,
            order.lon,
            order.lat,
            order.crs.value,
            order.address,
            order.location_source,
            order.location_note,
            order.bureau_id,
            order.grid_id,
            order.caller_name,
            order.caller_phone,
            payload,
        )


def _new_only(session: Session, client: IntakeClient, orders: Sequence[Order]) -> Iterable[Order]:
    seen = set(
        session.scalars(
            select(Report.external_id).where(
                Report.client_id == client.id, Report.external_id.in_([o.order_no for o in orders])
            )
        )
    )
    return (o for o in orders if o.order_no not in seen)


def _report_row(order: Order, code: str, client: IntakeClient, at: datetime, source: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"import": source, "row": order.row}
    if order.title:
        payload["title"] = order.title
    return {
        "tracking_code": code,
        "channel": Channel.HOTLINE_12345.value,
        "client_id": client.id,
        "device_id": None,
        "external_id": order.order_no,
        "received_at": at,
        "occurred_at": order.called_at,
        "text": order.content,
        "claimed_category": order.category_code,
        "category_code": None,
        "classification": None,
        "lon": order.lon,
        "lat": order.lat,
        "crs": order.crs.value,
        "address": order.address,
        "location_source": order.location_source,
        "location_note": order.location_note,
        "bureau_id": order.bureau_id,
        "grid_id": order.grid_id,
        "reporter_id": None,
        "reporter_name": order.caller_name,
        "reporter_phone": order.caller_phone,
        "anonymous": False,
        "trusted": False,
        "status": ReportStatus.RECEIVED.value,
        "status_note": None,
        "case_id": None,
        "merge_score": None,
        "processed_at": None,
        "rating": None,
        "rating_comment": None,
        "payload": payload,
    }
