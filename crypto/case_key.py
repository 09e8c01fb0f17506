"""Case keys and their signed HPKE wrap records.

A case key (CK) is 32 random bytes per case and epoch (the epoch goes up when membership
changes). The client that makes an epoch wraps CK to every recipient: each participant's
account encryption key and the practice's records key. Committed wrap record (type 0x0b),
280 bytes, the one new records use::

    off  len
      0    3  01 01 0b
      3   16  case id
     19    4  epoch (u32 BE)
     23   16  recipient key id     (key id of the HPKE recipient public key)
     39   16  wrapper user id
     55   16  wrapper key id       (key id of the wrapper's signing public key)
     71   32  key commitment       HMAC-SHA256(CK, commitment input)
    103   65  HPKE enc             (ephemeral public key, uncompressed point)
    168   48  HPKE ciphertext      (CK || tag)
    216   64  ECDSA P-256 signature (r || s)

    commitment input = "dermline/v1/case-key-commitment" || 0x00 || case id || epoch
    info      = "dermline/v1/case-key" || 0x00 || case id || epoch || recipient key id
    aad       = bytes 0..102 (the clear header, commitment included)
    signed    = "dermline/v1/sig/case-key-wrap" || 0x00 || bytes 0..215

The legacy record (type 0x06, 248 bytes) is the same without the commitment: header bytes
0..70, enc at 71, ciphertext at 136, signature at 184. It still parses, verifies and opens
(stored records are never rewritten), but nothing new is made in it except the published
vectors (:func:`wrap_legacy_case_key_from_parts`).

Suite 2 (``01 02 0b``, docs/protocol.md section 26), 1335 bytes: the same record with HPKE's
KEM X-Wing (ML-KEM-768 + X25519) instead of DHKEM(P-256), to the recipient's *hybrid* key::

      0  103  the clear header exactly as above, byte 1 = 0x02; recipient key id = the id of
              the recipient's X-Wing key (SHA-256 of its SPKI, first 16 bytes)
    103 1120  HPKE enc             (X-Wing ciphertext: ML-KEM-768 ct || X25519 ephemeral)
   1223   48  HPKE ciphertext      (CK || tag)
   1271   64  ECDSA P-256 signature over "dermline/v1/sig/case-key-wrap" || 0x00 || 0..1270

The labels are those of 0x0b; the suite byte is in the HPKE aad and under the signature, so a
suite-2 record cannot be passed off as suite 1 or the reverse.

The clear header can be read without any key (:func:`parse_case_key_wrap_header`): the server
uses it to refuse a case that is not wrapped to the records key, or whose wraps do not all
carry the same commitment. :func:`verify_case_key_wrap` additionally checks the signature,
and :func:`open_case_key_wrap` checks the signature, the expected case and epoch and the
recipient, decrypts, and (type 0x0b) checks that the key it decrypted is the committed one.
"""

from __future__ import annotations

import hmac
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypedDict, Unpack

from crypto._wire import (
    LABEL_PREFIX,
    SUITE_HYBRID,
    SUITE_P256_SHA256_AES256GCM,
    Malformed,
    Reader,
    RecordType,
    check_bytes,
    check_uint,
    check_uuid,
    prefix,
    u32,
)
from crypto.account import HybridKeyPair, KeyPair
from crypto.errors import (
    CaseKeyUnwrapError,
    CaseKeyWrapHeaderError,
    CaseKeyWrapSignatureError,
    PrimitiveError,
    PublicKeyError,
)
from crypto.fingerprint import hybrid_key_id, key_id
from crypto.primitives import xwing
from crypto.primitives.ecc import p256_sign, p256_verify
from crypto.primitives.hpke import open_base, open_base_hybrid, seal_base, seal_base_hybrid
from crypto.primitives.kdf import hmac_sha256

