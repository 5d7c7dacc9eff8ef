"""The transition table, read as the bureau's rules."""

from __future__ import annotations

import pytest

from chengguan.cases.states import (
    STEP_OF_STATE,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    CaseState,
    Refusal,
    Situation,
    available_actions,
    decide,
)
from chengguan.identity.roles import Role

DISPATCHER = frozenset({Role.DISPATCHER.value})
SHIFT_LEADER = frozenset({Role.SHIFT_LEADER.value})
OFFICER = frozenset({Role.OFFICER.value})
GRID = frozenset({Role.GRID_WORKER.value})
CITIZEN = frozenset({Role.CITIZEN.value})


def at(state: CaseState, roles: frozenset[str], **kw: object) -> Situation:
    return Situation(state=state, actor_roles=roles, **kw)  # type: ignore[arg-type]


def test_the_standard_path_from_report_to_closing() -> None:
    path = [
        (Action.ACCEPT, DISPATCHER, {}),
        (Action.FILE, SHIFT_LEADER, {}),
        (Action.DISPATCH, DISPATCHER, {"assignee_given": True}),
        (Action.START, OFFICER, {"acts_for_assignee": True}),
        (Action.FEEDBACK, OFFICER, {"acts_for_assignee": True, "note": "已清理"}),
        (Action.VERIFY_PASS, GRID, {}),
        (Action.CLOSE, SHIFT_LEADER, {}),
    ]
    state = CaseState.REPORTED
    for action, roles, kw in path:
        decision = decide(action, at(state, roles, **kw))
        assert decision.allowed, (action, state, decision.refusal)
        assert decision.target is not None
        state = decision.target
    assert state is CaseState.CLOSED


def test_failed_verification_sends_the_task_back_for_rework() -> None:
    d = decide(Action.VERIFY_FAIL, at(CaseState.HANDLED, GRID, note="问题仍在"))
    assert d.target is CaseState.DISPATCHED


def test_a_unit_can_hand_a_task_back_to_the_dispatcher() -> None:
    d = decide(Action.RETURN, at(CaseState.PROCESSING, OFFICER, acts_for_assignee=True, note="非本单位职责"))
    assert d.target is CaseState.FILED


@pytest.mark.parametrize(
    ("action", "situation", "reason"),
    [
        (Action.CLOSE, at(CaseState.REPORTED, SHIFT_LEADER), Refusal.ILLEGAL_FROM_STATE),
        (Action.ACCEPT, at(CaseState.CLOSED, DISPATCHER), Refusal.ILLEGAL_FROM_STATE),
        (Action.FILE, at(CaseState.ACCEPTED, DISPATCHER), Refusal.ROLE_NOT_ALLOWED),
        (Action.ACCEPT, at(CaseState.REPORTED, CITIZEN), Refusal.ROLE_NOT_ALLOWED),
        (Action.REJECT, at(CaseState.ACCEPTED, SHIFT_LEADER, note="  "), Refusal.NOTE_REQUIRED),
        (Action.DISPATCH, at(CaseState.FILED, DISPATCHER), Refusal.ASSIGNEE_REQUIRED),
        (Action.START, at(CaseState.DISPATCHED, OFFICER, acts_for_assignee=False), Refusal.NOT_ASSIGNEE),
        (
            Action.REQUEST_EXTENSION,
            at(
                CaseState.PROCESSING,
                OFFICER,
                acts_for_assignee=True,
                note="需预约",
                extension_pending=True,
                extension_given=True,
            ),
            Refusal.EXTENSION_ALREADY_PENDING,
        ),
        (
            Action.REQUEST_EXTENSION,
            at(CaseState.PROCESSING, OFFICER, acts_for_assignee=True, note="需预约"),
            Refusal.EXTENSION_REQUIRED,
        ),
        (Action.APPROVE_EXTENSION, at(CaseState.PROCESSING, SHIFT_LEADER), Refusal.NO_PENDING_EXTENSION),
    ],
)
def test_refusals_carry_a_reason(action: Action, situation: Situation, reason: Refusal) -> None:
    assert decide(action, situation).refusal is reason


def test_a_squad_leader_acts_for_the_assignee_only_when_the_scope_rule_says_so() -> None:
    leader = frozenset({Role.SQUAD_LEADER.value})
    assert decide(Action.START, at(CaseState.DISPATCHED, leader, acts_for_assignee=True)).allowed
    # the role alone is not enough: another squad's leader, or a liaison of another department, is refused
    assert decide(Action.START, at(CaseState.DISPATCHED, leader)).refusal is Refusal.NOT_ASSIGNEE
    liaison = frozenset({Role.DEPARTMENT_LIAISON.value})
    assert decide(Action.FEEDBACK, at(CaseState.PROCESSING, liaison, note="已修复")).refusal is Refusal.NOT_ASSIGNEE


def test_resume_returns_to_the_state_the_case_was_suspended_from() -> None:
    d = decide(Action.RESUME, at(CaseState.SUSPENDED, SHIFT_LEADER, suspended_from=CaseState.DISPATCHED))
    assert d.target is CaseState.DISPATCHED


def test_extension_actions_keep_the_state() -> None:
    d = decide(Action.APPROVE_EXTENSION, at(CaseState.PROCESSING, SHIFT_LEADER, extension_pending=True))
    assert d.target is CaseState.PROCESSING


def test_nothing_leaves_a_terminal_state() -> None:
    for state in TERMINAL_STATES:
        for roles in (DISPATCHER, SHIFT_LEADER, OFFICER, GRID):
            assert available_actions(at(state, roles)) == []


def test_every_open_state_has_a_clock_and_someone_who_can_move_it() -> None:
    for state in CaseState:
        if state in TERMINAL_STATES:
            continue
        if state is not CaseState.SUSPENDED:
            assert state in STEP_OF_STATE
        movers = {r for r in Role if available_actions(at(state, frozenset({r.value}), acts_for_assignee=True))}
        assert movers, state


def test_citizens_and_auditors_can_take_no_action() -> None:
    for state in CaseState:
        for role in (Role.CITIZEN, Role.AUDITOR, Role.ADMIN):
            assert available_actions(at(state, frozenset({role.value}), acts_for_assignee=True)) == []


def test_every_action_has_a_rule_with_roles() -> None:
    assert set(TRANSITIONS) == set(Action)
    assert all(rule.roles for rule in TRANSITIONS.values())
