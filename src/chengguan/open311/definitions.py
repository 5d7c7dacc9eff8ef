"""Service definitions as data: the questions each 小类 asks (``data/attributes.yaml``), and the check of the
answers an Open311 POST sends with ``attribute[CODE]=...``.

Pure: no database, no web framework. ``load()`` reads the shipped file once; ``parse()`` checks any such
document (a file a locality edits is refused with the reason, not half-used).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chengguan.shared.text import find_forbidden

DATA_FILE = Path(__file__).parent / "data" / "attributes.yaml"
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_TYPES = ("singlevaluelist", "multivaluelist")
CODE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_LENGTH = {"string": 200, "text": 2000}
MAX_VALUES = 50  # values one multivaluelist answer may hold
MIN_YEAR, MAX_YEAR = 2000, 2099


class DefinitionError(ValueError):
    """The attributes file itself is wrong (a locality's edit): the message says where."""


class InvalidAnswer(ValueError):
    """An answer the service definition does not accept; the message is for the caller (zh-CN)."""


@dataclass(frozen=True)
class Value:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    description: str
    datatype_description: str | None = None
    variable: bool = True
    values: tuple[Value, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def name_of(self, key: str) -> str:
        return next((v.name for v in self.values if v.key == key), key)


@dataclass(frozen=True)
class Question:
    attribute: Attribute
    required: bool
    order: int


@dataclass(frozen=True)
class ServiceSpec:
    keywords: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()

    @property
    def metadata(self) -> bool:
        """Whether there is anything to ask (Open311's ``metadata``)."""
        return bool(self.questions)

    def question(self, code: str) -> Question | None:
        return next((q for q in self.questions if q.attribute.code == code), None)


@dataclass(frozen=True)
class Definitions:
    attributes: dict[str, Attribute]
    default: ServiceSpec
    services: dict[str, ServiceSpec] = field(default_factory=dict)

    def for_service(self, service_code: str) -> ServiceSpec:
        return self.services.get(service_code, self.default)


# ---- reading the file --------------------------------------------------------------------------------


def _text(node: Any, where: str) -> str:
    if not isinstance(node, str | int | float) or isinstance(node, bool) or not str(node).strip():
        raise DefinitionError(f"{where}: expected a non-empty text")
    return str(node).strip()


def _attribute(code: str, node: Any) -> Attribute:
    where = f"attributes.{code}"
    if not CODE.match(code):
        raise DefinitionError(f"{where}: a code is 1-64 ASCII letters, digits, _ or -")
    if not isinstance(node, dict):
        raise DefinitionError(f"{where}: expected a mapping")
    datatype = node.get("datatype")
    if datatype not in DATATYPES:
        raise DefinitionError(f"{where}.datatype: one of {', '.join(DATATYPES)}")
    values: list[Value] = []
    if datatype in LIST_TYPES:
        raw = node.get("values")
        if not isinstance(raw, list) or not raw:
            raise DefinitionError(f"{where}.values: a list type needs its values")
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise DefinitionError(f"{where}.values[{i}]: expected {{key, name}}")
            values.append(
                Value(
                    key=_text(item.get("key"), f"{where}.values[{i}].key"),
                    name=_text(item.get("name"), f"{where}.values[{i}].name"),
                )
            )
        if len({v.key for v in values}) != len(values):
            raise DefinitionError(f"{where}.values: keys must be unique")
    elif "values" in node:
        raise DefinitionError(f"{where}.values: only singlevaluelist and multivaluelist have values")
    bounds: dict[str, float | None] = {}
    for name in ("min", "max"):
        value = node.get(name)
        if value is not None and (
            datatype != "number" or isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise DefinitionError(f"{where}.{name}: only a number attribute has numeric bounds")
        bounds[name] = None if value is None else float(value)
    hint = node.get("datatype_description")
    return Attribute(
        code=code,
        datatype=datatype,
        description=_text(node.get("description"), f"{where}.description"),
        datatype_description=None if hint is None else _text(hint, f"{where}.datatype_description"),
        variable=bool(node.get("variable", True)),
        values=tuple(values),
        minimum=bounds["min"],
        maximum=bounds["max"],
    )


def _service(code: str, node: Any, attributes: dict[str, Attribute]) -> ServiceSpec:
    where = f"services.{code}" if code else "default"
    if not isinstance(node, dict):
        raise DefinitionError(f"{where}: expected a mapping")
    asked = node.get("attributes") or []
    required = node.get("required") or []
    keywords = node.get("keywords") or []
    if not all(isinstance(x, list) for x in (asked, required, keywords)):
        raise DefinitionError(f"{where}: attributes, required and keywords are lists")
    unknown = [str(c) for c in [*asked, *required] if c not in attributes]
    if unknown:
        raise DefinitionError(f"{where}: unknown attribute {', '.join(unknown)}")
    if len(set(asked)) != len(asked) or not set(required) <= set(asked):
        raise DefinitionError(f"{where}: attributes are listed once; every required one is also asked")
    if any(not attributes[c].variable for c in required):
        raise DefinitionError(f"{where}: an informational (variable: false) attribute cannot be required")
    return ServiceSpec(
        keywords=tuple(_text(k, f"{where}.keywords") for k in keywords),
        questions=tuple(
            Question(attribute=attributes[c], required=c in required, order=i) for i, c in enumerate(asked, 1)
        ),
    )


def parse(document: Any) -> Definitions:
    """Check a parsed attributes document and build the definitions; ``DefinitionError`` says what is wrong."""
    if not isinstance(document, dict) or document.get("version") != 1:
        raise DefinitionError("expected a mapping with version: 1")
    raw_attributes = document.get("attributes") or {}
    raw_services = document.get("services") or {}
    if not isinstance(raw_attributes, dict) or not isinstance(raw_services, dict):
        raise DefinitionError("attributes and services are mappings")
    attributes = {str(code): _attribute(str(code), node) for code, node in raw_attributes.items()}
    return Definitions(
        attributes=attributes,
        default=_service("", document.get("default") or {}, attributes),
        services={str(code): _service(str(code), node, attributes) for code, node in raw_services.items()},
    )


@lru_cache(maxsize=1)
def load() -> Definitions:
    """The shipped definitions (read once per process)."""
    return parse(yaml.safe_load(DATA_FILE.read_text(encoding="utf-8")))


# ---- checking answers --------------------------------------------------------------------------------


def _clean(raw: str, attribute: Attribute) -> str:
    value = raw.strip()
    char = find_forbidden(value)
    if char is not None:
        raise InvalidAnswer(
            f"attribute[{attribute.code}]（{attribute.description}）不能包含控制字符（U+{ord(char):04X}）"
        )
    return value


def _number(value: str, attribute: Attribute) -> float:
    label = f"attribute[{attribute.code}]（{attribute.description}）"
    try:
        number = float(value)
    except ValueError:
        raise InvalidAnswer(f"{label}应为数字，收到「{value[:20]}」") from None
    if not math.isfinite(number):
        raise InvalidAnswer(f"{label}应为有限的数字")
    if attribute.minimum is not None and number < attribute.minimum:
        raise InvalidAnswer(f"{label}不能小于 {attribute.minimum:g}")
    if attribute.maximum is not None and number > attribute.maximum:
        raise InvalidAnswer(f"{label}不能大于 {attribute.maximum:g}")
    return number


def parse_datetime(value: str, label: str) -> datetime:
    """A W3C datetime with a time zone (``2026-05-01T08:30:00+08:00`` or ``...Z``), as aware UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidAnswer(f"{label}应为带时区的日期时间，如 2026-05-01T08:30:00+08:00") from None
    if parsed.tzinfo is None:
        raise InvalidAnswer(f"{label}缺少时区，如 2026-05-01T08:30:00+08:00 或 2026-05-01T00:30:00Z")
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise InvalidAnswer(f"{label}超出允许范围（{MIN_YEAR}–{MAX_YEAR} 年）")
    return parsed.astimezone(UTC)


def check_answers(spec: ServiceSpec, answers: dict[str, list[str]]) -> dict[str, Any]:
    """The answers as the service definition accepts them: ``{code: value}`` with a number as float, a
    datetime as ISO text in UTC, a multivaluelist as a list of keys. Empty answers count as not given.

    Refused (``InvalidAnswer``): an attribute the service does not define, an answer to an informational
    one, a required one missing, a value of the wrong datatype or not among the list's keys."""
    out: dict[str, Any] = {}
    for code, raw_values in answers.items():
        question = spec.question(code)
        if question is None:
            raise InvalidAnswer(f"该服务没有属性 attribute[{code}]")
        attribute = question.attribute
        label = f"attribute[{code}]（{attribute.description}）"
        if not attribute.variable:
            raise InvalidAnswer(f"{label}是提示信息，无需填写")
        values = [v for v in (_clean(r, attribute) for r in raw_values) if v]
        if not values:
            continue
        if attribute.datatype == "multivaluelist":
            if len(values) > MAX_VALUES or len(set(values)) != len(values):
                raise InvalidAnswer(f"{label}的取值重复或过多")
            unknown = [v for v in values if v not in {x.key for x in attribute.values}]
            if unknown:
                raise InvalidAnswer(f"{label}没有取值「{unknown[0][:20]}」")
            out[code] = values
            continue
        if len(values) > 1:
            raise InvalidAnswer(f"{label}只能有一个取值")
        value = values[0]
        if attribute.datatype == "singlevaluelist":
            if value not in {x.key for x in attribute.values}:
                raise InvalidAnswer(f"{label}没有取值「{value[:20]}」")
            out[code] = value
        elif attribute.datatype == "number":
            out[code] = _number(value, attribute)
        elif attribute.datatype == "datetime":
            out[code] = parse_datetime(value, label).isoformat()
        else:
            limit = MAX_LENGTH[attribute.datatype]
            if len(value) > limit:
                raise InvalidAnswer(f"{label}不能超过 {limit} 字")
            out[code] = value
    missing = [q.attribute for q in spec.questions if q.required and q.attribute.code not in out]
    if missing:
        names = "、".join(f"attribute[{a.code}]（{a.description}）" for a in missing)
        raise InvalidAnswer(f"缺少必填属性：{names}")
    return out


def summary(spec: ServiceSpec, answers: dict[str, Any]) -> str:
    """The list and number answers in words (``问题程度：严重；是否影响通行：影响通行``) for the description staff
    read; free text, plates and times stay in the report's payload only."""
    parts = []
    for q in spec.questions:
        a, value = q.attribute, answers.get(q.attribute.code)
        if value is None:
            continue
        if a.datatype == "singlevaluelist":
            parts.append(f"{a.description}：{a.name_of(value)}")
        elif a.datatype == "multivaluelist":
            parts.append(f"{a.description}：{'、'.join(a.name_of(v) for v in value)}")
        elif a.datatype == "number":
            parts.append(f"{a.description}：{value:g}")
    return "；".join(parts)
