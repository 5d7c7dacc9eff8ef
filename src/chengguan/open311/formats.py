"""GeoReport v2 documents as JSON or XML, with the spec's element names, and its errors.

The same Python structure renders both ways: a list of objects is a JSON array and, in XML, a root element
(``service_requests``) with one element per object (``request``); a nested list is a plural element with
singular children (``attributes`` → ``attribute``); ``None`` is JSON ``null`` and an empty XML element;
booleans are ``true``/``false``. Errors are the spec's array of ``{code, description}`` (XML
``<errors><error>…``), with the HTTP status of the first.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from fastapi.responses import Response

from chengguan.shared.clock import BUREAU_TZ


class Format(StrEnum):
    JSON = "json"
    XML = "xml"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self]


MEDIA_TYPES = {Format.JSON: "application/json; charset=utf-8", Format.XML: "text/xml; charset=utf-8"}
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
# Plural element → the element of each item in it.
SINGULAR = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
}


class Open311Error(Exception):
    """A refusal in the spec's shape: HTTP ``status`` and the ``(code, description)`` pairs to send."""

    def __init__(self, status: int, description: str, *more: tuple[int, str], headers: Mapping[str, str] | None = None):
        super().__init__(description)
        self.status = status
        self.errors: list[tuple[int, str]] = [(status, description), *more]
        self.headers = dict(headers or {})


def parse_format(value: str) -> Format:
    try:
        return Format(value)
    except ValueError:
        raise Open311Error(404, f"不支持的格式 .{value[:10]}：只提供 .json 和 .xml") from None


def w3c(value: datetime | None) -> str | None:
    """A W3C datetime in the bureau's zone, e.g. ``2026-05-01T08:30:00+08:00``."""
    if value is None:
        return None
    return value.astimezone(BUREAU_TZ).replace(microsecond=0).isoformat()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list | tuple):
        child = SINGULAR.get(element.tag, "item")
        for item in value:
            _fill(ET.SubElement(element, child), item)
    else:
        element.text = _text(value)


def to_xml(root: str, body: Any, item: str | None = None) -> str:
    """``body`` under ``<root>``: a list becomes one ``<item>`` per element, a mapping its children."""
    element = ET.Element(root)
    if isinstance(body, list):
        for row in body:
            _fill(ET.SubElement(element, item or "item"), row)
    else:
        _fill(element, body)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode")


def render(fmt: Format, body: Any, *, root: str, item: str | None = None, status: int = 200) -> Response:
    if fmt is Format.JSON:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    else:
        content = to_xml(root, body, item)
    return Response(content=content.encode("utf-8"), status_code=status, media_type=fmt.media_type)


def render_errors(fmt: Format, error: Open311Error) -> Response:
    rows: Sequence[dict[str, Any]] = [{"code": code, "description": text} for code, text in error.errors]
    response = render(fmt, list(rows), root="errors", item="error", status=error.status)
    response.headers.update(error.headers)
    return response
