"""Free Chinese text → is it city-management work (or another department's), and which 小类.

The contract every classifier keeps: ``classify(text)`` returns a ``Classification`` or None when no model is
available. Reports whose category nobody chose go to a person (triage) when the answer is None or not
confident.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Classification:
    city_management: bool  # False: another department's work (12345 routes it on)
    department: str | None  # the department when it is not city management
    category_code: str | None  # the catalog's 小类 when it is
    confidence: float  # of the decision that matters: the 小类, or the department
    confident: bool  # above the threshold that lets it pass without a person
    model: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def classify(text: str) -> Classification | None:
    """No trained model ships yet: every text-only report goes to triage."""
    del text
    return None
