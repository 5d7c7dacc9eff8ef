"""Read boundary files into plain features: GeoJSON (.geojson/.json), ESRI Shapefile (.shp) or a .zip of one.

Readers only parse; they never judge a feature (the import service validates every feature before it
writes anything). A feature whose geometry cannot be parsed comes back with ``geometry=None`` and the
reason in ``problem``.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapefile
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from chengguan.shared.errors import ValidationFailed

MAX_ZIP_MEMBER_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class RawFeature:
    index: int  # 0-based position in the file
    properties: dict[str, Any]
    geometry: BaseGeometry | None
    problem: str | None = field(default=None)


def read_features(path: Path) -> list[RawFeature]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ValidationFailed(f"文件不存在：{path.name}")
    if suffix in (".geojson", ".json"):
        return _read_geojson(path)
    if suffix == ".shp":
        return _read_shapefile_path(path)
    if suffix == ".zip":
        return _read_zipped_shapefile(path)
    raise ValidationFailed(f"不支持的文件类型：{path.name}（支持 .geojson、.json、.shp、.zip）")


def _geometry(obj: Any) -> tuple[BaseGeometry | None, str | None]:
    if not obj:
        return None, "缺少几何"
    try:
        return shape(obj), None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        return None, f"几何无法解析（{exc}）"


def _read_geojson(path: Path) -> list[RawFeature]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"GeoJSON 无法解析：{path.name}（{exc}）") from exc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        items = doc.get("features")
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        items = [doc]
    else:
        items = None
    if not isinstance(items, list):
        raise ValidationFailed(f"GeoJSON 应为 FeatureCollection 或 Feature：{path.name}")
    out: list[RawFeature] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "Feature":
            out.append(RawFeature(i, {}, None, "不是 GeoJSON Feature"))
            continue
        props = item.get("properties") or {}
        geom, problem = _geometry(item.get("geometry"))
        out.append(RawFeature(i, dict(props) if isinstance(props, dict) else {}, geom, problem))
    return out


def _records(reader: shapefile.Reader) -> list[RawFeature]:
    out: list[RawFeature] = []
    for i, sr in enumerate(reader.iterShapeRecords()):
        props = sr.record.as_dict()
        if sr.shape.shapeType == shapefile.NULL:
            out.append(RawFeature(i, props, None, "缺少几何"))
            continue
        geom, problem = _geometry(sr.shape.__geo_interface__)
        out.append(RawFeature(i, props, geom, problem))
    return out


def _read_with_fallback(open_reader: Any, has_cpg: bool, name: str) -> list[RawFeature]:
    """Attribute text is UTF-8 when a .cpg says so; Chinese files without one are usually GBK."""
    encodings = ["utf-8"] if has_cpg else ["utf-8", "gbk"]
    last: Exception | None = None
    for enc in encodings:
        try:
            with open_reader(None if has_cpg else enc) as reader:
                return _records(reader)
        except UnicodeDecodeError as exc:
            last = exc
        except shapefile.ShapefileException as exc:
            raise ValidationFailed(f"Shapefile 无法读取：{name}（{exc}）") from exc
    raise ValidationFailed(f"Shapefile 属性表编码无法识别：{name}（{last}）")


def _read_shapefile_path(path: Path) -> list[RawFeature]:
    has_cpg = path.with_suffix(".cpg").is_file() or path.with_suffix(".CPG").is_file()
    for sidecar in (".dbf", ".shx"):
        if not (path.with_suffix(sidecar).is_file() or path.with_suffix(sidecar.upper()).is_file()):
            raise ValidationFailed(f"Shapefile 缺少 {sidecar} 文件：{path.name}")

    def open_reader(encoding: str | None) -> shapefile.Reader:
        return shapefile.Reader(path, encoding=encoding) if encoding else shapefile.Reader(path)

    return _read_with_fallback(open_reader, has_cpg, path.name)


def _read_zipped_shapefile(path: Path) -> list[RawFeature]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValidationFailed(f"ZIP 文件无法读取：{path.name}") from exc
    with archive:
        members = {m.filename.lower(): m for m in archive.infolist() if not m.is_dir()}
        shps = sorted(n for n in members if n.endswith(".shp") and not n.startswith("__macosx/"))
        if len(shps) != 1:
            raise ValidationFailed(f"ZIP 中应恰好有一个 .shp 文件，实际 {len(shps)} 个：{path.name}")
        stem = shps[0][: -len(".shp")]
        parts: dict[str, bytes] = {}
        for ext in ("shp", "shx", "dbf", "cpg"):
            info = members.get(f"{stem}.{ext}")
            if info is None:
                continue
            if info.file_size > MAX_ZIP_MEMBER_BYTES:
                raise ValidationFailed(f"ZIP 中的文件过大：{info.filename}")
            parts[ext] = archive.read(info)
    for ext in ("shx", "dbf"):
        if ext not in parts:
            raise ValidationFailed(f"ZIP 中的 Shapefile 缺少 .{ext} 文件：{path.name}")

    def open_reader(encoding: str | None) -> shapefile.Reader:
        kwargs: dict[str, Any] = {
            "shp": io.BytesIO(parts["shp"]),
            "shx": io.BytesIO(parts["shx"]),
            "dbf": io.BytesIO(parts["dbf"]),
        }
        if "cpg" in parts:
            kwargs["cpg"] = io.BytesIO(parts["cpg"])
        if encoding:
            kwargs["encoding"] = encoding
        return shapefile.Reader(**kwargs)

    return _read_with_fallback(open_reader, "cpg" in parts, path.name)
