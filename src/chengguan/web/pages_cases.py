"""Console pages about cases: the staff list (with its HTMX table), 我的上报, and a case's detail page."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from chengguan.cases import media as case_media
from chengguan.cases import queries
from chengguan.cases.access import get_case_for_user, get_own_report
from chengguan.cases.presenters import present_cases, present_detail
from chengguan.cases.public import present_public_detail
from chengguan.cases.states import PUBLIC_REPLY_ACTIONS, TRANSITIONS, Action, CaseState
from chengguan.geo import service as geo
from chengguan.http.deps import AppSettings, Db, OptionalUser
from chengguan.identity import access
from chengguan.identity.access import scope_of
from chengguan.identity.models import User
from chengguan.identity.roles import STAFF_ROLES, has_any
from chengguan.intake import service as intake
from chengguan.intake.presenters import present_reports
from chengguan.shared.errors import DomainError
from chengguan.web.pages_filters import ListFilters, PageFilters
from chengguan.web.render import (
    PAGE_SIZE,
    STATE_COLOURS,
    error_page,
    forbidden_page,
    map_settings,
    nav,
    page_user,
    render,
)

router = APIRouter(include_in_schema=False)
# Which extra input each action needs in the console (the note is shown for all, required where the rule says).
ACTION_INPUTS: dict[Action, str] = {Action.DISPATCH: "assignee", Action.REQUEST_EXTENSION: "extension"}
DANGER_ACTIONS = frozenset({Action.VOID, Action.REJECT, Action.VERIFY_FAIL, Action.RETURN, Action.DENY_EXTENSION})


def district_names(db: Db, user: User) -> dict[str, str]:
    scope = access.bureau_scope_ids(db, bureau_id=user.bureau_id)
    return {d.code: d.name for d in geo.list_districts(db, bureau_ids=scope)}


def _table_context(db: Db, user: User, f: ListFilters, cursor: str | None) -> dict[str, Any]:
    query = f.to_query()
    if f.mine:
        query = dataclasses.replace(query, assignee_id=user.id)
    page = queries.list_cases(
        db, scope=scope_of(db, user), filters=query, limit=PAGE_SIZE, cursor=cursor, with_total=cursor is None
    )
    base = f.params()
    return {
        "rows": present_cases(db, page.items, viewer=user),
        "total": page.total,
        "next_url": "/console/table?" + urlencode([*base, ("cursor", page.next_cursor)]) if page.next_cursor else None,
        "first_url": "/console/table?" + urlencode(base) if cursor else None,
        "districts": district_names(db, user),
        "paged": cursor is not None,
    }


@router.get("/console")
def console(
    request: Request,
    db: Db,
    user: OptionalUser,
    f: PageFilters,
) -> Response:
    me = page_user(request, user)
    if not has_any(me.roles, STAFF_ROLES):
        return RedirectResponse("/console/my", status_code=303)
    try:
        table = _table_context(db, me, f, None)
    except DomainError as exc:
        return error_page(request, me, exc)
    counts = queries.state_counts(db, scope=scope_of(db, me))
    chart = [
        {"state": s.value, "label": s.label, "count": counts.get(s.value, 0), "colour": STATE_COLOURS[s]}
        for s in CaseState
    ]
    open_total = sum(counts.get(s.value, 0) for s in CaseState if not s.is_terminal)
    return render(
        request,
        "console.html",
        {
            **nav(me, db),
            **table,
            "active": "list",
            "f": f,
            "chart": chart,
            "grand_total": sum(counts.values()),
            "open_total": open_total,
        },
    )


@router.get("/console/table")
def console_table(
    request: Request,
    db: Db,
    user: OptionalUser,
    f: PageFilters,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The HTMX fragment: the case table for the filters (and a keyset page)."""
    me = page_user(request, user)
    if not has_any(me.roles, STAFF_ROLES):
        return forbidden_page(request, me)
    try:
        table = _table_context(db, me, f, cursor or None)
    except DomainError as exc:
        return HTMLResponse(
            Markup('<div class="alert alert-error" role="alert">{}</div>').format(exc.detail), status_code=200
        )
    response = render(request, "_case_table.html", {**table, "f": f})
    response.headers["HX-Push-Url"] = "/console" + ("?" + urlencode(f.params()) if f.params() else "")
    return response


@router.get("/console/my")
def my_reports(
    request: Request, db: Db, user: OptionalUser, cursor: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    """我的上报: what the user reported, in the public view (citizens' home page)."""
    me = page_user(request, user)
    try:
        rows, next_cursor = intake.list_by_reporter(db, user_id=me.id, limit=PAGE_SIZE, cursor=cursor or None)
    except DomainError as exc:
        return error_page(request, me, exc)
    return render(
        request,
        "my_reports.html",
        {
            **nav(me),
            "active": "mine",
            "rows": present_reports(db, rows),
            "next_url": "/console/my?" + urlencode({"cursor": next_cursor}) if next_cursor else None,
        },
    )


# ------------------------------------------------------------------------------------------ case detail


@router.get("/console/cases/{case_no}")
def case_detail(case_no: str, request: Request, db: Db, user: OptionalUser, settings: AppSettings) -> Response:
    me = page_user(request, user)
    if not has_any(me.roles, STAFF_ROLES):  # reporters outside the bureau see the public timeline
        try:
            own = get_own_report(db, user=me, case_no=case_no)
        except DomainError as exc:
            return error_page(request, me, exc)
        public = present_public_detail(db, own, queries.history(db, case_id=own.id))
        return render(
            request,
            "public_case.html",
            {
                **nav(me),
                "active": "mine",
                "c": public,
                "timeline": list(reversed(public.timeline)),
                "my_media": case_media.reporter_media(db, case_id=own.id, reporter_id=me.id),
            },
        )
    try:
        case = get_case_for_user(db, user=me, case_no=case_no)
    except DomainError as exc:
        return error_page(request, me, exc)
    detail = present_detail(db, case, queries.history(db, case_id=case.id), viewer=me)
    assignee = db.get(User, case.assignee_id) if case.assignee_id else None
    actions = [
        {
            "action": a.value,
            "label": a.label,
            "input": ACTION_INPUTS.get(a, ""),
            "public_reply": a in PUBLIC_REPLY_ACTIONS,
            "note_required": TRANSITIONS[a].note_required,
            "danger": a in DANGER_ACTIONS,
        }
        for a in detail.available_actions
    ]
    return render(
        request,
        "case_detail.html",
        {
            **nav(me, db),
            "active": "list",
            "c": detail,
            "district_name": district_names(db, me).get(detail.district_code or "", ""),
            "assignee_name": assignee.display_name if assignee else "",
            "actions": actions,
            "history": list(reversed(detail.history)),
            "gallery": case_media.gallery(db, case=case),
            "state_labels": {s.value: s.label for s in CaseState},
            "point": {"lon": detail.lon, "lat": detail.lat, "case_no": detail.case_no},
            "map_settings": map_settings(settings),
        },
    )
