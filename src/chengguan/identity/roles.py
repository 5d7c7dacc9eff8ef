"""Roles of the bureau and the citizens it serves (pure data, no I/O)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CITIZEN = "citizen"
    GRID_WORKER = "grid_worker"  # 网格员 / 监督员
    OFFICER = "officer"  # 执法队员
    SQUAD_LEADER = "squad_leader"  # 中队长
    DISPATCHER = "dispatcher"  # 受理员 / 派遣员
    SHIFT_LEADER = "shift_leader"  # 值班长
    LEGAL_REVIEWER = "legal_reviewer"  # 法制审核员
    DEPARTMENT_LIAISON = "department_liaison"  # 部门联络员 (责任单位)
    ADMIN = "admin"  # 系统管理员
    AUDITOR = "auditor"  # 审计员 (read-only)

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.CITIZEN: "市民",
    Role.GRID_WORKER: "网格员",
    Role.OFFICER: "执法队员",
    Role.SQUAD_LEADER: "中队长",
    Role.DISPATCHER: "受理派遣员",
    Role.SHIFT_LEADER: "值班长",
    Role.LEGAL_REVIEWER: "法制审核员",
    Role.DEPARTMENT_LIAISON: "部门联络员",
    Role.ADMIN: "系统管理员",
    Role.AUDITOR: "审计员",
}

# Staff of the bureau see every case of their bureau (and a city centre sees its brigades'); citizens
# see only what they reported.
STAFF_ROLES = frozenset(Role) - {Role.CITIZEN}
# Who a case can be dispatched to and who works a task in the field.
FIELD_ROLES = frozenset({Role.OFFICER, Role.SQUAD_LEADER, Role.DEPARTMENT_LIAISON})
# The handling desk (受理、立案、派遣、结案): they see a reporter's contact on the cases they may act on.
DESK_ROLES = frozenset({Role.DISPATCHER, Role.SHIFT_LEADER})


def has_any(roles: frozenset[str], wanted: frozenset[Role]) -> bool:
    """Whether a user's role names include any of ``wanted``."""
    return not roles.isdisjoint(r.value for r in wanted)
