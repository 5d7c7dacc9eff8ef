"""Console pages of the human triage queue (人工分拣): reports that automatic processing could not decide.

A report lands here when it has no place, its pin and address disagree, or the text classifier is not sure
(``intake.classify``). The desk (受理派遣员、值班长) of the report's bureau or one above it sees the queue
through the same function as ``GET /api/v1/intake/triage`` and decides through the JSON API
(``POST /api/v1/intake/triage/{code}``): open a case with the 小类 and place it picks, join an open case,
forward the report to another department with a reason, or reject it with a reason. The classifier's top
guesses — departments, 小类 with their probabilities, and the words that weighed most — are shown beside
the text so the desk sees why the model hesitated.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chengguan.cases.channels import Channel
from chengguan.cases.models import Case
from chengguan.http.deps import AppSettings, Db, OptionalUser
from chengguan.identity import access
from chengguan.identity.models import User
from chengguan.identity.roles import DESK_ROLES, has_any
from chengguan.intake import classify
from chengguan.intake import service as intake
from chengguan.intake.api import TriageItemOut, triage_queue
from chengguan.intake.models import Report
from chengguan.intake.states import ReportStatus
from chengguan.shared.errors import DomainError, NotFound, PermissionDenied
from chengguan.web.render import error_page, map_settings, nav, page_user, render, templates

router = APIRouter(include_in_schema=False)
QUEUE_LIMIT = 200  # the most the queue API gives in one answer


def may_triage(user: User) -> bool:
    """Whether ``user`` is at the handling desk (the roles the triage API admits)."""
    return has_any(user.roles, DESK_ROLES)


templates.env.globals["may_triage"] = may_triage  # base.html shows the 人工分拣 link to the desk only


def _channel_label(value: str) -> str:
    try:
        return Channel(value).label
    except ValueError:
        return value


def hints(classification: dict[str, Any] | None) -> dict[str, Any] | None:
    """The classifier's answer as the desk reads it: ranked departments and 小类 with names and percentages."""
    if not classification:
        return None
    names = classify.category_names()
    departments = [
        {"label": str(d), "name": classify.DEPARTMENT_NAMES.get(str(d), str(d)), "pct": round(100 * float(p))}
        for d, p in dict(classification.get("departments") or {}).items()
    ]
    categories = [
        {"code": str(c), "name": names.get(str(c), str(c)), "pct": round(100 * float(p))}
        for c, p in dict(classification.get("categories") or {}).items()
    ]
    city = bool(classification.get("city_management"))
    department = str(classification.get("department") or "")
    return {
        "city_management": city,
        "verdict": "城管职责" if city else "可能属于" + classify.DEPARTMENT_NAMES.get(department, "其他部门"),
        "confidence_pct": round(100 * float(classification.get("confidence") or 0)),
        "threshold_pct": round(100 * float(classification.get("threshold") or 0)),
        "p_city_pct": round(100 * float(classification.get("p_city_management") or 0)),
        "departments": departments,
        "categories": categories,
        "terms": [str(t) for t in classification.get("terms") or []],
        "model": str(classification.get("model") or ""),
    }


def _top_guess(item: TriageItemOut) -> str:
    h = hints(item.classification)
    if h is None:
        return "—"
    if h["city_management"] and h["categories"]:
        top = h["categories"][0]
        return f"{top['code']} {top['name']}（{h['confidence_pct']}%）"
    return f"{h['verdict']}（{h['confidence_pct']}%）"


@router.get("/console/triage")
def triage_list(request: Request, db: Db, user: OptionalUser) -> Response:
    me = page_user(request, user)
    if not may_triage(me):
        return error_page(request, me, PermissionDenied("人工分拣仅限受理派遣员、值班长"))
    items = triage_queue(db, me, QUEUE_LIMIT)
    rows = [
        {
            "tracking_code": i.tracking_code,
            "channel_label": _channel_label(i.channel),
            "received_at": i.received_at,
            "description": i.description,
            "address": i.address,
            "reason": i.status_note,
            "guess": _top_guess(i),
            "located": i.lon is not None and i.lat is not None,
        }
        for i in items
    ]
    return render(
        request,
        "triage.html",
        {**nav(me, db), "active": "triage", "rows": rows, "full": len(rows) >= QUEUE_LIMIT},
    )


def _report_for_desk(db: Db, user: User, code: str) -> Report:
    """A report the desk may decide: the same scope as the triage API (its bureau or one below, or unplaced)."""
    report = intake.get_by_tracking_code(db, code=code)
    scope = access.bureau_scope_ids(db, bureau_id=user.bureau_id)
    if report.bureau_id is not None and report.bureau_id not in scope:
        raise NotFound(f"没有找到跟踪编号为 {code} 的上报")
    return report


@router.get("/console/triage/{tracking_code}")
def triage_detail(tracking_code: str, request: Request, db: Db, user: OptionalUser, settings: AppSettings) -> Response:
    me = page_user(request, user)
    if not may_triage(me):
        return error_page(request, me, PermissionDenied("人工分拣仅限受理派遣员、值班长"))
    try:
        report = _report_for_desk(db, me, tracking_code[:64])
    except DomainError as exc:
        return error_page(request, me, exc)
    h = hints(report.classification)
    case = db.get(Case, report.case_id) if report.case_id is not None else None
    other_departments = {k: v for k, v in classify.DEPARTMENT_NAMES.items() if k != classify.CITY}
    suggested_department = next(
        (d["label"] for d in (h["departments"] if h else []) if d["label"] in other_departments), ""
    )
    suggested_category = report.category_code or report.claimed_category or ""
    if not suggested_category and h and h["categories"]:
        suggested_category = h["categories"][0]["code"]
    return render(
        request,
        "triage_detail.html",
        {
            **nav(me, db),
            "active": "triage",
            "r": report,
            "status": ReportStatus(report.status),
            "open": report.status == ReportStatus.TRIAGE,
            "channel_label": _channel_label(report.channel),
            "hints": h,
            "departments": other_departments,
            "suggested_department": suggested_department,
            "suggested_category": suggested_category,
            "case_no": case.case_no if case is not None else None,
            "point": {"lon": report.lon, "lat": report.lat} if report.lon is not None else None,
            "map_settings": map_settings(settings),
        },
    )
