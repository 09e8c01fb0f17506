"""Password to login keys, and the KDF-parameters record the server hands out at pre-login.

Recipe (docs/protocol.md, "Password"):

1. ``password_bytes = UTF-8(NFC(password))`` (NFC so that the same password typed on two
   keyboards gives the same bytes).
2. ``master_key = PBKDF2-HMAC-SHA256(password_bytes, salt, iterations, 32)`` with a per-user
   random salt of 16 bytes and 600,000 iterations (OWASP 2023 figure for PBKDF2-HMAC-SHA256).
3. ``auth_key = HKDF-SHA256(master_key, salt="", info="dermline/v1/auth-key", 32)`` is sent at
   login; the server stores only an Argon2id hash of it. ``kek = HKDF-SHA256(master_key,
   salt="", info="dermline/v1/kek", 32)`` never leaves the client and wraps the USK. Knowing
   the auth key does not reveal the KEK (HKDF outputs with distinct info are independent).

KDF-parameters record (type 0x01)::

    01 01 01 | algorithm (1) = 0x01 PBKDF2-HMAC-SHA256 | iterations (u32 BE)
             | salt length (1) | salt

A client refuses iterations below 600,000 (a malicious server could otherwise ask for a weak
derivation and brute-force the auth key it receives) or above 2,000,000 (denial of service),
and salts shorter than 16 or longer than 64 bytes.

Unknown login names get :func:`fake_kdf_params`: the same record with a salt computed as
``HMAC-SHA256(server_secret, "dermline/v1/fake-salt" || 0x00 || UTF-8(normalised name))[:16]``
(normalised name = ``strip(NFKC(casefold(NFKC(name))))``),
so a pre-login answer is the same every time for a name and does not show whether the user
exists.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from typing import Final

from crypto._wire import LABEL_PREFIX, Malformed, Reader, RecordType, check_bytes, prefix, u32
from crypto.errors import KdfParamsError
from crypto.primitives.kdf import hkdf_sha256, hmac_sha256, pbkdf2_sha256

__all__ = [
    "KDF_ALGORITHM_PBKDF2_SHA256",
    "MAX_PBKDF2_ITERATIONS",
    "PBKDF2_ITERATIONS",
    "SALT_LENGTH",
    "KdfParams",
    "LoginKeys",
    "derive_login_keys",
    "derive_master_key",
    "encode_kdf_params",
    "fake_kdf_params",
    "fake_salt",
    "new_salt",
    "normalise_login_name",
    "parse_kdf_params",
    "split_master_key",
]

KDF_ALGORITHM_PBKDF2_SHA256: Final = 0x01
PBKDF2_ITERATIONS: Final = 600_000
MAX_PBKDF2_ITERATIONS: Final = 2_000_000
SALT_LENGTH: Final = 16
_MIN_SALT: Final = 16
_MAX_SALT: Final = 64
_MIN_SERVER_SECRET: Final = 32
_AUTH_INFO: Final = LABEL_PREFIX + b"auth-key"
_KEK_INFO: Final = LABEL_PREFIX + b"kek"
_FAKE_SALT_LABEL: Final = LABEL_PREFIX + b"fake-salt\x00"


@dataclass(frozen=True)
class KdfParams:
    """A parsed KDF-parameters record."""

    algorithm: int
    iterations: int
    salt: bytes


@dataclass(frozen=True)
class LoginKeys:
    """The two halves of the master key. ``repr`` never shows them."""

    auth_key: bytes = field(repr=False)
    kek: bytes = field(repr=False)


def new_salt() -> bytes:
    """A fresh per-user salt, made by the client at enrolment or password change."""
    return os.urandom(SALT_LENGTH)


def _password_bytes(password: object) -> bytes:
    if not isinstance(password, str):
        raise TypeError("password must be str")
    if not password:
        raise ValueError("password must not be empty")
    return unicodedata.normalize("NFC", password).encode("utf-8")


def derive_master_key(password: str, salt: bytes, *, iterations: int = PBKDF2_ITERATIONS) -> bytes:
    """PBKDF2-HMAC-SHA256 of the NFC-normalised password. Tests may pass fewer iterations."""
    salt = check_bytes("salt", salt)
    if len(salt) < _MIN_SALT:
        raise ValueError("salt must be at least 16 bytes")
    if not isinstance(iterations, int) or isinstance(iterations, bool):
        raise TypeError("iterations must be int")
    if iterations < 1:
        raise ValueError("iterations must be positive")
    return pbkdf2_sha256(_password_bytes(password), salt, iterations, 32)


def split_master_key(master_key: bytes) -> LoginKeys:
    """HKDF the master key into the auth key (sent at login) and the KEK (kept)."""
    master_key = check_bytes("master_key", master_key, 32)
    return LoginKeys(
        auth_key=hkdf_sha256(master_key, salt=b"", info=_AUTH_INFO, length=32),
        kek=hkdf_sha256(master_key, salt=b"", info=_KEK_INFO, length=32),
    )


def derive_login_keys(
    password: str, salt: bytes, *, iterations: int = PBKDF2_ITERATIONS
) -> LoginKeys:
    """Password and salt to :class:`LoginKeys` (one unlock: about 0.3 s at 600,000 rounds)."""
    return split_master_key(derive_master_key(password, salt, iterations=iterations))


def encode_kdf_params(salt: bytes, *, iterations: int = PBKDF2_ITERATIONS) -> bytes:
    """The KDF-parameters record (type 0x01) for a salt."""
    salt = check_bytes("salt", salt)
    if not _MIN_SALT <= len(salt) <= _MAX_SALT:
        raise ValueError("salt must be 16 to 64 bytes")
    if not isinstance(iterations, int) or isinstance(iterations, bool):
        raise TypeError("iterations must be int")
    if not PBKDF2_ITERATIONS <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise ValueError("iterations out of the accepted range")
    return (
        prefix(RecordType.KDF_PARAMS)
        + bytes((KDF_ALGORITHM_PBKDF2_SHA256,))
        + u32(iterations)
        + bytes((len(salt),))
        + salt
    )


def parse_kdf_params(record: bytes) -> KdfParams:
    """Parse and check a KDF-parameters record from the server; raises :class:`KdfParamsError`."""
    reader = Reader(record)
    try:
        reader.prefix(RecordType.KDF_PARAMS)
        algorithm = reader.byte()
        iterations = reader.u32()
        salt = reader.take(reader.byte())
        reader.end()
    except Malformed:
        raise KdfParamsError from None
    if (
        algorithm != KDF_ALGORITHM_PBKDF2_SHA256
        or not PBKDF2_ITERATIONS <= iterations <= MAX_PBKDF2_ITERATIONS
        or not _MIN_SALT <= len(salt) <= _MAX_SALT
    ):
        raise KdfParamsError
    return KdfParams(algorithm=algorithm, iterations=iterations, salt=salt)


def normalise_login_name(login_name: str) -> str:
    """NFKC, case-folded, NFKC again, surrounding whitespace removed.

    One account per visible name. The second NFKC makes the function idempotent (case folding
    can leave a string that is no longer in NFKC, e.g. decomposed ``j`` + caron), so the
    server may normalise once on input and again inside :func:`fake_salt` with one result.
    """
    if not isinstance(login_name, str):
        raise TypeError("login_name must be str")
    folded = unicodedata.normalize("NFKC", login_name).casefold()
    normalised = unicodedata.normalize("NFKC", folded).strip()
    if not normalised:
        raise ValueError("login_name must not be empty")
    return normalised


def fake_salt(server_secret: bytes, login_name: str) -> bytes:
    """Deterministic 16-byte salt for a login name that has no account.

    Called by the server at pre-login. ``server_secret`` is a long-lived secret of at least 32
    bytes (if it changed, an observer could notice the fake salts change while real ones do
    not). Example: ``fake_salt(secret, " Alice@Example.org")`` equals
    ``fake_salt(secret, "alice@example.org")``.
    """
    server_secret = check_bytes("server_secret", server_secret)
    if len(server_secret) < _MIN_SERVER_SECRET:
        raise ValueError("server_secret must be at least 32 bytes")
    name = normalise_login_name(login_name).encode("utf-8")
    return hmac_sha256(server_secret, _FAKE_SALT_LABEL + name)[:SALT_LENGTH]


def fake_kdf_params(server_secret: bytes, login_name: str) -> bytes:
    """The KDF-parameters record the server returns for an unknown login name."""
    return encode_kdf_params(fake_salt(server_secret, login_name))
