from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from chengguan.identity import access
from chengguan.identity import service as identity
from chengguan.identity.roles import Role
from chengguan.shared.errors import Conflict, Unauthenticated, ValidationFailed


def _city(db: Session):
    return identity.create_bureau(
        db, code="t-hz", name="测试市城管", kind="city", admin_code="330100", case_prefix="HZ"
    )


def test_login_issues_a_token_that_identifies_the_user(db: Session) -> None:
    city = _city(db)
    identity.create_user(
        db,
        bureau=city,
        username="wang",
        password="s3cret-pass",
        display_name="王派遣",
        roles=[Role.DISPATCHER],
    )
    issued = identity.login(db, username="wang", password="s3cret-pass")
    assert identity.user_for_token(db, token=issued.token).username == "wang"
    identity.logout(db, token=issued.token)
    with pytest.raises(Unauthenticated):
        identity.user_for_token(db, token=issued.token)


def test_wrong_password_and_unknown_user_look_the_same(db: Session) -> None:
    city = _city(db)
    identity.create_user(db, bureau=city, username="li", password="right-pass", display_name="李", roles=[Role.OFFICER])
    with pytest.raises(Unauthenticated) as wrong:
        identity.login(db, username="li", password="wrong-pass")
    with pytest.raises(Unauthenticated) as missing:
        identity.login(db, username="nobody", password="wrong-pass")
    assert wrong.value.detail == missing.value.detail


def test_password_is_hashed_and_rules_are_enforced(db: Session) -> None:
    city = _city(db)
    user = identity.create_user(
        db, bureau=city, username="zhao", password="long-enough", display_name="赵", roles=[Role.OFFICER]
    )
    assert "long-enough" not in user.password_hash and user.password_hash.startswith("$argon2id$")
    with pytest.raises(ValidationFailed):
        identity.create_user(db, bureau=city, username="x", password="short", display_name="x", roles=[Role.OFFICER])
    with pytest.raises(Conflict):
        identity.create_user(
            db, bureau=city, username="zhao", password="long-enough", display_name="赵", roles=[Role.OFFICER]
        )


def test_city_scope_includes_its_brigades(db: Session) -> None:
    city = _city(db)
    xihu = identity.create_bureau(
        db,
        code="t-xh",
        name="西湖区大队",
        kind="district",
        admin_code="330106",
        case_prefix="XH",
        parent=city,
    )
    assert set(access.bureau_scope_ids(db, bureau_id=city.id)) == {city.id, xihu.id}
    assert access.bureau_scope_ids(db, bureau_id=xihu.id) == [xihu.id]
    assert set(access.city_scope_ids(db, bureau_id=xihu.id)) == {city.id, xihu.id}
    assert [b.code for b in identity.bureau_lineage(db, bureau_id=xihu.id)] == ["t-xh", "t-hz"]