__all__ = [
    "CASE_KEY_COMMITMENT_LENGTH",
    "CASE_KEY_LENGTH",
    "CASE_KEY_WRAP_LENGTH",
    "COMMITTED_CASE_KEY_WRAP_LENGTH",
    "HYBRID_CASE_KEY_WRAP_LENGTH",
    "MAX_EPOCH",
    "CaseKeyWrapHeader",
    "case_key_commitment",
    "case_key_matches_commitment",
    "generate_case_key",
    "open_case_key_wrap",
    "parse_case_key_wrap_header",
    "verify_case_key_wrap",
    "wrap_case_key",
    "wrap_case_key_from_parts",
    "wrap_case_key_hybrid",
    "wrap_case_key_hybrid_from_parts",
    "wrap_legacy_case_key_from_parts",
]

CASE_KEY_LENGTH: Final = 32
CASE_KEY_COMMITMENT_LENGTH: Final = 32
#: The legacy record, type 0x06 (no commitment).
CASE_KEY_WRAP_LENGTH: Final = 248
#: The committed record, type 0x0b: what every new wrap is.
COMMITTED_CASE_KEY_WRAP_LENGTH: Final = 280
#: The committed record in suite 2 (X-Wing), type 0x0b.
HYBRID_CASE_KEY_WRAP_LENGTH: Final = 1335
MAX_EPOCH: Final = 0xFFFFFFFF
_LEGACY_HEADER: Final = 71
_ENC: Final = 65
_SIGNATURE: Final = 64
_INFO_LABEL: Final = LABEL_PREFIX + b"case-key\x00"
_SIG_LABEL: Final = LABEL_PREFIX + b"sig/case-key-wrap\x00"
_COMMIT_LABEL: Final = LABEL_PREFIX + b"case-key-commitment\x00"


@dataclass(frozen=True)
class CaseKeyWrapHeader:
    """The clear part of a wrap record.

    ``commitment`` is the 32-byte key commitment of a type 0x0b record, ``None`` for a legacy
    type 0x06 record (which commits to nothing). ``suite`` is 1 (P-256 HPKE) or 2 (X-Wing).
    """

    case_id: uuid.UUID
    epoch: int
    recipient_key_id: bytes
    wrapper_user_id: uuid.UUID
    wrapper_key_id: bytes
    commitment: bytes | None = None
    suite: int = SUITE_P256_SHA256_AES256GCM


def generate_case_key() -> bytes:
    """A fresh 256-bit case key for a new case or epoch."""
    return os.urandom(CASE_KEY_LENGTH)


def _info(case_id: bytes, epoch: int, recipient_key_id: bytes) -> bytes:
    return _INFO_LABEL + case_id + u32(epoch) + recipient_key_id


def _commitment(case_key: bytes, case_id: bytes, epoch: int) -> bytes:
    return hmac_sha256(case_key, _COMMIT_LABEL + case_id + u32(epoch))


def case_key_commitment(case_key: bytes, *, case_id: uuid.UUID, epoch: int) -> bytes:
    """The key commitment of a case key for one case and epoch (32 bytes)::

    HMAC-SHA256(CK, "dermline/v1/case-key-commitment" || 0x00 || case id || epoch (u32))

    Every type 0x0b wrap of one epoch carries it in its signed clear header; it reveals
    nothing about CK (HMAC is a PRF) and no other key gives the same value (HMAC-SHA256 with
    a fixed-length key is collision resistant in the key).
    """
    case_key = check_bytes("case_key", case_key, CASE_KEY_LENGTH)
    return _commitment(case_key, check_uuid("case_id", case_id), check_uint("epoch", epoch, 32))


def case_key_matches_commitment(
    case_key: bytes, commitment: bytes, *, case_id: uuid.UUID, epoch: int
) -> bool:
    """Whether ``case_key`` is the key ``commitment`` commits to (constant-time compare).

    For a reader that holds a case key and the commitment it verified when it unwrapped it,
    and checks the two again before it decrypts messages with that key.
    """
    commitment = check_bytes("commitment", commitment, CASE_KEY_COMMITMENT_LENGTH)
    return hmac.compare_digest(
        case_key_commitment(case_key, case_id=case_id, epoch=epoch), commitment
    )


