"""The category catalog for forms and filters: the user's bureau's own, else the one it inherits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from chengguan.catalog import service as catalog
from chengguan.http.deps import CurrentUser, Db

router = APIRouter(prefix="/api/v1/catalog", tags=["案件类别"])


@router.get("", summary="案件类别目录（大类、小类、立案与结案条件、时限）")
def list_catalog(db: Db, user: CurrentUser) -> list[dict[str, Any]]:
    return [
        {
            "code": major.code,
            "name": major.name,
            "minors": [
                {
                    "code": m.code,
                    "name": m.name,
                    "filing_criteria": m.filing_criteria,
                    "closing_criteria": m.closing_criteria,
                    "responsible_unit": m.responsible_unit,
                    "limits": {step: str(limit) for step, limit in catalog.step_limits(m).items()},
                    "legal_basis": m.legal_basis,
                }
                for m in major.minors
            ],
        }
        for major in catalog.list_catalog(db, bureau_id=user.bureau_id)
    ]
