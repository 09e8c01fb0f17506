"""Elliptic-curve primitives: P-256 (ECDH, ECDSA) and X25519 (HPKE test vectors only).

Wire conventions (shared with the browser port, which uses WebCrypto):

* P-256 private key: 32-byte big-endian scalar ``d`` with ``1 <= d < n``.
* P-256 public key: 65-byte uncompressed SEC1 point ``0x04 || X || Y`` (SEC1 v2 section
  2.3.3). Compressed points and the point at infinity are refused, even where the RFCs would
  allow them, so that every key has exactly one encoding (key ids hash the SPKI).
* ECDSA signature: IEEE P1363 ``r || s``, 64 bytes, as WebCrypto emits it. Signing is RFC 6979
  deterministic, so signatures (and our vectors) are reproducible; verification accepts any
  valid signature including high-``s`` ones (WebCrypto does), so a signature's bytes are not
  unique: never use them as an identifier.
* Key generation: RFC 9180 section 7.1.3 ``DeriveKeyPair(ikm)`` from caller-supplied
  randomness, for ECDH and ECDSA keys alike. The module itself draws no randomness.

Errors: arguments that are our own (a private key, ``ikm``) raise ``TypeError`` /
``ValueError`` when malformed. Anything a peer or storage can hand us (a public key, a
signature, a DER blob) raises :class:`~crypto.errors.PrimitiveError` when invalid, with no
detail.
"""

from __future__ import annotations

import functools
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from crypto.errors import PrimitiveError
from crypto.primitives._checks import require_bytes, require_len
from crypto.primitives._labeled import kem_suite_id, labeled_expand, labeled_extract

__all__ = [
    "P256_N",
    "P256_PUBLIC_LEN",
    "P256_SCALAR_LEN",
    "P256_SIGNATURE_LEN",
    "X25519_KEY_LEN",
    "der_to_p1363",
    "p256_check_public",
    "p256_derive_keypair",
    "p256_ecdh",
    "p256_public_from_spki_der",
    "p256_public_key",
    "p256_sign",
    "p256_spki_der",
    "p256_verify",
    "p1363_to_der",
    "x25519_derive_keypair",
    "x25519_dh",
    "x25519_public_key",
]

# Order of the P-256 base point (SEC 2 v2 section 2.4.2; FIPS 186-5 / SP 800-186).
P256_N: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_SCALAR_LEN: Final = 32
P256_PUBLIC_LEN: Final = 65
P256_SIGNATURE_LEN: Final = 64
X25519_KEY_LEN: Final = 32

_CURVE: Final = ec.SECP256R1()
_ECDSA_SIGN: Final = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)  # RFC 6979
_ECDSA_VERIFY: Final = ec.ECDSA(hashes.SHA256())
_UNCOMPRESSED: Final = 0x04
_KEM_P256: Final = kem_suite_id(0x0010)  # DHKEM(P-256, HKDF-SHA256), RFC 9180 section 7.1
_KEM_X25519: Final = kem_suite_id(0x0020)  # DHKEM(X25519, HKDF-SHA256)


# --- P-256 keys ---------------------------------------------------------------------------


def _private_key(sk: bytes) -> ec.EllipticCurvePrivateKey:
    d = int.from_bytes(require_len("sk", sk, P256_SCALAR_LEN), "big")
    if not 1 <= d < P256_N:
        raise ValueError("sk is not a valid P-256 scalar")
    return ec.derive_private_key(d, _CURVE)


@functools.lru_cache(maxsize=1024)
def _load_public(pk: bytes) -> ec.EllipticCurvePublicKey:
    # Public keys are verified once and the parsed object is cached: a message open checks a
    # signature by one of a handful of senders, and point decoding + on-curve check is a
    # measurable part of a verify. Only valid points are cached (exceptions are not), and
    # the key is the exact 65-byte encoding, so a cache hit is the same key.
    if len(pk) != P256_PUBLIC_LEN or pk[0] != _UNCOMPRESSED:
        raise PrimitiveError
    try:
        # from_encoded_point checks that the point is on the curve (SEC1 v2 section 3.2.2.1;
        # P-256 has cofactor 1, so on-curve and not infinity is full public-key validation).
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, pk)
    except ValueError:
        raise PrimitiveError from None


