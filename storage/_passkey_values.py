"""Value checks and conversions of the passkey feature, run by every backend before a unit
(``storage.sql.passkeys``, ``storage._memory_passkeys``)."""

from __future__ import annotations

import hashlib
import json

from storage._values import check_bytes, check_id, check_int64, check_text, us
from storage.errors import CorruptRecord, InvalidArgument
from storage.records import Passkey, PasskeyChallenge, PasskeyPurpose, Role

__all__ = [
    "ALL_ROLES",
    "check_challenge",
    "check_credential_id",
    "check_hash",
    "check_name",
    "check_passkey",
    "check_prf_wrap",
    "credential_hash",
    "pack_details",
    "role_key",
    "role_of",
    "unpack_details",
]

#: ``passkey_requirements.role`` of a requirement on every role of the organisation
ALL_ROLES = "*"
_MAX_CREDENTIAL_ID = 1023  # WebAuthn Level 3
_MAX_PUBLIC_KEY = 2048  # a COSE_Key (an RSA-4096 one is about 550 bytes)
_MAX_NAME = 200  # bytes of UTF-8
_MAX_TRANSPORTS = 8
_MAX_WRAP = 256


def credential_hash(credential_id: bytes) -> bytes:
    """What ``passkeys.credential_hash`` holds: the lookup key of a credential id."""
    return hashlib.sha256(credential_id).digest()


def check_hash(value: object, what: str) -> bytes:
    data = check_bytes(value, what)
    if len(data) != 32:
        raise InvalidArgument(f"{what} must be 32 bytes")
    return data


def check_name(value: object) -> str:
    name = check_text(value, "name", max_bytes=_MAX_NAME)
    if not name.strip():
        raise InvalidArgument("name is empty")
    return name


def check_prf_wrap(value: object) -> bytes | None:
    if value is None:
        return None
    wrap = check_bytes(value, "prf_wrap")
    if not 1 <= len(wrap) <= _MAX_WRAP:
        raise InvalidArgument("prf_wrap out of range")
    return wrap


def check_credential_id(value: object) -> bytes:
    cred = check_bytes(value, "credential_id")
    if not 1 <= len(cred) <= _MAX_CREDENTIAL_ID:
        raise InvalidArgument("credential_id out of range")
    return cred


def check_passkey(p: object) -> Passkey:
    if not isinstance(p, Passkey):
        raise InvalidArgument("passkey must be a Passkey")
    check_id(p.passkey_id, "passkey_id")
    check_id(p.user_id, "user_id")
    check_credential_id(p.credential_id)
    key = check_bytes(p.public_key, "public_key")
    if not 1 <= len(key) <= _MAX_PUBLIC_KEY:
        raise InvalidArgument("public_key out of range")
    if check_int64(p.sign_count, "sign_count") >= 2**32:
        raise InvalidArgument("sign_count out of range")
    check_name(p.name)
    us(p.created_at)
    if p.last_used_at is not None:
        us(p.last_used_at)
    check_text(p.aaguid, "aaguid", max_bytes=64)
    if not isinstance(p.transports, tuple) or len(p.transports) > _MAX_TRANSPORTS:
        raise InvalidArgument("transports out of range")
    for t in p.transports:
        check_text(t, "transport", max_bytes=32)
    check_prf_wrap(p.prf_wrap)
    return p


def check_challenge(c: object) -> PasskeyChallenge:
    if not isinstance(c, PasskeyChallenge):
        raise InvalidArgument("challenge must be a PasskeyChallenge")
    check_hash(c.challenge_hash, "challenge_hash")
    if not isinstance(c.purpose, PasskeyPurpose):
        raise InvalidArgument("unknown purpose")
    if c.user_id is not None:
        check_id(c.user_id, "user_id")
    if c.session_hash is not None:
        check_hash(c.session_hash, "session_hash")
    us(c.created_at)
    us(c.expires_at)
    return c


def pack_details(p: Passkey) -> bytes:
    """The authenticator's details, sealed together in ``passkeys.details_sealed``."""
    return json.dumps(
        {
            "aaguid": p.aaguid,
            "transports": list(p.transports),
            "be": p.backup_eligible,
            "bs": p.backed_up,
        },
        separators=(",", ":"),
    ).encode()


def unpack_details(raw: bytes) -> dict[str, object]:
    try:
        d = json.loads(raw)
        return {
            "aaguid": str(d["aaguid"]),
            "transports": tuple(str(t) for t in d["transports"]),
            "backup_eligible": bool(d["be"]),
            "backed_up": bool(d["bs"]),
        }
    except (ValueError, KeyError, TypeError):
        raise CorruptRecord("passkeys.details_sealed") from None


def role_key(role: Role | None) -> str:
    if role is None:
        return ALL_ROLES
    if not isinstance(role, Role):
        raise InvalidArgument("unknown role")
    return role.value


def role_of(key: str) -> Role | None:
    return None if key == ALL_ROLES else Role(key)