class _WrapTo(TypedDict):
    """The keyword arguments every wrap takes (described at :func:`wrap_case_key`)."""

    case_id: uuid.UUID
    epoch: int
    recipient_public_key: bytes
    wrapper_user_id: uuid.UUID
    wrapper_signing_key: KeyPair


_Seal = Callable[[bytes, bytes, bytes], tuple[bytes, bytes]]


def _wrap(
    case_key: bytes,
    *,
    committed: bool,
    suite: int,
    recipient_id: bytes,
    seal: _Seal,
    case_id: uuid.UUID,
    epoch: int,
    wrapper_user_id: uuid.UUID,
    wrapper_signing_key: KeyPair,
) -> bytes:
    """The record of any kind: 0x0b (``committed``) in either suite, or the legacy 0x06.

    ``seal(info, aad, plaintext)`` is the suite's HPKE SealBase to the recipient.
    """
    case_key = check_bytes("case_key", case_key, CASE_KEY_LENGTH)
    case = check_uuid("case_id", case_id)
    epoch = check_uint("epoch", epoch, 32)
    wrapper = check_uuid("wrapper_user_id", wrapper_user_id)
    if not isinstance(wrapper_signing_key, KeyPair):
        raise TypeError("wrapper_signing_key must be a KeyPair")
    record_type = RecordType.CASE_KEY_WRAP_COMMITTED if committed else RecordType.CASE_KEY_WRAP
    header = (
        prefix(record_type, suite)
        + case
        + u32(epoch)
        + recipient_id
        + wrapper
        + wrapper_signing_key.key_id
    )
    if committed:
        header += _commitment(case_key, case, epoch)
    enc, ciphertext = seal(_info(case, epoch, recipient_id), header, case_key)
    body = header + enc + ciphertext
    return body + p256_sign(wrapper_signing_key.private_key, _SIG_LABEL + body)


