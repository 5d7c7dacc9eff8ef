"""Outbox handlers for case changes: tell the reporter the outcome, tell the assignee about a task.

Recipients come from the message, which recorded them when the change happened (``service.record``); the
case is not read again, so a worker that runs late never sends a dispatch notice to whoever holds the case
by then.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chengguan.cases import reporters
from chengguan.cases.states import EXTENSION_LAPSED, REPORT_ACTION, REPORT_MERGED, Action
from chengguan.jobs import outbox
from chengguan.notify import service as notify

_REPORTER_MESSAGES = {
    REPORT_ACTION: "您反映的问题已收到，案件编号 {no}，我们将尽快处理。",
    REPORT_MERGED: "您反映的问题与其他反映相同，已并入案件 {no} 一并办理。",
    Action.ACCEPT.value: "您反映的问题（{no}）已受理。",
    Action.REJECT.value: "您反映的问题（{no}）经审核不予立案。",
    Action.VOID.value: "您反映的问题（{no}）已作废处理。",
    Action.CLOSE.value: "您反映的问题（{no}）已处理完毕并结案，感谢您的参与。",
}
_ASSIGNEE_MESSAGES = {
    Action.DISPATCH.value: "新任务：案件 {no} 已派遣给您，请及时签收处置。",
    Action.VERIFY_FAIL.value: "返工：案件 {no} 核查未通过，请重新处置。",
}
_REQUESTER_MESSAGES = {
    EXTENSION_LAPSED: "案件 {no} 的延期申请已因案件流转自动撤销，如仍需延期请重新申请。",
}


@outbox.handler("case.changed")
def on_case_changed(session: Session, payload: dict[str, Any]) -> None:
    no, action = payload["case_no"], payload["action"]
    if action in _REPORTER_MESSAGES:
        # every reporter who had joined by this step (reports merged later hear from then on; only the one
        # who just joined hears of a merge); cases from before reporters were recorded fall back to the one
        # the message carries
        joined = reporters.told_at(session, case_no=no, seq=payload["seq"])
        told = [(r.user_id, r.phone) for r in joined if action != REPORT_MERGED or r.since_seq == payload["seq"]]
        if not joined:
            told = [(payload.get("reporter_id"), payload.get("reporter_phone"))]
        for user_id, phone in dict.fromkeys(told):
            if user_id or phone:
                notify.send_in_app(
                    session,
                    user_id=user_id,
                    phone=phone,
                    subject=f"案件 {no} 进展",
                    body=_REPORTER_MESSAGES[action].format(no=no),
                    ref=no,
                )
    if action in _ASSIGNEE_MESSAGES and payload.get("assignee_id"):
        notify.send_in_app(
            session,
            user_id=payload["assignee_id"],
            phone=None,
            subject=f"案件 {no} 任务",
            body=_ASSIGNEE_MESSAGES[action].format(no=no),
            ref=no,
        )
    if action in _REQUESTER_MESSAGES and payload.get("notify_user_id"):
        notify.send_in_app(
            session,
            user_id=payload["notify_user_id"],
            phone=None,
            subject=f"案件 {no} 延期申请",
            body=_REQUESTER_MESSAGES[action].format(no=no),
            ref=no,
        )
