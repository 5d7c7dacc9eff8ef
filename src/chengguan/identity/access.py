"""The one scope rule: which bureaus a user may read and act in, who a task may go to, who may act for it.

Every router, list query and candidate list asks here; nothing else walks the bureau tree for access.

* **Reading.** Staff read every case of their bureau and the bureaus below it, plus what they reported
  themselves wherever it was routed; citizens read only what they reported.
* **Acting.** Acting on a case requires the case's bureau, or one above it. Having reported a case into
  another brigade lets staff follow it, never work it.
* **Dispatching.** A case may go only to active field staff (执法队员、中队长、部门联络员) who can act on
  it: people of the case's bureau or of a bureau above it. The candidate list and the check are one rule.
* **Acting for the assignee.** A field task is worked by its assignee, by the squad leader (中队长) of the
  assignee's own squad (or of the assignee's brigade when the assignee belongs to no squad), or by a liaison
  of the department the assignee belongs to.

The bureau tree is a handful of rows; it is read once per unit of work and kept in ``session.info``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.identity.models import Bureau, User, UserRole
from chengguan.identity.roles import FIELD_ROLES, STAFF_ROLES, Role, has_any
from chengguan.shared.errors import ValidationFailed


@dataclass(frozen=True)
class BureauTree:
    parent: dict[int, int | None]

    def lineage(self, bureau_id: int) -> list[int]:
        """The bureau, its parent, ... up to the root."""
        chain: list[int] = []
        current: int | None = bureau_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self.parent.get(current)
        return chain

    def below(self, bureau_id: int) -> list[int]:
        """The bureau and every bureau below it."""
        children: dict[int, list[int]] = {}
        for child, parent in self.parent.items():
            if parent is not None:
                children.setdefault(parent, []).append(child)
        out, frontier = [bureau_id], [bureau_id]
        while frontier:
            frontier = [c for b in frontier for c in sorted(children.get(b, ()))]
            out.extend(frontier)
        return out

    def root(self, bureau_id: int) -> int:
        return self.lineage(bureau_id)[-1]


def bureau_tree(session: Session) -> BureauTree:
    """All bureaus' parents, read once per unit of work (``forget_tree`` after creating a bureau)."""
    tree: BureauTree | None = session.info.get("identity.bureau_tree")
    if tree is None:
        rows = session.execute(select(Bureau.id, Bureau.parent_id)).all()
        tree = BureauTree({row.id: row.parent_id for row in rows})
        session.info["identity.bureau_tree"] = tree
    return tree


def forget_tree(session: Session) -> None:
    session.info.pop("identity.bureau_tree", None)


def bureau_scope_ids(session: Session, *, bureau_id: int) -> list[int]:
    """The bureau and all bureaus below it (a city centre sees its district brigades)."""
    return bureau_tree(session).below(bureau_id)


def city_scope_ids(session: Session, *, bureau_id: int) -> list[int]:
    """Every bureau of the city ``bureau_id`` belongs to (where a report may be routed)."""
    tree = bureau_tree(session)
    return tree.below(tree.root(bureau_id))


@dataclass(frozen=True)
class Scope:
    """What one user may read and act on. ``bureau_ids`` is empty for citizens."""

    user_id: int
    staff: bool
    bureau_ids: frozenset[int]

    def can_read(self, *, bureau_id: int, reporter_id: int | None) -> bool:
        return (self.staff and bureau_id in self.bureau_ids) or (
            reporter_id is not None and reporter_id == self.user_id
        )

    def can_act(self, *, bureau_id: int) -> bool:
        return self.staff and bureau_id in self.bureau_ids


def reporter_scope(user: User) -> Scope:
    """Only what ``user`` reported themselves, whatever their role ("my reports")."""
    return Scope(user_id=user.id, staff=False, bureau_ids=frozenset())


def scope_of(session: Session, user: User) -> Scope:
    staff = has_any(user.roles, STAFF_ROLES)
    ids = frozenset(bureau_scope_ids(session, bureau_id=user.bureau_id)) if staff else frozenset()
    return Scope(user_id=user.id, staff=staff, bureau_ids=ids)


# ---- dispatch ---------------------------------------------------------------------------------------


def _can_work_in(session: Session, user: User, bureau_id: int) -> bool:
    return (
        user.is_active
        and has_any(user.roles, FIELD_ROLES)
        and user.bureau_id in bureau_tree(session).lineage(bureau_id)
    )


def assignable_users(session: Session, *, bureau_id: int) -> list[User]:
    """Active field staff a case of ``bureau_id`` can be dispatched to: they can see it and act on it."""
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            User.bureau_id.in_(bureau_tree(session).lineage(bureau_id)),
            User.is_active.is_(True),
            UserRole.role.in_([r.value for r in FIELD_ROLES]),
        )
        .order_by(User.bureau_id.desc(), User.id)
        .distinct()
    )
    return list(session.scalars(stmt))


def check_assignee(session: Session, *, bureau_id: int, assignee_id: int | None) -> User:
    """The user a case of ``bureau_id`` is dispatched to, or ``ValidationFailed`` (same rule as the list)."""
    user = session.get(User, assignee_id) if assignee_id is not None else None
    if user is None or not _can_work_in(session, user, bureau_id):
        raise ValidationFailed(
            "派遣对象必须是能办理本案的在岗执法队员、中队长或部门联络员（本大队或上级单位）", assignee_id=assignee_id
        )
    return user


def may_act_for(actor: User, assignee: User | None) -> bool:
    """Whether ``actor`` may work the field task assigned to ``assignee`` (签收、反馈、回退、申请延期)."""
    if assignee is None:
        return False
    if actor.id == assignee.id:
        return True
    if Role.SQUAD_LEADER in actor.roles and actor.bureau_id == assignee.bureau_id:
        return assignee.unit_id is None or actor.unit_id == assignee.unit_id
    return Role.DEPARTMENT_LIAISON in actor.roles and assignee.unit_id is not None and actor.unit_id == assignee.unit_id
