"""Tests of the audit checkpoint recipe (crypto/audit_checkpoint.py).

Known answers are checked against an independent construction of the documented format
(the message built here with ``struct``, signed by pyca directly with RFC 6979 nonces), and
pinned as hex so that a change of format or of determinism breaks them.
"""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from crypto import audit_checkpoint as ac
from crypto.errors import AuditCheckpointError, CryptoError
from crypto.primitives import ecc

# RFC 6979 appendix A.2.5 (P-256) private key.
X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
SK = X.to_bytes(32, "big")
HEAD = bytes(range(32))
WHEN = 1_795_856_400_000_000
KAT_SIGNATURE = bytes.fromhex(
    "30460221009d650bbe347cfbc4fe8a675b02c127c5c69fbac55c2e05d5d4a6dea84be8b310022100f897"
    "1a3197aa3fef21355047716b8a5e7368faa102e290a3565347df42801452"
)


def independent_message(seq: int, head: bytes, when: int) -> bytes:
    return b"dermline/audit-checkpoint/v1" + struct.pack(">Q", seq) + head + struct.pack(">q", when)


def test_message_is_the_documented_format() -> None:
    assert ac.checkpoint_message(7, HEAD, WHEN) == independent_message(7, HEAD, WHEN)
    assert ac.checkpoint_message(2**64 - 1, HEAD, -(2**63)) == independent_message(
        2**64 - 1, HEAD, -(2**63)
    )


def test_signature_known_answer_and_determinism() -> None:
    sig = ac.sign_checkpoint(SK, 7, HEAD, WHEN)
    assert sig == KAT_SIGNATURE
    assert ac.sign_checkpoint(SK, 7, HEAD, WHEN) == sig  # RFC 6979: no random nonce
    pyca = ec.derive_private_key(X, ec.SECP256R1()).sign(
        independent_message(7, HEAD, WHEN), ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    )
    assert sig == pyca
    ac.verify_checkpoint(ac.public_key(SK), 7, HEAD, WHEN, sig)


def test_a_signature_made_by_pyca_with_a_random_nonce_verifies() -> None:
    """Checkpoints stored before the recipe existed were signed with random nonces."""
    private = ec.derive_private_key(X, ec.SECP256R1())
    sig = private.sign(independent_message(3, HEAD, 0), ec.ECDSA(hashes.SHA256()))
    ac.verify_checkpoint(ac.public_key(SK), 3, HEAD, 0, sig)


def test_new_key_is_pkcs8_and_derived_from_ikm() -> None:
    der = ac.new_signing_key(bytes(32))
    assert der == ac.new_signing_key(bytes(32))
    assert der != ac.new_signing_key(bytes([1]) * 32)
    loaded = serialization.load_der_private_key(der, password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    sk = ac.load_signing_key(der)
    assert sk == ecc.p256_derive_keypair(bytes(32))[0]
    sig = ac.sign_checkpoint(sk, 1, HEAD, 5)
    ac.verify_checkpoint(ac.public_key(sk), 1, HEAD, 5, sig)
    with pytest.raises(ValueError):
        ac.new_signing_key(bytes(31))


def test_a_key_made_by_pyca_loads() -> None:
    der = ec.derive_private_key(X, ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert ac.load_signing_key(der) == SK


def test_keys_that_are_not_p256_pkcs8_are_refused() -> None:
    other_curve = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    not_ec = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for bad in (b"", b"garbage", other_curve, not_ec, ac.new_signing_key(bytes(32))[:-1]):
        with pytest.raises(AuditCheckpointError):
            ac.load_signing_key(bad)
    with pytest.raises(TypeError):
        ac.load_signing_key("text")  # type: ignore[arg-type]


def test_tampered_checkpoints_do_not_verify() -> None:
    pk = ac.public_key(SK)
    sig = ac.sign_checkpoint(SK, 7, HEAD, WHEN)
    other = ac.public_key(ecc.p256_derive_keypair(bytes(32))[0])
    cases = [
        (pk, 8, HEAD, WHEN, sig),  # another seq
        (pk, 7, bytes(32), WHEN, sig),  # another head
        (pk, 7, HEAD, WHEN + 1, sig),  # another time
        (other, 7, HEAD, WHEN, sig),  # another key
        (pk, 7, HEAD, WHEN, sig[:-1]),  # truncated DER
        (pk, 7, HEAD, WHEN, b""),
        (pk, 7, HEAD[:31], WHEN, sig),  # a stored hash of the wrong length
        (pk, -1, HEAD, WHEN, sig),  # a seq that cannot be a checkpoint's
        (pk, 7, HEAD, 2**63, sig),  # a time beyond 64 bits
    ]
    for args in cases:
        with pytest.raises(AuditCheckpointError) as e:
            ac.verify_checkpoint(*args)
        assert isinstance(e.value, CryptoError) and str(e.value) == AuditCheckpointError.message
    with pytest.raises(TypeError):
        ac.verify_checkpoint(pk, 7, HEAD, WHEN, "sig")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ac.verify_checkpoint(pk, 7, "head", WHEN, sig)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seq", "head", "when"),
    [
        (-1, HEAD, 0),
        (2**64, HEAD, 0),
        (True, HEAD, 0),
        ("1", HEAD, 0),
        (1, HEAD, 2**63),
        (1, HEAD, -(2**63) - 1),
        (1, HEAD, False),
        (1, HEAD, 1.5),
        (1, HEAD[:31], 0),
    ],
)
def test_our_own_misuse_is_a_value_error(seq: object, head: bytes, when: object) -> None:
    with pytest.raises(ValueError):
        ac.checkpoint_message(seq, head, when)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ac.sign_checkpoint(SK, seq, head, when)  # type: ignore[arg-type]