def _encode_public(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def p256_derive_keypair(ikm: bytes) -> tuple[bytes, bytes]:
    """RFC 9180 section 7.1.3 DeriveKeyPair for DHKEM(P-256, HKDF-SHA256): ``(sk32, pk65)``.

    ``ikm`` must hold at least 32 bytes of fresh randomness (RFC 9180: at least ``Nsk``).
    Deterministic: the same ``ikm`` always gives the same pair.
    """
    require_bytes("ikm", ikm)
    if len(ikm) < P256_SCALAR_LEN:
        raise ValueError("ikm must be at least 32 bytes")
    dkp_prk = labeled_extract(_KEM_P256, b"", b"dkp_prk", ikm)
    # Rejection sampling; the P-256 bitmask is 0xff, so no masking. The chance that one
    # candidate is rejected is about 2**-32, so more than one round essentially never runs.
    for counter in range(256):
        candidate = labeled_expand(_KEM_P256, dkp_prk, b"candidate", bytes([counter]), 32)
        if 0 < int.from_bytes(candidate, "big") < P256_N:
            return candidate, p256_public_key(candidate)
    # RFC 9180: DeriveKeyPairError after 256 rejected candidates (probability ~2**-8192).
    raise ValueError("DeriveKeyPair failed")


def p256_public_key(sk: bytes) -> bytes:
    """The 65-byte uncompressed public point of the 32-byte scalar ``sk``."""
    return _encode_public(_private_key(sk).public_key())


def p256_check_public(pk: bytes) -> None:
    """Validate a public key from a peer: 65 bytes, ``0x04`` prefix, on the curve.

    Raises :class:`PrimitiveError` otherwise (``TypeError`` if ``pk`` is not ``bytes``).
    """
    _load_public(require_bytes("pk", pk))


def p256_spki_der(pk: bytes) -> bytes:
    """DER SubjectPublicKeyInfo (RFC 5480) of ``pk``: what WebCrypto ``exportKey("spki")`` gives.

    91 bytes for every P-256 key; the protocol's key ids are hashes of it.
    """
    public = _load_public(require_bytes("pk", pk))
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def p256_public_from_spki_der(der: bytes) -> bytes:
    """Parse a DER SubjectPublicKeyInfo holding a P-256 key; return the 65-byte point.

    Anything else (bad DER, another curve or algorithm, trailing bytes) raises
    :class:`PrimitiveError`. The result re-encodes to exactly ``der`` (checked), so one key
    has one SPKI.
    """
    require_bytes("der", der)
    try:
        public = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):  # bad DER / unknown curve / unknown algorithm
        raise PrimitiveError from None
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != _CURVE.name:
        raise PrimitiveError
    pk = _encode_public(public)
    if p256_spki_der(pk) != der:
        raise PrimitiveError
    return pk


# --- ECDH -------------------------------------------------------------------------------


def p256_ecdh(sk: bytes, pk: bytes) -> bytes:
    """ECDH over P-256 (SP 800-56A ECC CDH): the 32-byte x-coordinate of ``d * Q``.

    ``pk`` comes from a peer and is fully validated first (65-byte uncompressed point on the
    curve); an invalid one raises :class:`PrimitiveError`, which defeats invalid-curve attacks.
    """
    private = _private_key(sk)
    public = _load_public(require_bytes("pk", pk))
    return private.exchange(ec.ECDH(), public)


# --- ECDSA ------------------------------------------------------------------------------


def _split_p1363(signature: bytes) -> tuple[int, int]:
    # P1363: r and s as fixed 32-byte big-endian integers. Both must be in [1, n-1]
    # (FIPS 186-5 section 6.4.2 step 1); refusing out-of-range values here means no
    # non-canonical encoding (r + n, s + n, zero) can pass.
    if len(signature) != P256_SIGNATURE_LEN:
        raise PrimitiveError
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (1 <= r < P256_N and 1 <= s < P256_N):
        raise PrimitiveError
    return r, s


