"""Use cases for the category catalog (大类/小类) of a bureau. Functions flush, never commit.

Per locality: a bureau's catalog is its own rows if it has any, else its nearest ancestor's (see
``identity.service.bureau_lineage``). A catalog is used as a whole: a district brigade with its own
catalog does not fall back to the city's for codes it lacks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from chengguan.catalog.formats import (
    STEPS,
    MajorSpec,
    MinorSpec,
    default_catalog_text,
    parse_csv,
    parse_yaml,
    render_csv,
    render_yaml,
)
from chengguan.catalog.models import CategoryMajor, CategoryMinor
from chengguan.db import WriteWatch
from chengguan.identity.models import Bureau
from chengguan.identity.service import bureau_lineage
from chengguan.shared.durations import LimitUnit, TimeLimit
from chengguan.shared.errors import ValidationFailed

CatalogFormat = Literal["yaml", "csv"]


class UnknownCategory(ValidationFailed):
    code = "unknown-category"
    title = "未知的案件小类"


@dataclass(frozen=True)
class CatalogSummary:
    """What an import or seed did to one bureau's own catalog, and its size afterwards."""

    bureau_id: int
    majors: int  # majors of the bureau's own catalog
    minors: int  # active minors of the bureau's own catalog
    created: int = 0  # minors created
    updated: int = 0  # minors whose content changed (re-activation included)
    deactivated: int = 0  # minors set inactive by replace=True

    def __str__(self) -> str:
        return (
            f"大类 {self.majors} 个，启用小类 {self.minors} 个"
            f"（新增 {self.created}，更新 {self.updated}，停用 {self.deactivated}）"
        )


# ---- reading ----------------------------------------------------------------------------------------


def catalog_owner_id(session: Session, *, bureau_id: int) -> int | None:
    """The bureau whose catalog ``bureau_id`` uses: itself, else the nearest ancestor with a catalog."""
    lineage = [b.id for b in bureau_lineage(session, bureau_id=bureau_id)]
    if not lineage:
        return None
    owners = set(
        session.scalars(select(CategoryMajor.bureau_id).where(CategoryMajor.bureau_id.in_(lineage)).distinct())
    )
    return next((bid for bid in lineage if bid in owners), None)


def list_catalog(session: Session, *, bureau_id: int) -> list[CategoryMajor]:
    """The effective catalog: majors sorted, each with its active ``minors`` sorted by code.

    Majors without any active minor are left out.
    """
    owner = catalog_owner_id(session, bureau_id=bureau_id)
    if owner is None:
        return []
    majors = session.scalars(
        select(CategoryMajor)
        .where(CategoryMajor.bureau_id == owner)
        .order_by(CategoryMajor.sort, CategoryMajor.code)
        .options(selectinload(CategoryMajor.minors))
        .execution_options(populate_existing=True)
    )
    return [m for m in majors if m.minors]


def resolve_minor(session: Session, *, bureau_id: int, code: str) -> CategoryMinor:
    """The active 小类 ``code`` of the catalog ``bureau_id`` uses; ``UnknownCategory`` otherwise."""
    clean = str(code).strip()
    owner = catalog_owner_id(session, bureau_id=bureau_id)
    minor = None
    if owner is not None:
        minor = session.scalar(
            select(CategoryMinor).where(CategoryMinor.bureau_id == owner, CategoryMinor.code == clean)
        )
    if minor is None or not minor.is_active:
        raise UnknownCategory(f"未知的案件小类：{clean}")
    return minor


def check_minor(session: Session, *, bureau_id: int, code: str) -> str:
    """The code of the active 小类 ``code`` of the catalog ``bureau_id`` uses; ``UnknownCategory`` otherwise.

    The same answer as ``resolve_minor`` without reading the row: from a per-process copy of which codes each
    catalog has (see ``_Codes``) where the session may use it, else from the database.
    """
    clean = str(code).strip()
    if not _codes_usable(session):
        return resolve_minor(session, bureau_id=bureau_id, code=clean).code
    codes = _codes(session)
    owner = next((b for b in codes.lineage(bureau_id) if b in codes.owners), None)
    if owner is None or clean not in codes.active.get(owner, frozenset()):
        raise UnknownCategory(f"未知的案件小类：{clean}")
    return clean


# The copy: which bureaus there are (for the fallback to a parent's catalog), which bureaus have a catalog, and
# the active codes of each. Loaded once per database and process; a session that changed bureaus or catalogs
# asks the database until it ends, and its commit drops the copy; changes by other processes are found by a
# cheap signature asked at most every CODES_CHECK_SECONDS. Only sessions bound to an engine use it (a session
# bound to a connection may sit in an outer transaction that will be rolled back, as in the tests).

