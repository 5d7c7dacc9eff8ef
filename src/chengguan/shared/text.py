"""Text that may be stored: no control characters, no bidirectional overrides.

Refused everywhere text enters the system (API schemas, console forms, URL paths and query strings):

- NUL and the other C0 controls except tab, newline and carriage return (PostgreSQL refuses NUL in text
  outright; the others are invisible and break exports, logs and documents);
- DEL (U+007F);
- the bidirectional embeddings/overrides U+202A–U+202E and isolates U+2066–U+2069, which can make a stored
  name or note read differently from what it contains ("Trojan Source" style spoofing).

Pure: no I/O, nothing internal imported.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

FORBIDDEN_MESSAGE = "不能包含控制字符或双向文本控制符"
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def find_forbidden(text: str) -> str | None:
    """The first forbidden character in ``text``, or None when the text may be stored."""
    match = _FORBIDDEN.search(text)
    return match.group() if match else None


def describe(char: str) -> str:
    """How to name a forbidden character to a person: ``U+0000``."""
    return f"U+{ord(char):04X}"


class ForbiddenCharacter(ValueError):
    def __init__(self, char: str) -> None:
        super().__init__(f"{FORBIDDEN_MESSAGE}（{describe(char)}）")
        self.char = char


def clean_text(text: str) -> str:
    """``text`` unchanged when it may be stored; raises ``ForbiddenCharacter`` otherwise.

    Refuses rather than strips: silently removing characters would store something other than what was sent.
    """
    char = find_forbidden(text)
    if char is not None:
        raise ForbiddenCharacter(char)
    return text


def _validate(value: str) -> str:
    char = find_forbidden(value)
    if char is not None:
        raise PydanticCustomError("forbidden_character", FORBIDDEN_MESSAGE + "（{char}）", {"char": describe(char)})
    return value


SafeStr = Annotated[str, AfterValidator(_validate)]
"""A pydantic string that refuses control characters and bidi controls with a zh-CN message.

Combine with ``Field`` bounds as usual: ``name: SafeStr = Field(min_length=1, max_length=64)``.
"""
