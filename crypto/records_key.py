"""The organisation records key: an HPKE (P-256) key pair whose private part stays offline.

Every case key is also wrapped to the practice's records key (``crypto.case_key``) and every
USK to the organisation recovery key (``crypto.usk``), so that no clinical record is lost with
a phone or a password. The records officer keeps the private part in a file protected by a
passphrase (or in hardware). Records-key file (type 0x09), 85 + L bytes (101 with a 16-byte salt)::

    off len
      0   3  01 01 09
      3  16  key id of the records public key
     19   1  KDF algorithm 0x01 = PBKDF2-HMAC-SHA256
     20   4  iterations (u32), 600,000 .. 2,000,000 when made by seal_records_key_file
     24   1  salt length L (16 .. 64)
     25   L  salt
   25+L  12  nonce
   37+L  48  AES-256-GCM(file key, nonce, private scalar, aad)

    file key = HKDF-SHA256(PBKDF2-HMAC-SHA256(UTF-8(NFC(passphrase)), salt, iterations, 32),
                           salt="", info="dermline/v1/records-key-file", 32)
    aad      = bytes 0 .. 24+L (everything before the nonce)

Suite 2 (``01 02 09``, docs/protocol.md section 26), 133 + L bytes, carries both private keys
of a records key that also has a hybrid (X-Wing) pair::

    off len
      0   3  01 02 09
      3  16  key id of the records P-256 public key
     19  16  key id of the records X-Wing public key
     35   1  KDF algorithm 0x01
     36   4  iterations (u32)
     40   1  salt length L
     41   L  salt
   41+L  12  nonce
   53+L  80  AES-256-GCM(file key, nonce, P-256 scalar (32) || X-Wing seed (32), aad)

    file key and aad as above (aad = everything before the nonce)

Opening checks the decrypted scalar against the key id. Any failure, including a wrong
passphrase, raises :class:`crypto.errors.RecordsKeyFileError`.
"""

from __future__ import annotations

import os
import unicodedata
from typing import Final

from crypto._wire import (
    LABEL_PREFIX,
    SUITE_HYBRID,
    Malformed,
    Reader,
    RecordType,
    check_bytes,
    prefix,
    u32,
)
from crypto.account import (
    HybridKeyPair,
    KeyPair,
    generate_key_pair,
    hybrid_key_pair_from_seed,
    key_pair_from_seed,
)
from crypto.errors import PrimitiveError, RecordsKeyFileError
from crypto.fingerprint import key_id
from crypto.primitives.aead import aes256gcm_open, aes256gcm_seal
from crypto.primitives.ecc import P256_N, p256_public_key
from crypto.primitives.kdf import hkdf_sha256, pbkdf2_sha256

__all__ = [
    "derive_records_signing_key",
    "generate_records_key",
    "open_hybrid_records_key_file",
    "open_records_key_file",
    "seal_hybrid_records_key_file",
    "seal_hybrid_records_key_file_from_parts",
    "seal_records_key_file",
    "seal_records_key_file_from_parts",
]

_KDF_PBKDF2: Final = 0x01
_MIN_ITERATIONS: Final = 600_000
_MAX_ITERATIONS: Final = 2_000_000
_NONCE: Final = 12
_INFO: Final = LABEL_PREFIX + b"records-key-file"
_SIGNING_INFO: Final = LABEL_PREFIX + b"records-signing-key"


def generate_records_key() -> KeyPair:
    """A fresh records key pair (the records officer makes it; the server gets the public key)."""
    return generate_key_pair()


def derive_records_signing_key(records_private_key: bytes) -> KeyPair:
    """The records signing key pair (RSK) that goes with a records private key.

    ``DeriveKeyPair(HKDF-SHA256(records scalar, "", "dermline/v1/records-signing-key", 32))``
    (docs/protocol.md section 20): whoever holds the records key file can sign the rollover
    to the next records key, and the file format (0x09) does not change.
    """
    scalar = check_bytes("records_private_key", records_private_key, 32)
    return key_pair_from_seed(hkdf_sha256(scalar, salt=b"", info=_SIGNING_INFO, length=32))


def _passphrase(passphrase: object) -> bytes:
    if not isinstance(passphrase, str):
        raise TypeError("passphrase must be str")
    if not passphrase:
        raise ValueError("passphrase must not be empty")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _file_key(passphrase: bytes, salt: bytes, iterations: int) -> bytes:
    master = pbkdf2_sha256(passphrase, salt, iterations, 32)
    return hkdf_sha256(master, salt=b"", info=_INFO, length=32)


def _check_parameters(passphrase: str, salt: bytes, nonce: bytes, iterations: int) -> bytes:
    """Misuse checks shared by both file suites; returns the encoded passphrase."""
    secret = _passphrase(passphrase)
    salt = check_bytes("salt", salt)
    if not 16 <= len(salt) <= 64:
        raise ValueError("salt must be 16 to 64 bytes")
    check_bytes("nonce", nonce, _NONCE)
    if not isinstance(iterations, int) or isinstance(iterations, bool):
        raise TypeError("iterations must be int")
    if not 1 <= iterations <= _MAX_ITERATIONS:
        raise ValueError("iterations out of range")
    return secret


def _kdf_head(iterations: int, salt: bytes) -> bytes:
    return bytes((_KDF_PBKDF2,)) + u32(iterations) + bytes((len(salt),)) + salt