def _classical(case_key: bytes, committed: bool, ikm_e: bytes, wrap_to: _WrapTo) -> bytes:
    recipient_public_key = wrap_to["recipient_public_key"]
    recipient_id = key_id(recipient_public_key)

    def seal(info: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
        return seal_base(recipient_public_key, info, aad, plaintext, ikm_e=ikm_e)

    return _wrap(
        case_key,
        committed=committed,
        suite=SUITE_P256_SHA256_AES256GCM,
        recipient_id=recipient_id,
        seal=seal,
        case_id=wrap_to["case_id"],
        epoch=wrap_to["epoch"],
        wrapper_user_id=wrap_to["wrapper_user_id"],
        wrapper_signing_key=wrap_to["wrapper_signing_key"],
    )


def wrap_case_key_from_parts(case_key: bytes, *, ikm_e: bytes, **wrap_to: Unpack[_WrapTo]) -> bytes:
    """Deterministic form of :func:`wrap_case_key` (HPKE ephemeral ikm given); type 0x0b.

    The other keyword arguments (all required) are those of :func:`wrap_case_key`.
    """
    return _classical(case_key, True, ikm_e, wrap_to)


def wrap_legacy_case_key_from_parts(
    case_key: bytes, *, ikm_e: bytes, **wrap_to: Unpack[_WrapTo]
) -> bytes:
    """The legacy record (type 0x06, no key commitment), deterministically.

    Takes the arguments of :func:`wrap_case_key_from_parts`. Only for the published v1
    vectors and tests that old records still open: new wraps are type 0x0b, and the server
    refuses 0x06 wraps for new cases.
    """
    return _classical(case_key, False, ikm_e, wrap_to)


def wrap_case_key(case_key: bytes, **wrap_to: Unpack[_WrapTo]) -> bytes:
    """HPKE-wrap a case key to one recipient, commit to it and sign the record (type 0x0b).

    Keyword arguments, all required: ``case_id`` (UUID) and ``epoch`` (u32) of the case
    key, ``recipient_public_key`` (65-byte P-256 point), ``wrapper_user_id`` (UUID) and
    ``wrapper_signing_key`` (the wrapper's signing :class:`crypto.account.KeyPair`).

    Raises :class:`crypto.errors.PublicKeyError` if the recipient key is not a valid point.
    """
    return wrap_case_key_from_parts(case_key, ikm_e=os.urandom(32), **wrap_to)


def wrap_case_key_hybrid_from_parts(
    case_key: bytes, *, encapsulation: xwing.Encapsulation, **wrap_to: Unpack[_WrapTo]
) -> bytes:
    """Deterministic form of :func:`wrap_case_key_hybrid`: the X-Wing encapsulation given.

    ``encapsulation`` must be a fresh one to ``recipient_public_key`` (this function cannot
    check that: a wrong one makes a record the recipient cannot open).
    """
    recipient_id = hybrid_key_id(wrap_to["recipient_public_key"])

    def seal(info: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
        return seal_base_hybrid(encapsulation, info, aad, plaintext)

    return _wrap(
        case_key,
        committed=True,
        suite=SUITE_HYBRID,
        recipient_id=recipient_id,
        seal=seal,
        case_id=wrap_to["case_id"],
        epoch=wrap_to["epoch"],
        wrapper_user_id=wrap_to["wrapper_user_id"],
        wrapper_signing_key=wrap_to["wrapper_signing_key"],
    )


def wrap_case_key_hybrid(case_key: bytes, **wrap_to: Unpack[_WrapTo]) -> bytes:
    """The suite-2 wrap (``01 02 0b``, 1335 bytes) to a recipient's X-Wing key.

    As :func:`wrap_case_key`, with ``recipient_public_key`` the recipient's 1216-byte hybrid
    key; :class:`crypto.errors.PublicKeyError` if it is not a valid X-Wing key.
    """
    hybrid_key_id(wrap_to["recipient_public_key"])  # PublicKeyError before any work
    encapsulation = xwing.encapsulate(wrap_to["recipient_public_key"])
    return wrap_case_key_hybrid_from_parts(case_key, encapsulation=encapsulation, **wrap_to)


def _parse(record: bytes) -> tuple[CaseKeyWrapHeader, bytes]:
    """Header and the raw record, either type; raises :class:`Malformed`."""
    reader = Reader(record)
    kind = reader.take(3)
    suite = SUITE_P256_SHA256_AES256GCM
    if kind == prefix(RecordType.CASE_KEY_WRAP_COMMITTED):
        committed = True
    elif kind == prefix(RecordType.CASE_KEY_WRAP_COMMITTED, SUITE_HYBRID):
        committed, suite = True, SUITE_HYBRID
    elif kind == prefix(RecordType.CASE_KEY_WRAP):
        committed = False
    else:
        raise Malformed
    case_id = reader.uuid()
    epoch = reader.u32()
    recipient_key_id = reader.take(16)
    wrapper_user_id = reader.uuid()
    wrapper_key_id = reader.take(16)
    header = CaseKeyWrapHeader(
        case_id=case_id,
        epoch=epoch,
        recipient_key_id=recipient_key_id,
        wrapper_user_id=wrapper_user_id,
        wrapper_key_id=wrapper_key_id,
        commitment=reader.take(CASE_KEY_COMMITMENT_LENGTH) if committed else None,
        suite=suite,
    )
    reader.take(_enc_length(suite) + CASE_KEY_LENGTH + 16 + _SIGNATURE)
    reader.end()
    return header, reader.consumed()


def _enc_length(suite: int) -> int:
    return xwing.CIPHERTEXT_LEN if suite == SUITE_HYBRID else _ENC


def parse_case_key_wrap_header(record: bytes) -> CaseKeyWrapHeader:
    """Read the clear header without any key (no signature check, no decryption).

    Accepts the committed record (0x0b, ``commitment`` set) in suite 1 or 2 (``suite``) and
    the legacy one (0x06, ``commitment`` None). Raises :class:`CaseKeyWrapHeaderError`
    unless the record has the exact shape of one of them.
    """
    try:
        return _parse(record)[0]
    except Malformed:
        raise CaseKeyWrapHeaderError from None


def _verify(record: bytes, wrapper_signing_public_key: bytes) -> tuple[CaseKeyWrapHeader, bytes]:
    header, raw = _parse(record)
    if not hmac.compare_digest(key_id(wrapper_signing_public_key), header.wrapper_key_id):
        raise Malformed
    signed_end = len(raw) - _SIGNATURE
    p256_verify(wrapper_signing_public_key, _SIG_LABEL + raw[:signed_end], raw[signed_end:])
    return header, raw


def verify_case_key_wrap(record: bytes, wrapper_signing_public_key: bytes) -> CaseKeyWrapHeader:
    """Check the record's shape and the wrapper's signature; return the clear header.

    ``wrapper_signing_public_key`` is the signing key the caller looked up for the header's
    wrapper user id and key id. Raises :class:`CaseKeyWrapSignatureError`.
    """
    try:
        return _verify(record, wrapper_signing_public_key)[0]
    except (Malformed, PrimitiveError, PublicKeyError):
        raise CaseKeyWrapSignatureError from None


def open_case_key_wrap(
    record: bytes,
    *,
    case_id: uuid.UUID,
    epoch: int,
    recipient: KeyPair | HybridKeyPair,
    wrapper_signing_public_key: bytes,
    wrapper_user_id: uuid.UUID | None = None,
) -> bytes:
    """Verify the signature, check case, epoch and recipient, decrypt, check the commitment.

    Nothing is decrypted unless the signature verifies, and for a type 0x0b record nothing
    is returned unless the decrypted key is the one the signed commitment names. Raises
    :class:`CaseKeyUnwrapError`. ``wrapper_user_id`` is the user the caller's directory says
    owns ``wrapper_signing_public_key``; when given (recommended), the header's wrapper user
    id must equal it, so a record cannot claim to come from another member.

    ``recipient`` is the caller's P-256 encryption :class:`KeyPair` for a suite-1 record and
    its X-Wing :class:`HybridKeyPair` for a suite-2 record; a record of the other suite is
    refused like any other mis-addressed one. Whether a suite-1 record was acceptable at all
    (the wrapper knew of a hybrid key) is :func:`crypto.suite.require_suite`'s question.
    """
    case = check_uuid("case_id", case_id)
    epoch = check_uint("epoch", epoch, 32)
    wrapper = None if wrapper_user_id is None else check_uuid("wrapper_user_id", wrapper_user_id)
    if not isinstance(recipient, KeyPair | HybridKeyPair):
        raise TypeError("recipient must be a KeyPair or a HybridKeyPair")
    try:
        header, raw = _verify(record, wrapper_signing_public_key)
        if (
            header.case_id.bytes != case
            or header.epoch != epoch
            or header.recipient_key_id != recipient.key_id
            or (wrapper is not None and header.wrapper_user_id.bytes != wrapper)
            or isinstance(recipient, HybridKeyPair) != (header.suite == SUITE_HYBRID)
        ):
            raise Malformed
        clear = _LEGACY_HEADER + (0 if header.commitment is None else CASE_KEY_COMMITMENT_LENGTH)
        end = clear + _enc_length(header.suite)
        enc, ciphertext = raw[clear:end], raw[end : len(raw) - _SIGNATURE]
        info = _info(case, epoch, recipient.key_id)
        if isinstance(recipient, HybridKeyPair):
            ck = open_base_hybrid(recipient.seed, enc, info, raw[:clear], ciphertext)
        else:
            ck = open_base(recipient.private_key, enc, info, raw[:clear], ciphertext)
        if header.commitment is not None and not hmac.compare_digest(
            _commitment(ck, case, epoch), header.commitment
        ):
            raise Malformed
        return ck
    except (Malformed, PrimitiveError, PublicKeyError):
        raise CaseKeyUnwrapError from None
