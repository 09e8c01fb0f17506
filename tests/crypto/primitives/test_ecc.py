"""P-256 ECDH/ECDSA and X25519 through our layer: Wycheproof, RFC 6979, misuse, properties."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import PrimitiveError
from crypto.primitives import ecc
from crypto.primitives.ecc import (
    P256_N,
    der_to_p1363,
    p256_check_public,
    p256_derive_keypair,
    p256_ecdh,
    p256_public_from_spki_der,
    p256_public_key,
    p256_sign,
    p256_spki_der,
    p256_verify,
    p1363_to_der,
    x25519_dh,
    x25519_public_key,
)
from tests.crypto.primitives._vectors import h, wycheproof_cases

# No group is filtered in these three files.
ECDH_CASES = wycheproof_cases("ecdh_secp256r1_ecpoint_test.json")
P1363_CASES = wycheproof_cases("ecdsa_secp256r1_sha256_p1363_test.json")
DER_CASES = wycheproof_cases("ecdsa_secp256r1_sha256_test.json")


def test_vector_counts() -> None:
    assert (len(ECDH_CASES), len(P1363_CASES), len(DER_CASES)) == (355, 262, 484)


def _scalar(hex_int: str) -> bytes:
    # Wycheproof writes the private key as a minimal two's-complement integer (sometimes
    # with a leading 00); our wire form is the 32-byte big-endian scalar.
    return int(hex_int, 16).to_bytes(32, "big")


# --- ECDH -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), ECDH_CASES)
def test_wycheproof_ecdh_ecpoint(group: dict[str, Any], test: dict[str, Any]) -> None:
    sk, pk = _scalar(test["private"]), h(test["public"])
    if test["result"] == "valid":
        assert p256_ecdh(sk, pk) == h(test["shared"])
        return
    if test["result"] == "acceptable":
        # Decision: the one "acceptable" case is a *compressed* public point. Our wire form
        # is the 65-byte uncompressed point only (one encoding per key), so we reject it.
        assert test["flags"] == ["CompressedPublic", "CompressedPoint"]
    # invalid: points off the curve (invalid-curve attacks), on another curve, compressed
    # or malformed encodings: all must be refused before any scalar multiplication leaks.
    with pytest.raises(PrimitiveError):
        p256_ecdh(sk, pk)
    with pytest.raises(PrimitiveError):
        p256_check_public(pk)


def test_ecdh_agrees_both_ways() -> None:
    sk_a, pk_a = p256_derive_keypair(b"a" * 32)
    sk_b, pk_b = p256_derive_keypair(b"b" * 32)
    assert p256_ecdh(sk_a, pk_b) == p256_ecdh(sk_b, pk_a)


@pytest.mark.parametrize("d", [0, P256_N, P256_N + 1, 2**256 - 1])
def test_private_scalar_out_of_range_is_misuse(d: int) -> None:
    with pytest.raises(ValueError, match="not a valid P-256 scalar"):
        p256_public_key(d.to_bytes(32, "big"))
    with pytest.raises(ValueError, match="not a valid P-256 scalar"):
        p256_sign(d.to_bytes(32, "big"), b"m")


def test_private_scalar_length_and_type() -> None:
    with pytest.raises(ValueError, match="sk must be 32 bytes"):
        p256_ecdh(bytes(30) + b"\x01", p256_public_key(bytes(31) + b"\x01"))
    with pytest.raises(TypeError, match="pk must be bytes"):
        p256_check_public(bytearray(65))  # type: ignore[arg-type]


def test_public_key_checks() -> None:
    _sk, pk = p256_derive_keypair(bytes(32))
    p256_check_public(pk)
    for bad in (
        pk[:-1],  # truncated
        pk + b"\x00",  # trailing byte
        b"\x02" + pk[1:],  # wrong prefix for 65 bytes
        b"\x04" + bytes(64),  # (0, 0) is not on the curve
        pk[:-1] + bytes([pk[-1] ^ 1]),  # y flipped: off the curve
        b"\x00",  # SEC1 encoding of the point at infinity
    ):
        with pytest.raises(PrimitiveError):
            p256_check_public(bad)


# --- DeriveKeyPair ------------------------------------------------------------------------


def test_derive_keypair_is_deterministic_and_consistent() -> None:
    sk, pk = p256_derive_keypair(bytes(range(32)))
    assert (sk, pk) == p256_derive_keypair(bytes(range(32)))
    assert len(sk) == 32 and len(pk) == 65 and pk[0] == 4
    assert p256_public_key(sk) == pk
    assert p256_derive_keypair(bytes(range(1, 33)))[0] != sk


def test_derive_keypair_ikm_length() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        p256_derive_keypair(bytes(31))
    with pytest.raises(TypeError):
        p256_derive_keypair("x" * 32)  # type: ignore[arg-type]
    assert p256_derive_keypair(bytes(64))[0] != p256_derive_keypair(bytes(32))[0]


def test_derive_keypair_rejection_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    # Candidates 0 and >= n must be skipped (RFC 9180 section 7.1.3). Real inputs hit this
    # with probability ~2**-32, so the expander is replaced to force it.
    real = ecc.labeled_expand
    counters: list[bytes] = []

    def fake(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
        counters.append(info)
        if info == b"\x00":
            return P256_N.to_bytes(32, "big")
        if info == b"\x01":
            return bytes(32)
        return real(suite_id, prk, label, info, length)

    monkeypatch.setattr(ecc, "labeled_expand", fake)
    sk, pk = p256_derive_keypair(bytes(32))
    assert counters == [b"\x00", b"\x01", b"\x02"]
    assert p256_public_key(sk) == pk


def test_derive_keypair_error_after_256_rejections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ecc, "labeled_expand", lambda *_a: b"\xff" * 32)
    with pytest.raises(ValueError, match="DeriveKeyPair failed"):
        p256_derive_keypair(bytes(32))


# --- ECDSA ------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), P1363_CASES)
def test_wycheproof_ecdsa_p1363(group: dict[str, Any], test: dict[str, Any]) -> None:
    pk, msg, sig = h(group["publicKey"]["uncompressed"]), h(test["msg"]), h(test["sig"])
    if test["result"] == "valid":
        p256_verify(pk, msg, sig)
        assert der_to_p1363(p1363_to_der(sig)) == sig
    else:
        assert test["result"] == "invalid"  # no "acceptable" cases in this file
        with pytest.raises(PrimitiveError):
            p256_verify(pk, msg, sig)


@pytest.mark.parametrize(("group", "test"), DER_CASES)
def test_wycheproof_ecdsa_der(group: dict[str, Any], test: dict[str, Any]) -> None:
    pk, msg, sig = h(group["publicKey"]["uncompressed"]), h(test["msg"]), h(test["sig"])
    assert p256_spki_der(pk) == h(group["publicKeyDer"])
    assert p256_public_from_spki_der(h(group["publicKeyDer"])) == pk
    if test["result"] == "valid":
        raw = der_to_p1363(sig)
        p256_verify(pk, msg, raw)
        # Valid DER is canonical, so the conversion round-trips byte for byte.
        assert p1363_to_der(raw) == sig
    else:
        assert test["result"] == "invalid"  # no "acceptable" cases in this file
        # BER, malformed, out-of-range or wrong signatures: refused by the strict DER
        # conversion or by the verification, never accepted.
        with pytest.raises(PrimitiveError):
            p256_verify(pk, msg, der_to_p1363(sig))


# RFC 6979 appendix A.2.5, P-256 with SHA-256.
RFC6979_SK = h("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
RFC6979_PK = h(
    "04"
    "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
    "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
)
RFC6979_SIGS = {
    b"sample": h(
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
        "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
    ),
    b"test": h(
        "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"
        "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"
    ),
}


@pytest.mark.parametrize("message", sorted(RFC6979_SIGS))
def test_rfc6979_deterministic_signatures(message: bytes) -> None:
    assert p256_public_key(RFC6979_SK) == RFC6979_PK
    assert p256_sign(RFC6979_SK, message) == RFC6979_SIGS[message]
    p256_verify(RFC6979_PK, message, RFC6979_SIGS[message])


def test_signature_verifies_with_pyca_and_back() -> None:
    sk, pk = p256_derive_keypair(b"s" * 32)
    sig = p256_sign(sk, b"header|nonce|ct")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pk)
    public.verify(p1363_to_der(sig), b"header|nonce|ct", ec.ECDSA(hashes.SHA256()))
    private = ec.derive_private_key(int.from_bytes(sk, "big"), ec.SECP256R1())
    der = private.sign(b"other", ec.ECDSA(hashes.SHA256()))  # randomized k
    p256_verify(pk, b"other", der_to_p1363(der))


@pytest.mark.parametrize(("r", "s"), [(0, 1), (1, 0), (P256_N, 1), (1, P256_N), (2**256 - 1, 1)])
def test_signature_scalars_out_of_range(r: int, s: int) -> None:
    _sk, pk = p256_derive_keypair(bytes(32))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(PrimitiveError):
        p256_verify(pk, b"m", raw)
    with pytest.raises(PrimitiveError):
        p1363_to_der(raw)
    with pytest.raises(PrimitiveError):
        der_to_p1363(encode_dss_signature(r, s))


def test_signature_length_and_der_garbage() -> None:
    sk, pk = p256_derive_keypair(bytes(32))
    sig = p256_sign(sk, b"m")
    for bad in (sig[:-1], sig + b"\x00", b""):
        with pytest.raises(PrimitiveError):
            p256_verify(pk, b"m", bad)
        with pytest.raises(PrimitiveError):
            p1363_to_der(bad)
    for garbage in (b"", b"\x30\x00", p1363_to_der(sig) + b"\x00", sig):
        with pytest.raises(PrimitiveError):
            der_to_p1363(garbage)
    with pytest.raises(PrimitiveError):
        p256_verify(pk[:-1] + bytes([pk[-1] ^ 1]), b"m", sig)
    with pytest.raises(TypeError, match="signature must be bytes"):
        p256_verify(pk, b"m", bytearray(sig))  # type: ignore[arg-type]


# --- SPKI ---------------------------------------------------------------------------------


def test_spki_parse_refuses_other_keys_and_encodings() -> None:
    _sk, pk = p256_derive_keypair(bytes(32))
    der = p256_spki_der(pk)
    assert len(der) == 91
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pk)
    compressed = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    compressed_spki = h("3039301306072a8648ce3d020106082a8648ce3d030107032200") + compressed
    p384 = ec.derive_private_key(7, ec.SECP384R1()).public_key()
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    for bad in (
        der + b"\x00",
        der[:-1],
        b"",
        compressed_spki,  # parses, but is not our one encoding of the key
        p384.public_bytes(*spki),
        ed.public_bytes(*spki),
    ):
        with pytest.raises(PrimitiveError):
            p256_public_from_spki_der(bad)


# --- X25519 ----------------------------------------------------------------------------


def test_x25519_rfc7748_section_6_1() -> None:
    alice = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob_pub = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    assert x25519_public_key(alice) == h(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    assert x25519_dh(alice, bob_pub) == h(
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    )


def test_x25519_refuses_small_order_and_bad_length() -> None:
    sk = bytes(range(32))
    with pytest.raises(PrimitiveError):
        x25519_dh(sk, bytes(32))  # the zero point: all-zero shared secret
    with pytest.raises(PrimitiveError):
        x25519_dh(sk, bytes(31))
    with pytest.raises(ValueError, match="ikm must be at least 32 bytes"):
        ecc.x25519_derive_keypair(bytes(16))


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=40)
@given(ikm=st.binary(min_size=32, max_size=32), message=st.binary(max_size=200), flip=st.data())
def test_sign_verify_round_trip_and_corruption(
    ikm: bytes, message: bytes, flip: st.DataObject
) -> None:
    sk, pk = p256_derive_keypair(ikm)
    sig = p256_sign(sk, message)
    assert len(sig) == 64
    assert sig == p256_sign(sk, message)  # deterministic
    p256_verify(pk, message, sig)
    assert der_to_p1363(p1363_to_der(sig)) == sig
    # Any single-byte change of signature, message or public key is rejected.
    target = flip.draw(st.sampled_from(["sig", "msg", "pk"] if message else ["sig", "pk"]))
    value = bytearray({"sig": sig, "msg": message, "pk": pk}[target])
    value[flip.draw(st.integers(0, len(value) - 1))] ^= flip.draw(st.integers(1, 255))
    args = {"sig": sig, "msg": message, "pk": pk, target: bytes(value)}
    with pytest.raises(PrimitiveError):
        p256_verify(args["pk"], args["msg"], args["sig"])