CODES_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class _Codes:
    signature: tuple[Any, ...]
    checked_at: float
    parents: dict[int, int | None]
    owners: frozenset[int]  # bureaus with a catalog of their own
    active: dict[int, frozenset[str]]

    def lineage(self, bureau_id: int) -> list[int]:
        chain: list[int] = []
        current: int | None = bureau_id
        while current is not None and current in self.parents and current not in chain:
            chain.append(current)
            current = self.parents[current]
        return chain


_CODES: dict[str, _Codes] = {}
_CODES_LOCK = threading.Lock()


def invalidate_codes() -> None:
    with _CODES_LOCK:
        _CODES.clear()


def _codes_usable(session: Session) -> bool:
    return isinstance(session.get_bind(), Engine) and not _WRITES.dirty(session)


def _codes_signature(session: Session) -> tuple[Any, ...]:
    active = case((CategoryMinor.is_active.is_(True), CategoryMinor.id), else_=0)
    parts = [
        select(func.count(Bureau.id)).scalar_subquery(),
        select(func.sum(Bureau.id * func.coalesce(Bureau.parent_id, 0))).scalar_subquery(),
        select(func.count(CategoryMajor.id)).scalar_subquery(),
        select(func.max(CategoryMajor.id)).scalar_subquery(),
        select(func.count(CategoryMinor.id)).scalar_subquery(),
        select(func.max(CategoryMinor.id)).scalar_subquery(),
        select(func.sum(active)).scalar_subquery(),
    ]
    return tuple(session.execute(select(*parts)).one())


def _codes(session: Session) -> _Codes:
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    with _CODES_LOCK:
        cached = _CODES.get(key)
    now = time.monotonic()
    if cached is not None and now - cached.checked_at < CODES_CHECK_SECONDS:
        return cached
    signature = _codes_signature(session)
    if cached is not None and cached.signature == signature:
        fresh = replace(cached, checked_at=now)
    else:
        active: dict[int, set[str]] = {}
        for bureau_id, code in session.execute(
            select(CategoryMinor.bureau_id, CategoryMinor.code).where(CategoryMinor.is_active.is_(True))
        ):
            active.setdefault(bureau_id, set()).add(code)
        fresh = _Codes(
            signature=signature,
            checked_at=now,
            parents={int(row[0]): row[1] for row in session.execute(select(Bureau.id, Bureau.parent_id))},
            owners=frozenset(session.scalars(select(CategoryMajor.bureau_id).distinct())),
            active={b: frozenset(c) for b, c in active.items()},
        )
    with _CODES_LOCK:
        _CODES[key] = fresh
    return fresh


_WRITES = WriteWatch("catalog", (Bureau, CategoryMajor, CategoryMinor), on_commit=invalidate_codes)


def step_limits(minor: CategoryMinor) -> dict[str, TimeLimit]:
    """``{"accept", "file", "dispatch", "handle", "verify", "close"}`` → the 小类's time limits."""
    return {step: TimeLimit.parse(getattr(minor, f"{step}_limit")) for step in STEPS}


def merge_window(minor: CategoryMinor) -> tuple[float, timedelta]:
    """How far (metres) and how long after a case's report another report of this 小类 may be the same problem."""
    limit = TimeLimit.parse(minor.dedupe_window)
    return float(minor.dedupe_radius_m), timedelta(minutes=limit.amount * _MINUTES[limit.unit])


_MINUTES = {LimitUnit.MINUTES: 1, LimitUnit.HOURS: 60, LimitUnit.DAYS: 24 * 60}


def urgent_limit(minor: CategoryMinor) -> TimeLimit | None:
    """The 紧急处置时限 that replaces ``handle`` for a case flagged urgent, if the 小类 has one."""
    return TimeLimit.parse(minor.urgent_handle_limit) if minor.urgent_handle_limit else None


# ---- writing ----------------------------------------------------------------------------------------


def _minor_values(spec: MinorSpec) -> dict[str, object]:
    values: dict[str, object] = {
        "name": spec.name,
        "filing_criteria": spec.filing_criteria,
        "closing_criteria": spec.closing_criteria,
        "responsible_unit": spec.responsible_unit,
        "urgent_handle_limit": spec.urgent_handle_limit,
        "legal_basis": spec.legal_basis,
        "is_active": spec.is_active,
        "dedupe_radius_m": spec.dedupe_radius_m,
        "dedupe_window": spec.dedupe_window,
    }
    for step in STEPS:
        values[f"{step}_limit"] = spec.limits[step]
    return values


