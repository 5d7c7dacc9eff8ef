"""Text that may be stored: the forbidden characters, and the pydantic type that refuses them in zh-CN."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from chengguan.shared.text import FORBIDDEN_MESSAGE, ForbiddenCharacter, SafeStr, clean_text, find_forbidden

FORBIDDEN = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)] + [
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
]


@pytest.mark.parametrize("char", FORBIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_each_forbidden_character_is_found(char: str) -> None:
    assert find_forbidden(f"西湖{char}区") == char
    with pytest.raises(ForbiddenCharacter, match=f"U\\+{ord(char):04X}"):
        clean_text("abc" + char)


def test_ordinary_text_passes_unchanged() -> None:
    for text in ("占道经营\t（早餐摊）\r\n第二行", "", "Ω café ½ 😀", "\u200b\u202f\u2065\u206a"):
        assert find_forbidden(text) is None and clean_text(text) == text


@given(st.text(alphabet=st.characters(exclude_characters="".join(FORBIDDEN))))
def test_nothing_else_is_refused(text: str) -> None:
    assert find_forbidden(text) is None


class Note(BaseModel):
    text: SafeStr = Field(max_length=20)
    maybe: SafeStr | None = None


def test_the_pydantic_type_refuses_in_zh_cn_and_keeps_other_bounds() -> None:
    assert Note(text="已劝离\n现场恢复").text == "已劝离\n现场恢复"
    with pytest.raises(ValidationError) as info:
        Note(text="ok", maybe="\u202egnp.exe")
    err = info.value.errors()[0]
    assert err["loc"] == ("maybe",) and err["type"] == "forbidden_character"
    assert err["msg"] == FORBIDDEN_MESSAGE + "（U+202E）"
    with pytest.raises(ValidationError, match="at most 20"):
        Note(text="长" * 21)
