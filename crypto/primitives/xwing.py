"""X-Wing: the hybrid ML-KEM-768 + X25519 KEM (draft-connolly-cfrg-xwing-kem-11).

X-Wing is HPKE KEM id ``0x647a``; draft-irtf-cfrg-concrete-hybrid-kems section 4.2 calls the
same construction ``MLKEM768-X25519`` (same bytes, same combiner label), and
draft-ietf-hpke-pq uses that KEM id for HPKE. The shared secret is safe as long as *either*
ML-KEM-768 (FIPS 203) or X25519 (RFC 7748) is: the combiner hashes both shared secrets with
the X25519 ciphertext and public key (the ML-KEM ciphertext is left out, as the draft
argues, because ML-KEM is itself ciphertext-binding).

Sizes and encodings (draft section 5)::

    decapsulation key  sk  = 32-byte seed
    expand(sk)             = SHAKE-256(sk, 96): d || z (64) -> ML-KEM-768.KeyGen_internal,
                             the last 32 bytes are the X25519 private key sk_X
    encapsulation key  pk  = pk_M (1184) || pk_X (32)                                1216
    ciphertext         ct  = ct_M (1088) || ct_X (32)                                1120
    shared secret      ss  = SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel)     32
    XWingLabel             = 5c 2e 2f 2f 5e 5c   (the ASCII art "\\./" "/^\\")

Encapsulation draws 64 bytes of randomness ``eseed``: the first 32 are ML-KEM's message
``m``, the last 32 the X25519 ephemeral private key ``ek_X``. pyca/cryptography draws ``m``
itself and offers no derandomised ML-KEM encapsulation, so :func:`encapsulate_from_parts`
takes ML-KEM's output (its ciphertext and shared secret) and ``ek_X``; :func:`encapsulate`
feeds it pyca's encapsulation and fresh ``ek_X``. The draft's test vectors are checked end
to end with an independent ML-KEM (``kyber-py``, a dev dependency) supplying the derandomised
ML-KEM half (``tests/crypto/primitives/test_xwing.py``).

Public keys come from the directory, so :func:`check_public_key` validates them: the length,
ML-KEM's modulus check on ``pk_M`` (FIPS 203 section 7.2, done by pyca when it loads the
key), and that ``pk_X`` is not a small-order point. An X25519 output of all zeros (a
small-order point as ``pk_X`` or ``ct_X``, which no honest party makes) is refused with
:class:`PrimitiveError` (RFC 7748 section 6.1), as pyca, WebCrypto and the browser library do.
Otherwise decapsulation does not fail for a ciphertext of the right length: ML-KEM rejects
implicitly (a pseudorandom secret), so a tampered ciphertext yields a wrong shared secret and
the AEAD after it fails.

The SubjectPublicKeyInfo of an X-Wing key (draft section 6, OID 1.3.6.1.4.1.62253.25722, no
parameters, the 1216 bytes as the BIT STRING) is 1240 bytes and has one fixed 24-byte prefix;
Dermline's key ids hash it like every other key's SPKI.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from crypto.errors import PrimitiveError
from crypto.primitives._checks import require_bytes, require_len

__all__ = [
    "CIPHERTEXT_LEN",
    "ENCAPSULATION_SEED_LEN",
    "MLKEM768_CIPHERTEXT_LEN",
    "MLKEM768_PUBLIC_LEN",
    "PUBLIC_KEY_LEN",
    "SEED_LEN",
    "SHARED_SECRET_LEN",
    "SPKI_PREFIX",
    "XWING_LABEL",
    "Encapsulation",
    "check_public_key",
    "combiner",
    "decapsulate",
    "derive_key_pair",
    "encapsulate",
    "encapsulate_from_parts",
    "mlkem768_decapsulate",
    "mlkem768_public_key",
    "public_key",
    "public_key_from_spki_der",
    "spki_der",
]

SEED_LEN: Final = 32
MLKEM768_PUBLIC_LEN: Final = 1184
MLKEM768_CIPHERTEXT_LEN: Final = 1088
_X25519_LEN: Final = 32
PUBLIC_KEY_LEN: Final = MLKEM768_PUBLIC_LEN + _X25519_LEN  # 1216
CIPHERTEXT_LEN: Final = MLKEM768_CIPHERTEXT_LEN + _X25519_LEN  # 1120
SHARED_SECRET_LEN: Final = 32
ENCAPSULATION_SEED_LEN: Final = 64
XWING_LABEL: Final = b"\\./" + b"/^\\"  # 5c 2e 2f 2f 5e 5c
# SEQUENCE { SEQUENCE { OID 1.3.6.1.4.1.62253.25722 }, BIT STRING (0 unused bits) pk }
SPKI_PREFIX: Final = bytes.fromhex("308204d4300d060b2b0601040183e62d81c87a038204c100")


# Any fixed scalar: X25519 clamps it to a multiple of the cofactor, so its product with a point
# is zero exactly when the point has small order. Used only to validate public keys.
_PROBE: Final = x25519.X25519PrivateKey.from_private_bytes(bytes(range(32)))


@dataclass(frozen=True, slots=True)
class Encapsulation:
    """The output of an encapsulation: the 32-byte shared secret and the 1120-byte ct."""

    shared_secret: bytes = field(repr=False)
    ciphertext: bytes


def mlkem768_public_key(seed: bytes) -> bytes:
    """ML-KEM-768.KeyGen_internal(d, z) for the 64-byte ``d || z``: the 1184-byte ``ek``."""
    private = mlkem.MLKEM768PrivateKey.from_seed_bytes(require_len("seed", seed, 64))
    return private.public_key().public_bytes_raw()


def mlkem768_decapsulate(seed: bytes, ciphertext: bytes) -> bytes:
    """ML-KEM-768.Decaps with the key of seed ``d || z``; a ct not of 1088 bytes: PrimitiveError."""
    private = mlkem.MLKEM768PrivateKey.from_seed_bytes(require_len("seed", seed, 64))
    if len(require_bytes("ciphertext", ciphertext)) != MLKEM768_CIPHERTEXT_LEN:
        raise PrimitiveError
    return private.decapsulate(ciphertext)


def _expand(seed: bytes) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
    expanded = hashlib.shake_256(require_len("seed", seed, SEED_LEN)).digest(96)
    return (
        mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
        x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
    )


def _public(sk_m: mlkem.MLKEM768PrivateKey, sk_x: x25519.X25519PrivateKey) -> bytes:
    return sk_m.public_key().public_bytes_raw() + sk_x.public_key().public_bytes_raw()


def public_key(seed: bytes) -> bytes:
    """The 1216-byte encapsulation key of the 32-byte decapsulation key (seed)."""
    return _public(*_expand(seed))


def derive_key_pair(seed: bytes) -> tuple[bytes, bytes]:
    """GenerateKeyPairDerand(seed): ``(sk, pk)``; ``sk`` is the seed itself (draft 5.2)."""
    return seed, public_key(seed)


def check_public_key(pk: bytes) -> None:
    """Validate a peer's encapsulation key: 1216 bytes, ``pk_M`` passes ML-KEM's modulus check,
    ``pk_X`` is not of small order (an X25519 with it would output zeros).

    Raises :class:`PrimitiveError` otherwise (``TypeError`` if ``pk`` is not ``bytes``).
    """
    _load_mlkem_public(require_bytes("pk", pk))
    _x25519(_PROBE, pk[MLKEM768_PUBLIC_LEN:])


def _load_mlkem_public(pk: bytes) -> mlkem.MLKEM768PublicKey:
    if len(pk) != PUBLIC_KEY_LEN:
        raise PrimitiveError
    try:
        return mlkem.MLKEM768PublicKey.from_public_bytes(pk[:MLKEM768_PUBLIC_LEN])
    except ValueError:  # FIPS 203 7.2 modulus check failed
        raise PrimitiveError from None


def combiner(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    """``SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel)`` (draft section 5.3)."""
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest()


def encapsulate_from_parts(
    pk: bytes, *, ek_x: bytes, mlkem_ciphertext: bytes, mlkem_shared_secret: bytes
) -> Encapsulation:
    """EncapsulateDerand with the ML-KEM half already done (draft section 5.4).

    ``mlkem_ciphertext`` / ``mlkem_shared_secret`` are ML-KEM-768.Encaps(pk_M) for this
    ``pk`` (made with fresh randomness by :func:`encapsulate`, or derandomised by a reference
    implementation for test vectors); ``ek_x`` is the 32-byte X25519 ephemeral private key.
    ``pk`` is validated (:class:`PrimitiveError`).
    """
    check_public_key(pk)
    ek = x25519.X25519PrivateKey.from_private_bytes(require_len("ek_x", ek_x, _X25519_LEN))
    ct_m = require_len("mlkem_ciphertext", mlkem_ciphertext, MLKEM768_CIPHERTEXT_LEN)
    ss_m = require_len("mlkem_shared_secret", mlkem_shared_secret, SHARED_SECRET_LEN)
    pk_x = pk[MLKEM768_PUBLIC_LEN:]
    ct_x = ek.public_key().public_bytes_raw()
    ss_x = _x25519(ek, pk_x)
    return Encapsulation(combiner(ss_m, ss_x, ct_x, pk_x), ct_m + ct_x)


def encapsulate(pk: bytes) -> Encapsulation:
    """Encapsulate(pk) with fresh randomness (ML-KEM's from pyca, ``ek_X`` from the OS)."""
    public = _load_mlkem_public(require_bytes("pk", pk))
    ss_m, ct_m = public.encapsulate()
    return encapsulate_from_parts(
        pk, ek_x=os.urandom(_X25519_LEN), mlkem_ciphertext=ct_m, mlkem_shared_secret=ss_m
    )


def _x25519(private: x25519.X25519PrivateKey, peer: bytes) -> bytes:
    # An all-zero output (a small-order peer key, never made honestly) is refused, as RFC
    # 7748 section 6.1 allows and as pyca, WebCrypto and the browser library all do, so every
    # implementation fails alike on such input.
    try:
        return private.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
    except ValueError:
        raise PrimitiveError from None


def decapsulate(ct: bytes, seed: bytes) -> bytes:
    """Decapsulate(ct, sk): the shared secret; PrimitiveError for a ct that is not 1120 bytes
    or whose ``ct_X`` is a small-order point.

    A tampered ciphertext of the right length decapsulates to an unrelated secret (ML-KEM's
    implicit rejection), which the AEAD that uses it then refuses.
    """
    require_bytes("ct", ct)
    sk_m, sk_x = _expand(seed)
    if len(ct) != CIPHERTEXT_LEN:
        raise PrimitiveError
    ct_x = ct[MLKEM768_CIPHERTEXT_LEN:]
    ss_m = sk_m.decapsulate(ct[:MLKEM768_CIPHERTEXT_LEN])
    pk_x = sk_x.public_key().public_bytes_raw()
    return combiner(ss_m, _x25519(sk_x, ct_x), ct_x, pk_x)


def spki_der(pk: bytes) -> bytes:
    """The 1240-byte SubjectPublicKeyInfo of a valid X-Wing key (:class:`PrimitiveError`)."""
    check_public_key(pk)
    return SPKI_PREFIX + pk


def public_key_from_spki_der(der: bytes) -> bytes:
    """The 1216-byte key inside an X-Wing SPKI; anything else raises :class:`PrimitiveError`."""
    require_bytes("der", der)
    if der[: len(SPKI_PREFIX)] != SPKI_PREFIX:
        raise PrimitiveError
    pk = der[len(SPKI_PREFIX) :]
    check_public_key(pk)
    return pk
