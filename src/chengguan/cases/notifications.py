"""Outbox handlers for case changes: tell the reporter the outcome, tell the assignee about a task."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case
from chengguan.cases.states import REPORT_ACTION, Action
from chengguan.jobs import outbox
from chengguan.notify import service as notify

_REPORTER_MESSAGES = {
    REPORT_ACTION: "您反映的问题已收到，案件编号 {no}，我们将尽快处理。",
    Action.ACCEPT.value: "您反映的问题（{no}）已受理。",
    Action.REJECT.value: "您反映的问题（{no}）经审核不予立案。",
    Action.VOID.value: "您反映的问题（{no}）已作废处理。",
    Action.CLOSE.value: "您反映的问题（{no}）已处理完毕并结案，感谢您的参与。",
}
_ASSIGNEE_MESSAGES = {
    Action.DISPATCH.value: "新任务：案件 {no} 已派遣给您，请及时签收处置。",
    Action.VERIFY_FAIL.value: "返工：案件 {no} 核查未通过，请重新处置。",
}


@outbox.handler("case.changed")
def on_case_changed(session: Session, payload: dict[str, Any]) -> None:
    case = session.scalars(select(Case).where(Case.case_no == payload["case_no"])).one()
    action = payload["action"]
    if action in _REPORTER_MESSAGES and (case.reporter_id or case.reporter_phone):
        notify.send_in_app(
            session,
            user_id=case.reporter_id,
            phone=case.reporter_phone,
            subject=f"案件 {case.case_no} 进展",
            body=_REPORTER_MESSAGES[action].format(no=case.case_no),
            ref=case.case_no,
        )
    if action in _ASSIGNEE_MESSAGES and case.assignee_id:
        notify.send_in_app(
            session,
            user_id=case.assignee_id,
            phone=None,
            subject=f"案件 {case.case_no} 任务",
            body=_ASSIGNEE_MESSAGES[action].format(no=case.case_no),
            ref=case.case_no,
        )
