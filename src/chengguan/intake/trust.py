"""Whose reports skip the desk's verification (pure: no I/O).

网格员 (grid workers) and liaisons (部门/社区联络员) are the bureau's own eyes on the street: a problem they
report has been seen by someone the bureau trusts, so the case they open is accepted (受理) at once by the
system, with the reason in its history, instead of waiting in 待受理 for a dispatcher to verify it.
"""

from __future__ import annotations

from chengguan.identity.roles import Role

# In order of precedence: the first role a reporter holds names the reason.
WAIVERS: tuple[tuple[Role, str], ...] = (
    (Role.GRID_WORKER, "网格员上报，免予核实"),
    (Role.DEPARTMENT_LIAISON, "联络员上报，免予核实"),
)


def verification_waiver(roles: frozenset[str]) -> str | None:
    """The reason a reporter holding ``roles`` skips verification, or None when their report is verified."""
    for role, reason in WAIVERS:
        if role.value in roles:
            return reason
    return None
