"""HPKE (RFC 9180) base mode, single-shot, built from our own primitives.

Why not pyca's ``hpke.Suite`` directly: it draws the ephemeral key itself and takes no
associated data, so neither the RFC's known-answer vectors nor our own deterministic vectors
could be checked end to end. This module follows RFC 9180 step by step, with the ephemeral
key derived from injected ``ikm_e`` (section 7.1.3 ``DeriveKeyPair``), and the tests prove it
interoperates with pyca's implementation in both directions.

Suites: the protocol's suite 1 uses :data:`DEFAULT_SUITE` = DHKEM(P-256, HKDF-SHA256)
(``kem_id`` 0x0010) / HKDF-SHA256 (``kdf_id`` 0x0001) / AES-256-GCM (``aead_id`` 0x0002); its
suite 2 uses :data:`HYBRID_SUITE` = X-Wing (``kem_id`` 0x647a, :mod:`crypto.primitives.xwing`)
with the same KDF and AEAD. DHKEM(X25519) (0x0020) and AES-128-GCM (0x0001) exist for the RFC
vectors only.

X-Wing is not a DHKEM: its encapsulation is :func:`crypto.primitives.xwing.encapsulate` and
its shared secret goes into the key schedule as it is (no ExtractAndExpand), so it has its
own single-shot pair, :func:`seal_base_hybrid` (which takes the encapsulation, since pyca's
ML-KEM draws its own randomness) and :func:`open_base_hybrid`.

Layout, bottom to top (RFC 9180 section numbers):

* :func:`encap` / :func:`decap` -- DHKEM (4.1): ``enc`` is the serialized ephemeral public
  key; ``shared_secret = ExtractAndExpand(DH, enc || pkRm)``.
* :func:`key_schedule_base` -- KeySchedule with mode_base, empty psk (5.1).
* :func:`compute_nonce`, :func:`context_seal`, :func:`context_open` -- the encryption context
  for sequence number ``seq`` (5.2).
* :func:`seal_base` / :func:`open_base` -- single-shot SealBase / OpenBase (6.1) at
  sequence 0, returning / taking ``enc`` and the AEAD ciphertext separately. pyca's
  ``Suite.encrypt(pt, pk, info)`` output is ``enc || ct`` with empty ``aad``.

Errors: a malformed recipient *private* key or ``ikm_e`` is misuse (``ValueError`` /
``TypeError``); a bad ``enc``, a wrong key, wrong ``info``/``aad`` or a corrupted ciphertext
all raise one :class:`~crypto.errors.PrimitiveError` from :func:`open_base`, whatever failed.
A recipient public key handed to :func:`seal_base` is validated (it may come from a peer)
and raises :class:`~crypto.errors.PrimitiveError` when invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from crypto.primitives import aead, ecc, xwing
from crypto.primitives._checks import require_bytes
from crypto.primitives._labeled import (
    hpke_suite_id,
    kem_suite_id,
    labeled_expand,
    labeled_extract,
)

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "DEFAULT_SUITE",
    "HYBRID_SUITE",
    "KDF_HKDF_SHA256",
    "KEM_P256_HKDF_SHA256",
    "KEM_X25519_HKDF_SHA256",
    "KEM_XWING",
    "Aead",
    "HybridKem",
    "Kem",
    "KeySchedule",
    "Suite",
    "compute_nonce",
    "context_open",
    "context_seal",
    "decap",
    "derive_keypair",
    "encap",
    "key_schedule_base",
    "open_base",
    "open_base_hybrid",
    "seal_base",
    "seal_base_hybrid",
]

_MODE_BASE: Final = 0x00
_NH: Final = 32  # HKDF-SHA256 output size (RFC 9180 section 7.2)


@dataclass(frozen=True, slots=True)
class Kem:
    """A DHKEM (RFC 9180 section 7.1): ids and sizes, plus the curve operations."""

    kem_id: int
    n_secret: int
    n_enc: int
    n_sk: int
    derive_keypair: Callable[[bytes], tuple[bytes, bytes]]
    public_key: Callable[[bytes], bytes]
    dh: Callable[[bytes, bytes], bytes]


@dataclass(frozen=True, slots=True)
class HybridKem:
    """A KEM that is not a DHKEM (here only X-Wing): ids and sizes; operations in its module."""

    kem_id: int
    n_secret: int
    n_enc: int
    n_pk: int
    n_sk: int


@dataclass(frozen=True, slots=True)
class Aead:
    """An AEAD (RFC 9180 section 7.3): ids, key and nonce sizes, seal/open."""

    aead_id: int
    n_k: int
    n_n: int
    seal: Callable[[bytes, bytes, bytes, bytes], bytes]
    open: Callable[[bytes, bytes, bytes, bytes], bytes]


@dataclass(frozen=True, slots=True)
class Suite:
    """An HPKE ciphersuite. Only HKDF-SHA256 (``kdf_id`` 1) is implemented."""

    kem: Kem | HybridKem
    kdf_id: int
    aead: Aead

    @property
    def suite_id(self) -> bytes:
        """``"HPKE" || kem_id || kdf_id || aead_id`` (section 5.1)."""
        return hpke_suite_id(self.kem.kem_id, self.kdf_id, self.aead.aead_id)


KEM_P256_HKDF_SHA256: Final = Kem(
    kem_id=0x0010,
    n_secret=32,
    n_enc=65,
    n_sk=32,
    derive_keypair=ecc.p256_derive_keypair,
    public_key=ecc.p256_public_key,
    dh=ecc.p256_ecdh,
)
KEM_X25519_HKDF_SHA256: Final = Kem(
    kem_id=0x0020,
    n_secret=32,
    n_enc=32,
    n_sk=32,
    derive_keypair=ecc.x25519_derive_keypair,
    public_key=ecc.x25519_public_key,
    dh=ecc.x25519_dh,
)
KEM_XWING: Final = HybridKem(
    kem_id=0x647A,
    n_secret=xwing.SHARED_SECRET_LEN,
    n_enc=xwing.CIPHERTEXT_LEN,
    n_pk=xwing.PUBLIC_KEY_LEN,
    n_sk=xwing.SEED_LEN,
)
KDF_HKDF_SHA256: Final = 0x0001
AEAD_AES_128_GCM: Final = Aead(
    aead_id=0x0001, n_k=16, n_n=12, seal=aead.aes128gcm_seal, open=aead.aes128gcm_open
)
AEAD_AES_256_GCM: Final = Aead(
    aead_id=0x0002, n_k=32, n_n=12, seal=aead.aes256gcm_seal, open=aead.aes256gcm_open
)
DEFAULT_SUITE: Final = Suite(KEM_P256_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_256_GCM)
HYBRID_SUITE: Final = Suite(KEM_XWING, KDF_HKDF_SHA256, AEAD_AES_256_GCM)


@dataclass(frozen=True, slots=True, repr=False)
class KeySchedule:
    """Output of the base-mode key schedule (section 5.1). ``repr`` hides the secrets."""

    key_schedule_context: bytes
    secret: bytes
    key: bytes
    base_nonce: bytes
    exporter_secret: bytes

    def __repr__(self) -> str:
        return "KeySchedule(<secret>)"


# --- KEM (section 4.1) ------------------------------------------------------------------


def _dhkem(suite: Suite) -> Kem:
    if not isinstance(suite.kem, Kem):
        raise TypeError("this function takes a DHKEM suite; X-Wing has its own")
    return suite.kem


def derive_keypair(ikm: bytes, *, suite: Suite = DEFAULT_SUITE) -> tuple[bytes, bytes]:
    """DeriveKeyPair(ikm) of the suite's KEM: ``(skXm, pkXm)`` in the KEM's serialization."""
    return _dhkem(suite).derive_keypair(ikm)


def _extract_and_expand(kem: Kem, dh: bytes, kem_context: bytes) -> bytes:
    suite_id = kem_suite_id(kem.kem_id)
    eae_prk = labeled_extract(suite_id, b"", b"eae_prk", dh)
    return labeled_expand(suite_id, eae_prk, b"shared_secret", kem_context, kem.n_secret)


def encap(pk_r: bytes, *, ikm_e: bytes, suite: Suite = DEFAULT_SUITE) -> tuple[bytes, bytes]:
    """DHKEM Encap(pkR) with the ephemeral key from ``DeriveKeyPair(ikm_e)``.

    Returns ``(shared_secret, enc)``. ``pk_r`` is validated; an invalid one raises
    :class:`PrimitiveError`.
    """
    kem = _dhkem(suite)
    sk_e, pk_e = kem.derive_keypair(ikm_e)
    dh = kem.dh(sk_e, require_bytes("pk_r", pk_r))
    return _extract_and_expand(kem, dh, pk_e + pk_r), pk_e


def decap(enc: bytes, sk_r: bytes, *, suite: Suite = DEFAULT_SUITE) -> bytes:
    """DHKEM Decap(enc, skR): the shared secret. An invalid ``enc`` raises PrimitiveError."""
    kem = _dhkem(suite)
    pk_r = kem.public_key(sk_r)
    dh = kem.dh(sk_r, require_bytes("enc", enc))
    return _extract_and_expand(kem, dh, enc + pk_r)


# --- Key schedule and context (sections 5.1, 5.2) -----------------------------------------


def key_schedule_base(
    shared_secret: bytes, info: bytes, *, suite: Suite = DEFAULT_SUITE
) -> KeySchedule:
    """KeySchedule(mode_base, shared_secret, info, psk="", psk_id="")."""
    require_bytes("shared_secret", shared_secret)
    require_bytes("info", info)
    sid = suite.suite_id
    psk_id_hash = labeled_extract(sid, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(sid, b"", b"info_hash", info)
    context = bytes([_MODE_BASE]) + psk_id_hash + info_hash
    secret = labeled_extract(sid, shared_secret, b"secret", b"")
    return KeySchedule(
        key_schedule_context=context,
        secret=secret,
        key=labeled_expand(sid, secret, b"key", context, suite.aead.n_k),
        base_nonce=labeled_expand(sid, secret, b"base_nonce", context, suite.aead.n_n),
        exporter_secret=labeled_expand(sid, secret, b"exp", context, _NH),
    )


def compute_nonce(base_nonce: bytes, seq: int) -> bytes:
    """``base_nonce XOR I2OSP(seq, Nn)`` (section 5.2)."""
    n = len(base_nonce)
    if not 0 <= seq < 1 << (8 * n):
        raise ValueError("sequence number out of range")
    return (int.from_bytes(base_nonce, "big") ^ seq).to_bytes(n, "big")


def context_seal(
    ks: KeySchedule, seq: int, aad: bytes, plaintext: bytes, *, suite: Suite = DEFAULT_SUITE
) -> bytes:
    """ContextS.Seal for the message with sequence number ``seq``."""
    return suite.aead.seal(ks.key, compute_nonce(ks.base_nonce, seq), plaintext, aad)


def context_open(
    ks: KeySchedule, seq: int, aad: bytes, ciphertext: bytes, *, suite: Suite = DEFAULT_SUITE
) -> bytes:
    """ContextR.Open for the message with sequence number ``seq``; PrimitiveError if it fails."""
    return suite.aead.open(ks.key, compute_nonce(ks.base_nonce, seq), ciphertext, aad)


# --- Single-shot API (section 6.1) --------------------------------------------------------


def seal_base(
    pk_r: bytes,
    info: bytes,
    aad: bytes,
    plaintext: bytes,
    *,
    ikm_e: bytes,
    suite: Suite = DEFAULT_SUITE,
) -> tuple[bytes, bytes]:
    """SealBase(pkR, info, aad, pt) with the ephemeral key from ``ikm_e``: ``(enc, ct)``.

    ``ikm_e`` must be 32 fresh random bytes for every call (reusing it reuses the ephemeral
    key, and with the same ``pk_r`` and ``info`` the AES-GCM key and nonce).
    """
    shared_secret, enc = encap(pk_r, ikm_e=ikm_e, suite=suite)
    ks = key_schedule_base(shared_secret, info, suite=suite)
    return enc, context_seal(ks, 0, aad, plaintext, suite=suite)


def open_base(
    sk_r: bytes,
    enc: bytes,
    info: bytes,
    aad: bytes,
    ciphertext: bytes,
    *,
    suite: Suite = DEFAULT_SUITE,
) -> bytes:
    """OpenBase(enc, skR, info, aad, ct); raises :class:`PrimitiveError` on any failure."""
    require_bytes("info", info)
    require_bytes("aad", aad)
    require_bytes("ciphertext", ciphertext)
    shared_secret = decap(enc, sk_r, suite=suite)
    ks = key_schedule_base(shared_secret, info, suite=suite)
    return context_open(ks, 0, aad, ciphertext, suite=suite)


# --- X-Wing (suite 2): the KEM's shared secret goes straight into the key schedule -----


def seal_base_hybrid(
    encapsulation: xwing.Encapsulation, info: bytes, aad: bytes, plaintext: bytes
) -> tuple[bytes, bytes]:
    """SealBase for :data:`HYBRID_SUITE` given the X-Wing encapsulation: ``(enc, ct)``.

    ``encapsulation`` must be fresh for every call (:func:`crypto.primitives.xwing.encapsulate`
    on the recipient's key); ``enc`` is its 1120-byte ciphertext.
    """
    if not isinstance(encapsulation, xwing.Encapsulation):
        raise TypeError("encapsulation must be an xwing.Encapsulation")
    ks = key_schedule_base(encapsulation.shared_secret, info, suite=HYBRID_SUITE)
    return encapsulation.ciphertext, context_seal(ks, 0, aad, plaintext, suite=HYBRID_SUITE)


def open_base_hybrid(seed: bytes, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
    """OpenBase for :data:`HYBRID_SUITE` with the X-Wing decapsulation key (its 32-byte seed).

    Raises :class:`PrimitiveError` on any failure of the input (``enc`` of the wrong length,
    a tampered ``enc`` or ciphertext, wrong ``info`` / ``aad`` or key).
    """
    require_bytes("info", info)
    require_bytes("aad", aad)
    require_bytes("ciphertext", ciphertext)
    shared_secret = xwing.decapsulate(enc, seed)
    ks = key_schedule_base(shared_secret, info, suite=HYBRID_SUITE)
    return context_open(ks, 0, aad, ciphertext, suite=HYBRID_SUITE)
