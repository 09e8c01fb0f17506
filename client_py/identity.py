"""The user's keys on the client: enrolment material and unlocking after login.

All cryptography is ``crypto/`` (the reference protocol); this module only arranges it:

* enrolment: a per-user salt, PBKDF2 -> (auth key, KEK), a fresh USK wrapped by the KEK and
  by a printed recovery key, account key pairs whose private parts are sealed under the
  USK. ``sealed_private_keys`` on the wire is the encryption record followed by the
  signing record (80 bytes each, ``crypto.account``).
* unlock: the same derivation from the KDF record the server returns, then the USK and the
  private keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from crypto.account import (
    AccountKeys,
    KeyPair,
    KeyPurpose,
    generate_account_keys,
    seal_private_key,
    unseal_private_key,
)
from crypto.password import (
    derive_login_keys,
    encode_kdf_params,
    new_salt,
    parse_kdf_params,
)
from crypto.recovery_key import encode_recovery_key, new_recovery_secret
from crypto.usk import (
    generate_usk,
    unwrap_usk_with_kek,
    wrap_usk_with_kek,
    wrap_usk_with_recovery_key,
)

__all__ = ["Enrolment", "Identity", "enrol", "login_keys", "unlock"]

SEALED_RECORD_LENGTH = 80


@dataclass(frozen=True)
class Identity:
    """An unlocked account: ids and private keys (never printed)."""

    user_id: str
    usk: bytes = field(repr=False)
    encryption: KeyPair = field(repr=False)
    signing: KeyPair = field(repr=False)


@dataclass(frozen=True)
class Enrolment:
    """What accepting an invite sends, plus what the person must keep."""

    identity: Identity
    request: dict[str, bytes | str]  # the binary fields and the user id
    auth_key: bytes = field(repr=False)
    recovery_key: str = field(repr=False)


def enrol(password: str, *, iterations: int | None = None) -> Enrolment:
    """Make every key an account needs. ``iterations`` defaults to the v1 600,000."""
    user_id = uuid.uuid4()
    salt = new_salt()
    kdf = (
        encode_kdf_params(salt)
        if iterations is None
        else encode_kdf_params(salt, iterations=iterations)
    )
    params = parse_kdf_params(kdf)
    keys = derive_login_keys(password, params.salt, iterations=params.iterations)
    usk = generate_usk()
    account: AccountKeys = generate_account_keys()
    recovery = new_recovery_secret()
    sealed = seal_private_key(
        account.encryption, KeyPurpose.ENCRYPTION, usk, user_id
    ) + seal_private_key(account.signing, KeyPurpose.SIGNING, usk, user_id)
    request: dict[str, bytes | str] = {
        "user_id": str(user_id),
        "kdf_params": kdf,
        "auth_key": keys.auth_key,
        "wrapped_usk": wrap_usk_with_kek(usk, keys.kek, user_id),
        "encryption_public_key": account.encryption.public_key,
        "signing_public_key": account.signing.public_key,
        "sealed_private_keys": sealed,
        "recovery_wrapped_usk": wrap_usk_with_recovery_key(usk, recovery, user_id),
    }
    identity = Identity(str(user_id), usk, account.encryption, account.signing)
    return Enrolment(identity, request, keys.auth_key, encode_recovery_key(recovery))


def login_keys(password: str, kdf_record: bytes) -> tuple[bytes, bytes]:
    """(auth key, KEK) for the KDF record the server returned (checked by the client:
    a server asking for fewer than 600,000 iterations is refused by ``parse_kdf_params``)."""
    params = parse_kdf_params(kdf_record)
    keys = derive_login_keys(password, params.salt, iterations=params.iterations)
    return keys.auth_key, keys.kek


def unlock(user_id: str, kek: bytes, wrapped_usk: bytes, sealed_private_keys: bytes) -> Identity:
    uid = uuid.UUID(user_id)
    usk = unwrap_usk_with_kek(wrapped_usk, kek, uid)
    enc_record = sealed_private_keys[:SEALED_RECORD_LENGTH]
    sig_record = sealed_private_keys[SEALED_RECORD_LENGTH:]
    encryption = unseal_private_key(enc_record, KeyPurpose.ENCRYPTION, usk, uid)
    signing = unseal_private_key(sig_record, KeyPurpose.SIGNING, usk, uid)
    return Identity(user_id, usk, encryption, signing)
