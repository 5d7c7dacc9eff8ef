"""Outbox handlers for case changes: tell the reporter the outcome, tell the assignee about a task.

Recipients come from the message, which recorded them when the change happened (``service.record``); the
case is not read again (only its bureau, which decides which administrators see the notification), so a
worker that runs late never sends a dispatch notice to whoever holds the case by then. The texts are templates
with variables (``chengguan.notify.templates``); how each reaches a person is ``chengguan.notify``'s business.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases import reporters
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case, CaseReporter
from chengguan.cases.states import EXTENSION_LAPSED, REPORT_ACTION, REPORT_MERGED, Action
from chengguan.jobs import outbox
from chengguan.notify import delivery  # noqa: F401 - registers the delivery handler
from chengguan.notify import service as notify

# action → template key (chengguan.notify.templates holds the zh-CN texts with their variables)
_REPORTER_TEMPLATES = {
    REPORT_ACTION: "case.reported",
    REPORT_MERGED: "case.merged",
    Action.ACCEPT.value: "case.accepted",
    Action.REJECT.value: "case.rejected",
    Action.VOID.value: "case.voided",
    Action.CLOSE.value: "case.closed",
}
_ASSIGNEE_TEMPLATES = {
    Action.DISPATCH.value: "task.dispatched",
    Action.VERIFY_FAIL.value: "task.rework",
}
_REQUESTER_TEMPLATES = {
    EXTENSION_LAPSED: "extension.lapsed",
}


def _address(reporter: CaseReporter) -> tuple[int | None, str | None]:
    """Whom to tell: the account, or the phone. A 12345 call is entered by the desk's account on the caller's
    behalf: the caller, by the phone they gave, is the one to hear of it (not the desk)."""
    if reporter.channel == Channel.HOTLINE_12345.value and reporter.phone:
        return None, reporter.phone
    return reporter.user_id, reporter.phone


@outbox.handler("case.changed")
def on_case_changed(session: Session, payload: dict[str, Any]) -> None:
    no, action = payload["case_no"], payload["action"]
    params = {"no": no}
    bureau_id = session.scalar(select(Case.bureau_id).where(Case.case_no == no))
    if action in _REPORTER_TEMPLATES:
        # every reporter who had joined by this step (reports merged later hear from then on; only the one
        # who just joined hears of a merge); cases from before reporters were recorded fall back to the one
        # the message carries
        joined = reporters.told_at(session, case_no=no, seq=payload["seq"])
        told = [_address(r) for r in joined if action != REPORT_MERGED or r.since_seq == payload["seq"]]
        if not joined:
            told = [(payload.get("reporter_id"), payload.get("reporter_phone"))]
        for user_id, phone in dict.fromkeys(told):
            if user_id or phone:
                notify.send(
                    session,
                    template=_REPORTER_TEMPLATES[action],
                    params=params,
                    user_id=user_id,
                    phone=phone,
                    ref=no,
                    bureau_id=bureau_id,
                )
    if action in _ASSIGNEE_TEMPLATES and payload.get("assignee_id"):
        notify.send(
            session,
            template=_ASSIGNEE_TEMPLATES[action],
            params=params,
            user_id=payload["assignee_id"],
            ref=no,
            bureau_id=bureau_id,
        )
    if action in _REQUESTER_TEMPLATES and payload.get("notify_user_id"):
        notify.send(
            session,
            template=_REQUESTER_TEMPLATES[action],
            params=params,
            user_id=payload["notify_user_id"],
            ref=no,
            bureau_id=bureau_id,
        )
