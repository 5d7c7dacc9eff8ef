"""The case workflow as an explicit transition table (pure: no I/O, no clock).

信息收集 → 案卷建立 (受理 → 立案 | 不予立案) → 任务派遣 → 任务处理 (签收 → 处理反馈) → 核查 → 结案,
with 回退 (a unit hands a task back to the dispatcher), 返工 (verification failed: back to the unit),
延期 (extension request and approval), 挂账 (suspend/resume) and 作废 (void).

``decide()`` answers one question: may this actor take this action on a case in this state? It returns
either the target state or a ``Refusal`` with a machine-readable reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chengguan.identity.roles import FIELD_ROLES, Role


class CaseState(StrEnum):
    REPORTED = "reported"  # 信息收集，待受理
    ACCEPTED = "accepted"  # 已受理，待立案
    FILED = "filed"  # 已立案，待派遣
    DISPATCHED = "dispatched"  # 已派遣，待签收
    PROCESSING = "processing"  # 处置中
    HANDLED = "handled"  # 已反馈，待核查
    VERIFIED = "verified"  # 核查通过，待结案
    CLOSED = "closed"  # 已结案
    NOT_FILED = "not_filed"  # 不予立案
    SUSPENDED = "suspended"  # 挂账
    VOIDED = "voided"  # 作废

    @property
    def label(self) -> str:
        return STATE_LABELS[self]

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


STATE_LABELS: dict[CaseState, str] = {
    CaseState.REPORTED: "待受理",
    CaseState.ACCEPTED: "待立案",
    CaseState.FILED: "待派遣",
    CaseState.DISPATCHED: "待签收",
    CaseState.PROCESSING: "处置中",
    CaseState.HANDLED: "待核查",
    CaseState.VERIFIED: "待结案",
    CaseState.CLOSED: "已结案",
    CaseState.NOT_FILED: "不予立案",
    CaseState.SUSPENDED: "挂账",
    CaseState.VOIDED: "已作废",
}
TERMINAL_STATES = frozenset({CaseState.CLOSED, CaseState.NOT_FILED, CaseState.VOIDED})
OPEN_STATES = frozenset(CaseState) - TERMINAL_STATES


class Step(StrEnum):
    """SLA steps; each has a time limit in the category catalog."""

    ACCEPT = "accept"
    FILE = "file"
    DISPATCH = "dispatch"
    HANDLE = "handle"
    VERIFY = "verify"
    CLOSE = "close"

    @property
    def label(self) -> str:
        return STEP_LABELS[self]


STEP_LABELS = {
    Step.ACCEPT: "受理",
    Step.FILE: "立案",
    Step.DISPATCH: "派遣",
    Step.HANDLE: "处置",
    Step.VERIFY: "核查",
    Step.CLOSE: "结案",
}

# Which SLA clock runs while a case is in a state. DISPATCHED and PROCESSING share the 处置 clock: it starts
# at dispatch and does not restart when the unit signs for the task.
STEP_OF_STATE: dict[CaseState, Step] = {
    CaseState.REPORTED: Step.ACCEPT,
    CaseState.ACCEPTED: Step.FILE,
    CaseState.FILED: Step.DISPATCH,
    CaseState.DISPATCHED: Step.HANDLE,
    CaseState.PROCESSING: Step.HANDLE,
    CaseState.HANDLED: Step.VERIFY,
    CaseState.VERIFIED: Step.CLOSE,
}


class Action(StrEnum):
    ACCEPT = "accept"  # 受理
    FILE = "file"  # 立案
    REJECT = "reject"  # 不予立案
    DISPATCH = "dispatch"  # 派遣
    START = "start"  # 签收
    RETURN = "return"  # 回退
    FEEDBACK = "feedback"  # 处理反馈
    VERIFY_PASS = "verify_pass"  # noqa: S105 - 核查通过, not a password
    VERIFY_FAIL = "verify_fail"  # 核查不通过，返工
    CLOSE = "close"  # 结案
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    APPROVE_EXTENSION = "approve_extension"  # 批准延期
    DENY_EXTENSION = "deny_extension"  # 驳回延期
    SUSPEND = "suspend"  # 挂账
    RESUME = "resume"  # 恢复
    VOID = "void"  # 作废

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: dict[Action, str] = {
    Action.ACCEPT: "受理",
    Action.FILE: "立案",
    Action.REJECT: "不予立案",
    Action.DISPATCH: "派遣",
    Action.START: "签收",
    Action.RETURN: "回退",
    Action.FEEDBACK: "处理反馈",
    Action.VERIFY_PASS: "核查通过",
    Action.VERIFY_FAIL: "核查不通过（返工）",
    Action.CLOSE: "结案",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.DENY_EXTENSION: "驳回延期",
    Action.SUSPEND: "挂账",
    Action.RESUME: "恢复",
    Action.VOID: "作废",
}
# The report itself is recorded in the history with this action name (it is not a transition).
REPORT_ACTION = "report"
# Another report of the same problem joined the case (intake merged it): recorded under this name.
REPORT_MERGED = "report_merged"
# A pending 延期 request that a transition makes moot (回退, 挂账, 处理反馈 ...) is closed with its own
# history row under this name, so nothing pending is ever dropped silently.
EXTENSION_LAPSED = "extension_lapsed"


class Refusal(StrEnum):
    ILLEGAL_FROM_STATE = "illegal_from_state"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    NOTE_REQUIRED = "note_required"
    ASSIGNEE_REQUIRED = "assignee_required"
    NOT_ASSIGNEE = "not_assignee"
    EXTENSION_REQUIRED = "extension_required"
    EXTENSION_ALREADY_PENDING = "extension_already_pending"
    NO_PENDING_EXTENSION = "no_pending_extension"

    @property
    def label(self) -> str:
        return REFUSAL_LABELS[self]


REFUSAL_LABELS: dict[Refusal, str] = {
    Refusal.ILLEGAL_FROM_STATE: "案件当前状态不允许此操作",
    Refusal.ROLE_NOT_ALLOWED: "当前角色无权执行此操作",
    Refusal.NOTE_REQUIRED: "此操作必须填写理由或处置说明",
    Refusal.ASSIGNEE_REQUIRED: "派遣必须指定处置人员",
    Refusal.NOT_ASSIGNEE: "只有被派遣的处置人员、其所在中队的中队长或其所属部门的联络员可以执行此操作",
    Refusal.EXTENSION_REQUIRED: "申请延期必须填写延期时长",
    Refusal.EXTENSION_ALREADY_PENDING: "已有待审批的延期申请",
    Refusal.NO_PENDING_EXTENSION: "没有待审批的延期申请",
}

# Actions whose record may carry an answer for the reporter (the public result text).
PUBLIC_REPLY_ACTIONS = frozenset({Action.REJECT, Action.VOID, Action.CLOSE})
SUSPENDABLE = frozenset({CaseState.ACCEPTED, CaseState.FILED, CaseState.DISPATCHED, CaseState.PROCESSING})
EXTENDABLE = frozenset({CaseState.DISPATCHED, CaseState.PROCESSING})


@dataclass(frozen=True)
class Rule:
    sources: frozenset[CaseState]
    target: CaseState | None  # None: stays in the state (extension actions); RESUME: computed
    roles: frozenset[Role]
    note_required: bool = False
    assignee_only: bool = False  # field actions: the assignee or someone who may act for them (identity.access)


def _s(*states: CaseState) -> frozenset[CaseState]:
    return frozenset(states)


def _r(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


TRANSITIONS: dict[Action, Rule] = {
    Action.ACCEPT: Rule(_s(CaseState.REPORTED), CaseState.ACCEPTED, _r(Role.DISPATCHER, Role.SHIFT_LEADER)),
    Action.VOID: Rule(
        _s(CaseState.REPORTED, CaseState.ACCEPTED),
        CaseState.VOIDED,
        _r(Role.DISPATCHER, Role.SHIFT_LEADER),
        note_required=True,
    ),
    Action.FILE: Rule(_s(CaseState.ACCEPTED), CaseState.FILED, _r(Role.SHIFT_LEADER)),
    Action.REJECT: Rule(_s(CaseState.ACCEPTED), CaseState.NOT_FILED, _r(Role.SHIFT_LEADER), note_required=True),
    Action.DISPATCH: Rule(_s(CaseState.FILED), CaseState.DISPATCHED, _r(Role.DISPATCHER, Role.SHIFT_LEADER)),
    Action.START: Rule(_s(CaseState.DISPATCHED), CaseState.PROCESSING, FIELD_ROLES, assignee_only=True),
    Action.RETURN: Rule(
        _s(CaseState.DISPATCHED, CaseState.PROCESSING),
        CaseState.FILED,
        FIELD_ROLES,
        note_required=True,
        assignee_only=True,
    ),
    Action.FEEDBACK: Rule(
        _s(CaseState.PROCESSING), CaseState.HANDLED, FIELD_ROLES, note_required=True, assignee_only=True
    ),
    Action.VERIFY_PASS: Rule(_s(CaseState.HANDLED), CaseState.VERIFIED, _r(Role.GRID_WORKER, Role.DISPATCHER)),
    Action.VERIFY_FAIL: Rule(
        _s(CaseState.HANDLED), CaseState.DISPATCHED, _r(Role.GRID_WORKER, Role.DISPATCHER), note_required=True
    ),
    Action.CLOSE: Rule(_s(CaseState.VERIFIED), CaseState.CLOSED, _r(Role.SHIFT_LEADER)),
    Action.REQUEST_EXTENSION: Rule(EXTENDABLE, None, FIELD_ROLES, note_required=True, assignee_only=True),
    Action.APPROVE_EXTENSION: Rule(EXTENDABLE, None, _r(Role.SHIFT_LEADER)),
    Action.DENY_EXTENSION: Rule(EXTENDABLE, None, _r(Role.SHIFT_LEADER), note_required=True),
    Action.SUSPEND: Rule(SUSPENDABLE, CaseState.SUSPENDED, _r(Role.SHIFT_LEADER), note_required=True),
    Action.RESUME: Rule(_s(CaseState.SUSPENDED), None, _r(Role.SHIFT_LEADER)),
}


@dataclass(frozen=True)
class Situation:
    """What ``decide`` needs to know about the case and the request."""

    state: CaseState
    actor_roles: frozenset[str]
    acts_for_assignee: bool = False  # the assignee, or their squad leader / department liaison
    note: str | None = None
    assignee_given: bool = False
    extension_given: bool = False
    extension_pending: bool = False
    suspended_from: CaseState | None = None


@dataclass(frozen=True)
class Decision:
    target: CaseState | None = None
    refusal: Refusal | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def decide(action: Action, s: Situation) -> Decision:
    rule = TRANSITIONS[action]
    if s.state not in rule.sources:
        return Decision(refusal=Refusal.ILLEGAL_FROM_STATE)
    if not (s.actor_roles & {r.value for r in rule.roles}):
        return Decision(refusal=Refusal.ROLE_NOT_ALLOWED)
    if rule.assignee_only and not s.acts_for_assignee:
        return Decision(refusal=Refusal.NOT_ASSIGNEE)
    if rule.note_required and not (s.note and s.note.strip()):
        return Decision(refusal=Refusal.NOTE_REQUIRED)
    if action is Action.DISPATCH and not s.assignee_given:
        return Decision(refusal=Refusal.ASSIGNEE_REQUIRED)
    if action is Action.REQUEST_EXTENSION:
        if s.extension_pending:
            return Decision(refusal=Refusal.EXTENSION_ALREADY_PENDING)
        if not s.extension_given:
            return Decision(refusal=Refusal.EXTENSION_REQUIRED)
    if action in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION) and not s.extension_pending:
        return Decision(refusal=Refusal.NO_PENDING_EXTENSION)
    if action is Action.RESUME:
        return Decision(target=s.suspended_from or CaseState.ACCEPTED)
    return Decision(target=rule.target if rule.target is not None else s.state)


def available_actions(s: Situation) -> list[Action]:
    """Actions this actor could take now (notes and assignees aside): drives the console's buttons."""
    probe = Situation(
        state=s.state,
        actor_roles=s.actor_roles,
        acts_for_assignee=s.acts_for_assignee,
        note="x",
        assignee_given=True,
        extension_given=True,
        extension_pending=s.extension_pending,
        suspended_from=s.suspended_from,
    )
    return [a for a in Action if decide(a, probe).allowed]
