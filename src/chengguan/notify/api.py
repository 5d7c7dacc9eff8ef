"""Staff's view of notifications: what went to whom over which channel, and where each delivery stands; the
local outbox's recorded requests. Parse → service → schema.

Scope (``identity.access``): the notifications sent on behalf of the caller's bureau and the bureaus below it.
Administrators and the handling desk (受理派遣员) read the list, with phone numbers and e-mail addresses masked;
the recorded requests carry them in full (they are exactly what would go out), so only administrators read those.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chengguan.http.deps import Db, require_roles
from chengguan.identity import access
from chengguan.identity.models import User
from chengguan.identity.roles import Role
from chengguan.notify import service
from chengguan.notify.models import Notification
from chengguan.notify.ports import mask_email, mask_phone
from chengguan.notify.schemas import ChannelName, DeliveryOut, DeliveryState, OutboxRecordOut

router = APIRouter(prefix="/api/v1/notifications", tags=["通知"])

Viewer = Annotated[User, Depends(require_roles(Role.ADMIN, Role.DISPATCHER))]
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
Limit = Annotated[int, Query(ge=1, le=200, description="最多返回条数")]


def _recipient(n: Notification) -> str | None:
    if n.email:
        return mask_email(n.email)
    if n.user_id:
        return f"用户 {n.user_id}"
    return mask_phone(n.phone)


@router.get("", summary="最近的通知及其投递状态（本局及下级），最新在前")
def list_deliveries(
    db: Db,
    viewer: Viewer,
    limit: Limit = 20,
    state: Annotated[DeliveryState | None, Query(description="投递状态")] = None,
    channel: Annotated[ChannelName | None, Query(description="通道")] = None,
) -> list[DeliveryOut]:
    scope = access.bureau_scope_ids(db, bureau_id=viewer.bureau_id)
    rows = service.recent(
        db,
        bureau_ids=scope,
        limit=limit,
        state=state.value if state else None,
        channel=channel.value if channel else None,
    )
    return [DeliveryOut.model_validate({**_columns(n), "recipient": _recipient(n)}) for n in rows]


def _columns(n: Notification) -> dict[str, object]:
    return {c: getattr(n, c) for c in DeliveryOut.model_fields if c != "recipient"}


@router.get("/outbox", summary="本地发件箱：各通道将要发出的完整请求（管理员），最新在前")
def list_outbox(db: Db, admin: Admin, limit: Limit = 20) -> list[OutboxRecordOut]:
    scope = access.bureau_scope_ids(db, bureau_id=admin.bureau_id)
    return [
        OutboxRecordOut.model_validate(r, from_attributes=True)
        for r in service.recorded(db, bureau_ids=scope, limit=limit)
    ]
