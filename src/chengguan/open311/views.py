"""The spec's documents built from our records: services, service definitions, discovery, and service requests
in the public view (``cases.public``: no reporter, no staff names, no internal notes, no grids).

Each function returns plain dicts and lists in the spec's field order; ``formats`` renders them as JSON or XML.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chengguan.cases.channels import Channel
from chengguan.cases.models import Case
from chengguan.cases.public import present_public, present_public_detail
from chengguan.cases.states import CaseState, Step
from chengguan.catalog.models import CategoryMinor
from chengguan.intake.models import Report
from chengguan.intake.states import ReportStatus
from chengguan.open311.definitions import LIST_TYPES, Question, ServiceSpec
from chengguan.open311.formats import w3c
from chengguan.open311.service import Found, published_media

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-30T00:00:00+08:00"  # when this endpoint's behaviour last changed
CONTACT = "如需帮助，请联系城市管理指挥中心（12345 政务服务热线）。"
KEY_SERVICE = "提交问题需要 api_key：由城市管理指挥中心为接入的应用创建（每个应用一个，仅保存其 SHA-256）。"


def discovery(url: str, *, production: bool) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": CONTACT,
        "key_service": KEY_SERVICE,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": CHANGESET,
                "type": "production" if production else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def service_row(minor: CategoryMinor, spec: ServiceSpec) -> dict[str, Any]:
    return {
        "service_code": minor.code,
        "service_name": minor.name,
        "description": minor.filing_criteria,
        "metadata": spec.metadata,
        "type": "realtime",
        "keywords": ", ".join(spec.keywords) or None,
        "group": minor.major.name,
    }


def _attribute(question: Question) -> dict[str, Any]:
    a = question.attribute
    row: dict[str, Any] = {
        "variable": a.variable,
        "code": a.code,
        "datatype": a.datatype,
        "required": question.required,
        "datatype_description": a.datatype_description,
        "order": question.order,
        "description": a.description,
    }
    if a.datatype in LIST_TYPES:
        row["values"] = [{"key": v.key, "name": v.name} for v in a.values]
    return row


def definition(minor: CategoryMinor, spec: ServiceSpec) -> dict[str, Any]:
    return {"service_code": minor.code, "attributes": [_attribute(q) for q in spec.questions]}


def posted(request_id: str | None, report: Report, account_id: str | None) -> dict[str, Any]:
    """The answer to a POST: the service request id when it is known at once, else the token to ask with."""
    notice = report.status_note or ReportStatus(report.status).label
    if request_id is not None:
        return {"service_request_id": request_id, "service_notice": notice, "account_id": account_id}
    return {"token": report.tracking_code, "service_notice": notice, "account_id": account_id}


def token(report: Report, request_id: str | None) -> dict[str, Any]:
    return {"service_request_id": request_id, "token": report.tracking_code}


def _notice(case: Case, minor: CategoryMinor) -> str | None:
    limit = (case.step_limits or {}).get(Step.HANDLE.value)
    return f"由{minor.responsible_unit}负责处置，处置时限 {limit}" if limit else None


def _absolute(base: str, url: str | None) -> str | None:
    """A link on this server (``/api/v1/media/...``) as a full URL; other URLs as they were given."""
    return base + url if url is not None and url.startswith("/") else url


def _case_request(
    session: Session, found: Found, case: Case, minor: CategoryMinor, *, notes: bool, base: str
) -> dict[str, Any]:
    events = found.events.get(case.id, [])
    public = present_public(case, minor, events)
    terminal = CaseState(case.state).is_terminal
    row: dict[str, Any] = {
        "service_request_id": case.case_no,
        "status": "closed" if terminal else "open",
        "status_notes": public.result or public.status,
        "service_name": minor.name,
        "service_code": minor.code,
        "description": public.description,
        "agency_responsible": found.bureau_names.get(case.bureau_id),
        "service_notice": _notice(case, minor),
        "requested_datetime": w3c(public.reported_at),
        "updated_datetime": w3c(case.updated_at),
        "expected_datetime": w3c(case.step_deadline) if case.step == Step.HANDLE.value else None,
        "address": public.address,
        "address_id": None,
        "zipcode": None,
        "lat": public.lat,
        "long": public.lon,
        "media_url": _absolute(base, found.media.get(case.id)),
    }
    if notes:
        timeline = present_public_detail(session, case, events).timeline
        row["notes"] = [
            {"type": "activity", "datetime": w3c(e.at), "summary": e.title, "description": e.text} for e in timeline
        ]
    return row


def _report_request(found: Found, report: Report, *, notes: bool, base: str) -> dict[str, Any]:
    """A report that ended without a case (forwarded, rejected): closed, with the reason told to its reporter."""
    code = report.category_code or report.claimed_category
    note = report.status_note or ReportStatus(report.status).label
    row: dict[str, Any] = {
        "service_request_id": report.tracking_code,
        "status": "closed",
        "status_notes": note,
        "service_name": found.minor_names.get(code or ""),
        "service_code": code,
        "description": report.text,
        "agency_responsible": found.bureau_names.get(report.bureau_id or 0),
        "service_notice": None,
        "requested_datetime": w3c(report.received_at),
        "updated_datetime": w3c(report.processed_at or report.received_at),
        "expected_datetime": None,
        "address": report.address,
        "address_id": None,
        "zipcode": None,
        "lat": report.lat,
        "long": report.lon,
        "media_url": _absolute(base, published_media(report.payload) if report.channel == Channel.OPEN311 else None),
    }
    if notes:
        at = w3c(report.processed_at or report.received_at)
        row["notes"] = [
            {"type": "closed", "datetime": at, "summary": ReportStatus(report.status).label, "description": note}
        ]
    return row


def requests(session: Session, found: Found, *, notes: bool, base: str) -> list[dict[str, Any]]:
    """The service requests in the public view; ``base`` is this server's URL (links to uploaded media)."""
    rows = [_case_request(session, found, case, minor, notes=notes, base=base) for case, minor in found.cases]
    return rows + [_report_request(found, r, notes=notes, base=base) for r in found.reports]
