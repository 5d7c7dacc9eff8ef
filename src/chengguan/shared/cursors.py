"""Keyset-page cursors: the (time, id) a page ended at, opaque to clients, checked when they come back."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from chengguan.shared.clock import MAX_YEAR, MIN_YEAR
from chengguan.shared.errors import ValidationFailed

MAX_ID = 2**63 - 1


def encode(at: datetime, row_id: int) -> str:
    raw = f"{at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, int]:
    """The (time, id) a page ends at. Anything ``encode`` did not write is a 422."""
    invalid = ValidationFailed("分页游标无效，请从第一页重新查询")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, id_text = raw.split("|")
        at, row_id = datetime.fromisoformat(at_text), int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid from exc
    if at.tzinfo is None or not MIN_YEAR <= at.year <= MAX_YEAR or not 0 < row_id <= MAX_ID:
        raise invalid
    return at, row_id