def seal_records_key_file_from_parts(
    pair: KeyPair, passphrase: str, *, salt: bytes, nonce: bytes, iterations: int
) -> bytes:
    """Deterministic form of :func:`seal_records_key_file`; tests may use fewer iterations."""
    if not isinstance(pair, KeyPair):
        raise TypeError("pair must be a KeyPair")
    secret = _check_parameters(passphrase, salt, nonce, iterations)
    head = prefix(RecordType.RECORDS_KEY_FILE) + pair.key_id + _kdf_head(iterations, salt)
    key = _file_key(secret, salt, iterations)
    return head + nonce + aes256gcm_seal(key, nonce, pair.private_key, head)


def seal_records_key_file(
    pair: KeyPair, passphrase: str, *, iterations: int = _MIN_ITERATIONS
) -> bytes:
    """Protect the records private key with a passphrase (at least 600,000 PBKDF2 rounds)."""
    if isinstance(iterations, int) and iterations < _MIN_ITERATIONS:
        raise ValueError("a records-key file needs at least 600,000 iterations")
    return seal_records_key_file_from_parts(
        pair, passphrase, salt=os.urandom(16), nonce=os.urandom(_NONCE), iterations=iterations
    )


def seal_hybrid_records_key_file_from_parts(
    pair: KeyPair,
    hybrid: HybridKeyPair,
    passphrase: str,
    *,
    salt: bytes,
    nonce: bytes,
    iterations: int,
) -> bytes:
    """Deterministic form of :func:`seal_hybrid_records_key_file`."""
    if not isinstance(pair, KeyPair):
        raise TypeError("pair must be a KeyPair")
    if not isinstance(hybrid, HybridKeyPair):
        raise TypeError("hybrid must be a HybridKeyPair")
    secret = _check_parameters(passphrase, salt, nonce, iterations)
    head = (
        prefix(RecordType.RECORDS_KEY_FILE, SUITE_HYBRID)
        + pair.key_id
        + hybrid.key_id
        + _kdf_head(iterations, salt)
    )
    key = _file_key(secret, salt, iterations)
    return head + nonce + aes256gcm_seal(key, nonce, pair.private_key + hybrid.seed, head)


def seal_hybrid_records_key_file(
    pair: KeyPair, hybrid: HybridKeyPair, passphrase: str, *, iterations: int = _MIN_ITERATIONS
) -> bytes:
    """The suite-2 records key file (``01 02 09``) holding the P-256 and the X-Wing keys."""
    if isinstance(iterations, int) and iterations < _MIN_ITERATIONS:
        raise ValueError("a records-key file needs at least 600,000 iterations")
    return seal_hybrid_records_key_file_from_parts(
        pair,
        hybrid,
        passphrase,
        salt=os.urandom(16),
        nonce=os.urandom(_NONCE),
        iterations=iterations,
    )


def _open(record: bytes, secret: bytes, hybrid: bool) -> tuple[list[bytes], bytes]:
    """``([key ids], plaintext)`` of a file of the asked suite; Malformed/PrimitiveError."""
    reader = Reader(record)
    if hybrid:
        if reader.suite_prefix(RecordType.RECORDS_KEY_FILE) != SUITE_HYBRID:
            raise Malformed
    else:
        reader.prefix(RecordType.RECORDS_KEY_FILE)
    key_ids = [reader.take(16) for _ in range(2 if hybrid else 1)]
    algorithm = reader.byte()
    iterations = reader.u32()
    salt = reader.take(reader.byte())
    head = reader.consumed()
    nonce = reader.take(_NONCE)
    ciphertext = reader.take((64 if hybrid else 32) + 16)
    reader.end()
    # The range is checked before any work so that a damaged file cannot make us spin.
    if algorithm != _KDF_PBKDF2 or not 1 <= iterations <= _MAX_ITERATIONS:
        raise Malformed
    if not 16 <= len(salt) <= 64:
        raise Malformed
    plaintext = aes256gcm_open(_file_key(secret, salt, iterations), nonce, ciphertext, head)
    # An authentic scalar outside [1, n-1] (only the passphrase holder could make one) is
    # refused with the same error; checked explicitly so no ValueError is swallowed.
    if not 1 <= int.from_bytes(plaintext[:32], "big") < P256_N:
        raise Malformed
    return key_ids, plaintext


def _pair(private_key: bytes) -> KeyPair:
    public_key = p256_public_key(private_key)
    return KeyPair(private_key=private_key, public_key=public_key, key_id=key_id(public_key))


def open_records_key_file(record: bytes, passphrase: str) -> KeyPair:
    """The records key pair, or :class:`RecordsKeyFileError` (wrong passphrase or damaged).

    Opens suite-1 files only; a suite-2 file opens with :func:`open_hybrid_records_key_file`.
    """
    secret = _passphrase(passphrase)
    try:
        (record_key_id,), private_key = _open(record, secret, hybrid=False)
    except (Malformed, PrimitiveError):
        raise RecordsKeyFileError from None
    pair = _pair(private_key)
    if pair.key_id != record_key_id:
        raise RecordsKeyFileError
    return pair


def open_hybrid_records_key_file(record: bytes, passphrase: str) -> tuple[KeyPair, HybridKeyPair]:
    """Both records key pairs of a suite-2 file, or :class:`RecordsKeyFileError`.

    Each key must have the id the file names.
    """
    secret = _passphrase(passphrase)
    try:
        (record_key_id, record_hybrid_id), plaintext = _open(record, secret, hybrid=True)
    except (Malformed, PrimitiveError):
        raise RecordsKeyFileError from None
    pair, hybrid = _pair(plaintext[:32]), hybrid_key_pair_from_seed(plaintext[32:])
    if pair.key_id != record_key_id or hybrid.key_id != record_hybrid_id:
        raise RecordsKeyFileError
    return pair, hybrid
