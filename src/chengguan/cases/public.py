"""The reporter's view of a case: a plain-language timeline with times and the public answer.

Built from the case and its history, never from the staff view with fields removed: no staff names, no
internal notes, no grid codes, no event data except the answer written for the reporter (``public_reply``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from chengguan.cases.media import result_media
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.schemas import PublicCaseDetailOut, PublicCaseOut, PublicEventOut
from chengguan.cases.states import REPORT_ACTION, REPORT_MERGED, Action, CaseState
from chengguan.catalog.models import CategoryMinor

PUBLIC_STATUS: dict[CaseState, str] = {
    CaseState.REPORTED: "已提交",
    CaseState.ACCEPTED: "已受理",
    CaseState.FILED: "已受理",
    CaseState.DISPATCHED: "处理中",
    CaseState.PROCESSING: "处理中",
    CaseState.HANDLED: "处理中",
    CaseState.VERIFIED: "处理中",
    CaseState.SUSPENDED: "暂缓处理",
    CaseState.CLOSED: "已办结",
    CaseState.NOT_FILED: "不予立案",
    CaseState.VOIDED: "已作废",
}

# (title, default text) per history action; actions not listed are internal and left out of the timeline.
PUBLIC_STEPS: dict[str, tuple[str, str | None]] = {
    REPORT_ACTION: ("已提交", "您反映的问题已提交，我们将尽快受理。"),
    REPORT_MERGED: ("其他市民反映了同一问题", "同一问题的多条反映已合并办理，办理结果将告知每一位反映人。"),
    Action.ACCEPT.value: ("已受理", "您反映的问题已受理。"),
    Action.FILE.value: ("已立案", "经核实属于城市管理问题，已立案并安排处置。"),
    Action.REJECT.value: ("不予立案", "经核实，该问题不属于城市管理执法事项，不予立案。"),
    Action.VOID.value: ("已作废", "该反映已作废处理。"),
    Action.DISPATCH.value: ("已派出处置人员", "已安排处置人员前往处理。"),
    Action.START.value: ("处置人员已接单", None),
    Action.FEEDBACK.value: ("现场处置完毕", "处置人员已完成现场处置，等待核查。"),
    Action.VERIFY_PASS.value: ("核查通过", None),
    Action.VERIFY_FAIL.value: ("复核未通过，重新处置", None),
    Action.APPROVE_EXTENSION.value: ("处置期限已延长", None),
    Action.SUSPEND.value: ("暂缓处理", "该问题需要协调，暂缓处理，恢复后将继续办理。"),
    Action.RESUME.value: ("恢复处理", None),
    Action.CLOSE.value: ("已办结", "您反映的问题已处理完毕，感谢您的参与。"),
}


def _result(events: Sequence[CaseEvent]) -> str | None:
    for e in reversed(events):
        reply = (e.data or {}).get("public_reply")
        if reply:
            return str(reply)
    return None


def present_public(case: Case, minor: CategoryMinor, events: Sequence[CaseEvent] = ()) -> PublicCaseOut:
    return PublicCaseOut(
        case_no=case.case_no,
        status=PUBLIC_STATUS[CaseState(case.state)],
        category_name=minor.name,
        description=case.description,
        address=case.address,
        lon=case.lon,
        lat=case.lat,
        reported_at=case.reported_at,
        closed_at=case.closed_at,
        result=_result(events),
    )


def present_public_detail(session: Session, case: Case, events: Sequence[CaseEvent]) -> PublicCaseDetailOut:
    timeline = []
    for e in events:
        step = PUBLIC_STEPS.get(e.action)
        if step is None:
            continue
        title, text = step
        reply = (e.data or {}).get("public_reply")
        timeline.append(PublicEventOut(at=e.at, title=title, text=str(reply) if reply else text))
    base = present_public(case, session.get_one(CategoryMinor, case.category_id), events)
    return PublicCaseDetailOut(**base.model_dump(), timeline=timeline, photos=result_media(session, case_id=case.id))


def present_public_list(session: Session, cases: Sequence[Case]) -> list[PublicCaseOut]:
    minors = {c.category_id: session.get_one(CategoryMinor, c.category_id) for c in cases}
    return [present_public(c, minors[c.category_id]) for c in cases]
