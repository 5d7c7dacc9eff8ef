"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106 profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(plain: str) -> str:
    return _hasher.hash(plain)


def verify_password(stored_hash: str, plain: str) -> bool:
    try:
        return bool(_hasher.verify(stored_hash, plain))
    except (VerificationError, InvalidHashError):
        return False