def p256_sign(sk: bytes, message: bytes) -> bytes:
    """ECDSA P-256 / SHA-256 signature, RFC 6979 deterministic, as 64-byte P1363 ``r || s``."""
    private = _private_key(sk)
    der = private.sign(require_bytes("message", message), _ECDSA_SIGN)
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def p256_verify(pk: bytes, message: bytes, signature: bytes) -> None:
    """Verify a 64-byte P1363 ECDSA P-256 / SHA-256 signature; return ``None`` if valid.

    Raises :class:`PrimitiveError` for an invalid public key, a signature that is not exactly
    64 bytes, ``r`` or ``s`` outside ``[1, n-1]``, or a signature that does not verify.
    """
    require_bytes("pk", pk)
    require_bytes("message", message)
    require_bytes("signature", signature)
    public = _load_public(pk)
    r, s = _split_p1363(signature)
    try:
        public.verify(encode_dss_signature(r, s), message, _ECDSA_VERIFY)
    except InvalidSignature:
        raise PrimitiveError from None


def der_to_p1363(signature: bytes) -> bytes:
    """Convert a DER ``Ecdsa-Sig-Value`` (RFC 3279) to 64-byte P1363 ``r || s``.

    The parse is strict DER (pyca's ASN.1 parser: no BER lengths, no negative or padded
    integers, no trailing bytes); ``r`` and ``s`` must be in ``[1, n-1]``. Anything else
    raises :class:`PrimitiveError`.
    """
    require_bytes("signature", signature)
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        raise PrimitiveError from None
    if not (1 <= r < P256_N and 1 <= s < P256_N):
        raise PrimitiveError
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def p1363_to_der(signature: bytes) -> bytes:
    """Convert a 64-byte P1363 ``r || s`` signature to DER; :class:`PrimitiveError` if invalid."""
    r, s = _split_p1363(require_bytes("signature", signature))
    return encode_dss_signature(r, s)


# --- X25519 (RFC 9180 DHKEM(X25519) test vectors) -----------------------------------------


def x25519_derive_keypair(ikm: bytes) -> tuple[bytes, bytes]:
    """RFC 9180 section 7.1.3 DeriveKeyPair for DHKEM(X25519, HKDF-SHA256): ``(sk32, pk32)``."""
    require_bytes("ikm", ikm)
    if len(ikm) < X25519_KEY_LEN:
        raise ValueError("ikm must be at least 32 bytes")
    dkp_prk = labeled_extract(_KEM_X25519, b"", b"dkp_prk", ikm)
    sk = labeled_expand(_KEM_X25519, dkp_prk, b"sk", b"", X25519_KEY_LEN)
    return sk, x25519_public_key(sk)


def x25519_public_key(sk: bytes) -> bytes:
    """The 32-byte X25519 public key of the 32-byte private key ``sk`` (RFC 7748)."""
    private = x25519.X25519PrivateKey.from_private_bytes(require_len("sk", sk, X25519_KEY_LEN))
    return private.public_key().public_bytes_raw()


def x25519_dh(sk: bytes, pk: bytes) -> bytes:
    """X25519(sk, pk) (RFC 7748 section 5); an all-zero result raises :class:`PrimitiveError`.

    RFC 9180 section 7.1.4 requires the all-zero check (small-order peer keys); pyca performs
    it and raises ``ValueError``, which is mapped here.
    """
    private = x25519.X25519PrivateKey.from_private_bytes(require_len("sk", sk, X25519_KEY_LEN))
    require_bytes("pk", pk)
    if len(pk) != X25519_KEY_LEN:
        raise PrimitiveError
    public = x25519.X25519PublicKey.from_public_bytes(pk)
    try:
        return private.exchange(public)
    except ValueError:
        raise PrimitiveError from None
