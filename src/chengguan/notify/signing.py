"""Request signatures of the providers, as their published procedures define them (pure: no I/O, no clock).

* Aliyun RPC (SignatureVersion 1.0, HMAC-SHA1): the sorted, percent-encoded query, signed as
  ``METHOD&%2F&percentEncode(canonicalized query)`` with the key ``AccessKeySecret + "&"``, base64.
* Tencent Cloud API 3.0 (TC3-HMAC-SHA256): a canonical request (method, URI, query, signed headers, hashed
  payload), a string to sign over its hash, and a key derived from the secret by date, service and
  ``tc3_request``.
* DingTalk custom robots (浙政钉 uses the same shape): ``timestamp + "\\n" + secret`` signed with HMAC-SHA256
  under the secret, base64, then URL-encoded into the webhook URL.

Each function is checked against the vendor's own documented example in tests/unit/test_notify_signing.py,
and the contract tests' fake servers verify with the same functions, written the way the vendor describes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

# ---- Aliyun RPC --------------------------------------------------------------------------------------------


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun specifies it: only ``A-Z a-z 0-9 - _ . ~`` stay as they are, UTF-8 bytes
    become ``%XY`` (upper case), a space is ``%20`` (never ``+``), ``*`` is ``%2A``."""
    return quote(value, safe="-_.~")


def aliyun_canonical_query(params: Mapping[str, str]) -> str:
    """Parameters sorted by name (without ``Signature``), names and values percent-encoded, joined by ``&``."""
    return "&".join(
        f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(aliyun_canonical_query(params))}"


def aliyun_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    digest = hmac.new(
        f"{secret}&".encode(), aliyun_string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()  # HMAC-SHA1 is what the RPC API specifies; it is not our choice
    return base64.b64encode(digest).decode()


def aliyun_timestamp(at: datetime) -> str:
    """ISO 8601 in UTC, to the second: ``2016-02-23T12:46:24Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- Tencent Cloud TC3-HMAC-SHA256 ------------------------------------------------------------------------

TC3_ALGORITHM = "TC3-HMAC-SHA256"


@dataclass(frozen=True)
class Tc3Signed:
    canonical_request: str
    string_to_sign: str
    signature: str
    authorization: str


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_sign(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    method: str,
    headers: Mapping[str, str],
    payload: bytes,
    timestamp: int,
    query: str = "",
    uri: str = "/",
) -> Tc3Signed:
    """Sign a request over every header in ``headers`` (which must include ``content-type`` and ``host``).

    Header names and values are lower-cased and trimmed, sorted by name; the credential date is the UTC date
    of ``timestamp`` (not the local one: a call at 00:44 in Beijing is still the day before in UTC).
    """
    canon = sorted((k.strip().lower(), v.strip().lower()) for k, v in headers.items())
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in canon)
    signed_headers = ";".join(k for k, _ in canon)
    canonical_request = "\n".join([method.upper(), uri, query, canonical_headers, signed_headers, _sha256_hex(payload)])
    date = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join([TC3_ALGORITHM, str(timestamp), scope, _sha256_hex(canonical_request.encode())])
    key = _hmac256(_hmac256(_hmac256(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{TC3_ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    return Tc3Signed(canonical_request, string_to_sign, signature, authorization)


# ---- DingTalk custom robot -------------------------------------------------------------------------------


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """The ``sign`` query parameter of a robot with 加签: base64(HMAC-SHA256(secret, f"{ts}\\n{secret}")),
    URL-encoded (``quote_plus``, as DingTalk's own example does)."""
    string_to_sign = f"{timestamp_ms}\n{secret}"
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())