def _apply(
    session: Session, *, bureau_id: int, majors: list[MajorSpec], overwrite: bool, replace: bool
) -> CatalogSummary:
    existing_majors = {
        m.code: m for m in session.scalars(select(CategoryMajor).where(CategoryMajor.bureau_id == bureau_id))
    }
    existing_minors = {
        m.code: m for m in session.scalars(select(CategoryMinor).where(CategoryMinor.bureau_id == bureau_id))
    }
    next_sort = max((m.sort for m in existing_majors.values()), default=0) + 1
    created = updated = deactivated = 0
    seen: set[str] = set()
    for position, spec in enumerate(majors, start=1):
        major = existing_majors.get(spec.code)
        if major is None:
            sort = position if overwrite else next_sort
            next_sort = max(next_sort, sort) + 1
            major = CategoryMajor(bureau_id=bureau_id, code=spec.code, name=spec.name, sort=sort)
            session.add(major)
            session.flush()
            existing_majors[spec.code] = major
        elif overwrite:
            major.name, major.sort = spec.name, position
        for minor_spec in spec.minors:
            seen.add(minor_spec.code)
            values = _minor_values(minor_spec)
            row = existing_minors.get(minor_spec.code)
            if row is None:
                session.add(CategoryMinor(bureau_id=bureau_id, major_id=major.id, code=minor_spec.code, **values))
                created += 1
            elif overwrite:
                values["major_id"] = major.id
                changed = {k: v for k, v in values.items() if getattr(row, k) != v}
                for key, value in changed.items():
                    setattr(row, key, value)
                updated += bool(changed)
    if replace:
        for code, row in existing_minors.items():
            if code not in seen and row.is_active:
                row.is_active = False
                deactivated += 1
    session.flush()
    for major in existing_majors.values():
        session.expire(major, ["minors", "all_minors"])
    major_count = session.scalar(
        select(func.count()).select_from(CategoryMajor).where(CategoryMajor.bureau_id == bureau_id)
    )
    minor_count = session.scalar(
        select(func.count())
        .select_from(CategoryMinor)
        .where(CategoryMinor.bureau_id == bureau_id, CategoryMinor.is_active.is_(True))
    )
    return CatalogSummary(
        bureau_id=bureau_id,
        majors=major_count or 0,
        minors=minor_count or 0,
        created=created,
        updated=updated,
        deactivated=deactivated,
    )


def _parse(text: str, fmt: str) -> list[MajorSpec]:
    if fmt == "yaml":
        return parse_yaml(text)
    if fmt == "csv":
        return parse_csv(text)
    raise ValidationFailed(f"不支持的目录格式：{fmt!r}（应为 yaml 或 csv）")


def seed_default_catalog(session: Session, *, bureau: Bureau) -> CatalogSummary:
    """Give ``bureau`` the built-in catalog. Idempotent: adds missing codes, never overwrites local edits."""
    majors = parse_yaml(default_catalog_text())
    return _apply(session, bureau_id=bureau.id, majors=majors, overwrite=False, replace=False)


def import_catalog(
    session: Session, *, bureau: Bureau, text: str, fmt: Literal["yaml", "csv"], replace: bool = False
) -> CatalogSummary:
    """Load a YAML or CSV catalog into ``bureau``'s own catalog (all-or-nothing: validated first).

    Upserts by code. With ``replace=True`` the bureau's minors absent from the file become inactive (never
    deleted: cases reference them); a minor present again is re-activated.
    """
    majors = _parse(text, fmt)
    return _apply(session, bureau_id=bureau.id, majors=majors, overwrite=True, replace=replace)


def _specs(session: Session, *, bureau_id: int) -> list[MajorSpec]:
    specs: list[MajorSpec] = []
    for major in list_catalog(session, bureau_id=bureau_id):
        spec = MajorSpec(code=major.code, name=major.name)
        for minor in major.minors:
            spec.minors.append(
                MinorSpec(
                    code=minor.code,
                    name=minor.name,
                    filing_criteria=minor.filing_criteria,
                    closing_criteria=minor.closing_criteria,
                    responsible_unit=minor.responsible_unit,
                    limits={step: getattr(minor, f"{step}_limit") for step in STEPS},
                    urgent_handle_limit=minor.urgent_handle_limit,
                    legal_basis=minor.legal_basis,
                    dedupe_radius_m=minor.dedupe_radius_m,
                    dedupe_window=minor.dedupe_window,
                )
            )
        specs.append(spec)
    return specs


def export_catalog(session: Session, *, bureau: Bureau, fmt: Literal["yaml", "csv"]) -> str:
    """The catalog ``bureau`` uses (its own, else the inherited one), active minors only.

    Round-trips with ``import_catalog``. CSV has Chinese headers and a UTF-8 BOM so Excel opens it.
    """
    specs = _specs(session, bureau_id=bureau.id)
    if fmt == "yaml":
        return render_yaml(specs, title=f"{bureau.name}（{bureau.code}）")
    if fmt == "csv":
        return render_csv(specs)
    raise ValidationFailed(f"不支持的目录格式：{fmt!r}（应为 yaml 或 csv）")
