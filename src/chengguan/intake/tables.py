"""Reading a tabular export into headers and rows: CSV (UTF-8 with or without BOM, GBK/GB18030 as Chinese
systems often write it, comma- or tab-separated), JSON (a list of objects, or an object holding one) and
XLSX (openpyxl, read-only). The format is told by the bytes, not the file name.

Bounded: at most ``MAX_ROWS`` rows and ``MAX_COLUMNS`` columns; an XLSX whose parts would unpack to more than
``MAX_XLSX_UNPACKED`` bytes is refused before it is opened (a zip bomb never expands); an old binary .xls is
refused with the advice to save it as .xlsx or CSV.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from chengguan.shared.errors import ValidationFailed

MAX_ROWS = 500_000
MAX_COLUMNS = 200
MAX_XLSX_UNPACKED = 256 * 1024 * 1024
JSON_LIST_KEYS = ("orders", "records", "data", "items", "rows")
ENCODING_LABELS = {"utf-8-sig": "UTF-8（带 BOM）", "utf-8": "UTF-8", "gb18030": "GBK/GB18030", "utf-16": "UTF-16"}


@dataclass(frozen=True)
class Table:
    fmt: str  # csv | json | xlsx
    encoding: str | None  # what a CSV was decoded as
    headers: list[str]
    rows: list[list[Any]]
    row_numbers: list[int]  # as people see them: CSV/XLSX count the header as row 1; JSON counts objects from 1


@dataclass(frozen=True)
class TableStream:
    """A table read a chunk at a time: ``chunks`` yields (rows, their row numbers), at most ``size`` rows each,
    and raises ``ValidationFailed`` as ``read_table`` would when the file turns out unreadable part-way."""

    fmt: str
    encoding: str | None
    headers: list[str]
    chunks: Iterator[tuple[list[list[Any]], list[int]]]


def read_table(
    data: bytes, *, filename: str | None = None, sheet: str | None = None, encoding: str | None = None
) -> Table:
    """Headers and rows of ``data``; ``ValidationFailed`` with a zh-CN reason when it cannot be read."""
    del filename  # the bytes decide; the name is only what people called it
    _refuse_unreadable(data)
    if data.startswith(b"PK\x03\x04"):
        return _xlsx(data, sheet)
    if _is_json(data):
        return _json(data)
    stream = _csv_stream(data, encoding, size=MAX_ROWS + 1)
    rows: list[list[Any]] = []
    numbers: list[int] = []
    for chunk, chunk_numbers in stream.chunks:
        rows += chunk
        numbers += chunk_numbers
    return Table(fmt="csv", encoding=stream.encoding, headers=stream.headers, rows=rows, row_numbers=numbers)


def stream_table(data: bytes, *, size: int, sheet: str | None = None, encoding: str | None = None) -> TableStream:
    """As ``read_table``, ``size`` rows at a time: a CSV is parsed as the chunks are taken (so the work on the
    first rows can start before the last ones are read); JSON and XLSX are read whole first."""
    _refuse_unreadable(data)
    if data.startswith(b"PK\x03\x04") or _is_json(data):
        table = _xlsx(data, sheet) if data.startswith(b"PK\x03\x04") else _json(data)
        chunks = ((table.rows[i : i + size], table.row_numbers[i : i + size]) for i in range(0, len(table.rows), size))
        return TableStream(fmt=table.fmt, encoding=table.encoding, headers=table.headers, chunks=chunks)
    return _csv_stream(data, encoding, size=size)


def _refuse_unreadable(data: bytes) -> None:
    if not data.strip():
        raise ValidationFailed("文件是空的")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationFailed("不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后再导入")


def _is_json(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{")


def _names(headers: Sequence[Any]) -> list[str]:
    names = ["" if h is None else str(h).strip() for h in headers]
    if len(names) > MAX_COLUMNS:
        raise ValidationFailed(f"文件最多 {MAX_COLUMNS} 列（现有 {len(names)} 列）")
    if not any(names):
        raise ValidationFailed("文件第一行应为列名")
    return names


def _bounded(headers: Sequence[Any], rows: Iterable[tuple[int, Sequence[Any]]], fmt: str, enc: str | None) -> Table:
    names = _names(headers)
    out: list[list[Any]] = []
    numbers: list[int] = []
    for number, cells in rows:
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue  # blank lines between or after the orders
        if len(out) >= MAX_ROWS:
            raise ValidationFailed(f"一个文件最多 {MAX_ROWS} 行工单，请分批导入")
        out.append(list(cells))
        numbers.append(number)
    if not out:
        raise ValidationFailed("文件中没有工单（只有列名）")
    return Table(fmt=fmt, encoding=enc, headers=names, rows=out, row_numbers=numbers)


def _decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError as exc:
            raise ValidationFailed(f"未知的文件编码：{encoding}") from exc
        try:
            return data.decode(name), name
        except UnicodeDecodeError as exc:
            raise ValidationFailed(f"文件不是 {encoding} 编码（第 {exc.start} 字节无法解码）") from exc
    if data.startswith(codecs.BOM_UTF8):
        return data.decode("utf-8-sig", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    for name in ("utf-8", "gb18030"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    raise ValidationFailed("无法识别文件编码（支持 UTF-8 与 GBK/GB18030），可用 --encoding 指定")


def _csv_stream(data: bytes, encoding: str | None, *, size: int) -> TableStream:
    try:
        content, used = _decode(data, encoding)
    except UnicodeDecodeError as exc:  # a BOM that lies
        raise ValidationFailed("文件编码与其 BOM 不符，无法解码") from exc
    first = content.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        headers = _names(next(reader, []))
    except csv.Error as exc:
        raise ValidationFailed(f"CSV 格式错误（第 {reader.line_num} 行）：{exc}") from exc

    def chunks() -> Iterator[tuple[list[list[Any]], list[int]]]:
        number, total = 1, 0  # the header is row 1; a row is a record (a quoted cell may hold line breaks)
        while True:
            rows: list[list[Any]] = []
            numbers: list[int] = []
            try:
                for cells in reader:
                    number += 1
                    if not "".join(cells).strip():
                        continue  # blank lines between or after the orders
                    total += 1
                    if total > MAX_ROWS:
                        raise ValidationFailed(f"一个文件最多 {MAX_ROWS} 行工单，请分批导入")
                    rows.append(cells)
                    numbers.append(number)
                    if len(rows) == size:
                        break
            except csv.Error as exc:
                raise ValidationFailed(f"CSV 格式错误（第 {reader.line_num} 行）：{exc}") from exc
            if rows:
                yield rows, numbers
            if len(rows) < size:
                break
        if not total:
            raise ValidationFailed("文件中没有工单（只有列名）")

    return TableStream(fmt="csv", encoding=used, headers=headers, chunks=chunks())


def _json(data: bytes) -> Table:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValidationFailed("JSON 文件应为 UTF-8 编码") from exc
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed(f"不是合法的 JSON：{exc}") from exc
    if isinstance(doc, dict):
        lists = [doc[k] for k in JSON_LIST_KEYS if isinstance(doc.get(k), list)]
        if not lists:
            raise ValidationFailed(f"JSON 应为工单对象的数组，或含 {'、'.join(JSON_LIST_KEYS)} 之一的对象")
        doc = lists[0]
    if not isinstance(doc, list):
        raise ValidationFailed("JSON 应为工单对象的数组")
    headers: dict[str, None] = {}
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            raise ValidationFailed(f"JSON 第 {i + 1} 项不是对象")
        for key in item:
            headers.setdefault(str(key), None)
            if len(headers) > MAX_COLUMNS:
                raise ValidationFailed(f"文件最多 {MAX_COLUMNS} 列")
    names = list(headers)
    rows = (
        (i + 1, [_scalar(item.get(name), i + 1, name) for name in names])
        for i, item in enumerate(doc)
        if isinstance(item, dict)
    )
    return _bounded(names, rows, "json", None)


def _scalar(value: Any, number: int, name: str) -> Any:
    if isinstance(value, dict | list):
        raise ValidationFailed(f"JSON 第 {number} 项的「{name}」应为文字或数字，不能是对象或数组")
    return value


def _xlsx(data: bytes, sheet: str | None) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise ValidationFailed("不是有效的 XLSX 文件（压缩包已损坏）") from exc
    if unpacked > MAX_XLSX_UNPACKED:
        raise ValidationFailed(f"XLSX 解压后超过 {MAX_XLSX_UNPACKED // (1024 * 1024)} MB，拒绝读取")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValidationFailed("不是有效的 XLSX 文件") from exc
    try:
        if sheet is not None:
            if sheet not in book.sheetnames:
                raise ValidationFailed(f"XLSX 中没有工作表「{sheet}」（有：{'、'.join(book.sheetnames)}）")
            ws: Any = book[sheet]
        else:
            ws = book.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        headers: Sequence[Any] = ()
        start = 0
        for cells in rows:
            start += 1
            if any(c is not None and str(c).strip() for c in cells):
                headers = cells
                break
        table = _bounded(headers, ((start + i + 1, cells) for i, cells in enumerate(rows)), "xlsx", None)
    finally:
        book.close()
    return table
