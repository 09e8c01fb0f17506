"""crypto.fingerprint: key ids, fingerprints, safety numbers."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto import account, fingerprint
from crypto.errors import PublicKeyError


def test_key_id_is_sha256_of_pyca_spki(alice: account.AccountKeys) -> None:
    pk = alice.signing.public_key
    spki = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pk).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert fingerprint.spki_der(pk) == spki
    assert fingerprint.key_id(pk) == hashlib.sha256(spki).digest()[:16]


def test_safety_number_is_symmetric_and_sensitive(
    alice: account.AccountKeys, bob: account.AccountKeys
) -> None:
    a = (alice.signing.public_key, alice.encryption.public_key)
    b = (bob.signing.public_key, bob.encryption.public_key)
    number = fingerprint.safety_number(a, b)
    assert number == fingerprint.safety_number(b, a)
    groups = number.split(" ")
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)
    swapped = (alice.encryption.public_key, alice.signing.public_key)
    assert fingerprint.safety_number(swapped, b) != number
    assert fingerprint.format_digits("1234567890") == "12345 67890"


def test_invalid_keys() -> None:
    with pytest.raises(PublicKeyError):
        fingerprint.key_id(bytes(64))
    with pytest.raises(PublicKeyError):
        fingerprint.account_fingerprint(b"\x04" + bytes(64), b"\x04" + bytes(64))
    with pytest.raises(TypeError):
        fingerprint.key_id("04")  # type: ignore[arg-type]
