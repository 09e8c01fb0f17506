"""X-Wing and ML-KEM-768: the draft's vectors, Wycheproof ML-KEM, HPKE-PQ, errors.

The derandomised half of X-Wing encapsulation comes from ``kyber-py`` (an independent,
pure-Python FIPS 203 implementation, dev only), so the draft's encapsulation vectors are
reproduced byte for byte through :func:`xwing.encapsulate_from_parts`; decapsulation and key
derivation run on pyca/cryptography alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from kyber_py.ml_kem import ML_KEM_768

from crypto.errors import PrimitiveError
from crypto.primitives import hpke, xwing
from tests.crypto.primitives._vectors import h, load, wycheproof_cases

DRAFT = load("xwing/test-vectors.json")
HPKE_PQ = [v for v in load("hpke/hpke_pq.json") if int(v["kem_id"]) == 0x647A]


def _encapsulate_derand(pk: bytes, eseed: bytes) -> xwing.Encapsulation:
    ss_m, ct_m = ML_KEM_768._encaps_internal(pk[: xwing.MLKEM768_PUBLIC_LEN], eseed[:32])
    return xwing.encapsulate_from_parts(
        pk, ek_x=eseed[32:], mlkem_ciphertext=ct_m, mlkem_shared_secret=ss_m
    )


@pytest.mark.parametrize("vector", DRAFT, ids=[f"draft-{i}" for i in range(len(DRAFT))])
def test_draft_vectors(vector: dict[str, str]) -> None:
    sk, pk = xwing.derive_key_pair(h(vector["seed"]))
    assert sk == h(vector["sk"])
    assert pk == h(vector["pk"])
    encapsulation = _encapsulate_derand(pk, h(vector["eseed"]))
    assert encapsulation.ciphertext == h(vector["ct"])
    assert encapsulation.shared_secret == h(vector["ss"])
    assert xwing.decapsulate(h(vector["ct"]), sk) == h(vector["ss"])


def test_draft_vector_count() -> None:
    assert len(DRAFT) == 3


@pytest.mark.parametrize("vector", HPKE_PQ, ids=[f"kdf{v['kdf_id']}" for v in HPKE_PQ])
def test_hpke_pq_vectors_kem(vector: dict[str, Any]) -> None:
    # draft-ietf-hpke-pq: X-Wing's ikmE is the 64-byte encapsulation seed itself.
    assert xwing.public_key(h(vector["skRm"])) == h(vector["pkRm"])
    encapsulation = _encapsulate_derand(h(vector["pkRm"]), h(vector["ikmE"]))
    assert encapsulation.ciphertext == h(vector["enc"])
    assert encapsulation.shared_secret == h(vector["shared_secret"])
    assert xwing.decapsulate(h(vector["enc"]), h(vector["skRm"])) == h(vector["shared_secret"])


def test_hpke_pq_vector_key_schedule() -> None:
    # The HKDF-SHA256 vector uses ChaCha20-Poly1305 (aead 3), whose Nk and Nn equal
    # AES-256-GCM's: our key schedule with that suite id must give the vector's key and nonce.
    (vector,) = [v for v in HPKE_PQ if int(v["kdf_id"]) == 1]
    chacha = hpke.Aead(aead_id=3, n_k=32, n_n=12, seal=_unused, open=_unused)
    suite = hpke.Suite(hpke.KEM_XWING, hpke.KDF_HKDF_SHA256, chacha)
    assert suite.suite_id == h(vector["suite_id"])
    ks = hpke.key_schedule_base(h(vector["shared_secret"]), h(vector["info"]), suite=suite)
    assert ks.key == h(vector["key"])
    assert ks.base_nonce == h(vector["base_nonce"])
    assert ks.exporter_secret == h(vector["exporter_secret"])


def _unused(*_args: bytes) -> bytes:  # pragma: no cover - never called
    raise AssertionError("unreachable")


def _is_768(group: dict[str, Any]) -> bool:
    # The file holds only ML-KEM-768 groups; the filter documents that assumption.
    return bool(group["parameterSet"] == "ML-KEM-768")


@pytest.mark.parametrize(("group", "test"), wycheproof_cases("mlkem_768_test.json", _is_768))
def test_wycheproof_mlkem768(group: dict[str, Any], test: dict[str, Any]) -> None:
    seed, ct = h(test["seed"]), h(test["c"])
    if test["result"] == "valid":
        assert xwing.mlkem768_public_key(seed) == h(test["ek"])
        assert xwing.mlkem768_decapsulate(seed, ct) == h(test["K"])
    else:
        # Invalid cases are a seed or a ciphertext of the wrong length: a seed is ours (misuse,
        # ValueError), a ciphertext a peer's (PrimitiveError).
        with pytest.raises((ValueError, PrimitiveError)):
            xwing.mlkem768_public_key(seed)
            xwing.mlkem768_decapsulate(seed, ct)


def test_roundtrip_with_fresh_randomness() -> None:
    sk, pk = xwing.derive_key_pair(bytes(range(32)))
    first, second = xwing.encapsulate(pk), xwing.encapsulate(pk)
    assert first.ciphertext != second.ciphertext
    assert xwing.decapsulate(first.ciphertext, sk) == first.shared_secret
    assert xwing.decapsulate(second.ciphertext, sk) == second.shared_secret
    assert first.shared_secret.hex() not in repr(first)


def test_either_half_changes_the_secret() -> None:
    sk, pk = xwing.derive_key_pair(bytes(32))
    encapsulation = xwing.encapsulate(pk)
    ct = encapsulation.ciphertext
    pq = bytes([ct[0] ^ 1]) + ct[1:]
    classical = ct[:-1] + bytes([ct[-1] ^ 1])
    assert xwing.decapsulate(pq, sk) != encapsulation.shared_secret  # implicit rejection
    assert xwing.decapsulate(classical, sk) != encapsulation.shared_secret


def test_public_key_checks() -> None:
    _, pk = xwing.derive_key_pair(bytes(32))
    xwing.check_public_key(pk)
    for bad in (pk[:-1], pk + b"\x00", b"\xff" * xwing.PUBLIC_KEY_LEN):
        with pytest.raises(PrimitiveError):
            xwing.check_public_key(bad)
        with pytest.raises(PrimitiveError):
            xwing.encapsulate(bad)
    with pytest.raises(TypeError):
        xwing.check_public_key("pk")  # type: ignore[arg-type]


def test_small_order_x25519_is_refused() -> None:
    sk, pk = xwing.derive_key_pair(bytes(32))
    zero_pk_x = pk[: xwing.MLKEM768_PUBLIC_LEN] + bytes(32)
    with pytest.raises(PrimitiveError):
        xwing.encapsulate(zero_pk_x)
    ct = xwing.encapsulate(pk).ciphertext
    with pytest.raises(PrimitiveError):
        xwing.decapsulate(ct[: xwing.MLKEM768_CIPHERTEXT_LEN] + bytes(32), sk)


def test_decapsulate_refuses_wrong_lengths() -> None:
    sk, _ = xwing.derive_key_pair(bytes(32))
    for length in (0, xwing.CIPHERTEXT_LEN - 1, xwing.CIPHERTEXT_LEN + 1):
        with pytest.raises(PrimitiveError):
            xwing.decapsulate(bytes(length), sk)
    with pytest.raises(ValueError, match="seed"):
        xwing.decapsulate(bytes(xwing.CIPHERTEXT_LEN), bytes(31))


def test_encapsulate_from_parts_checks_its_arguments() -> None:
    _, pk = xwing.derive_key_pair(bytes(32))
    parts = {"ek_x": bytes(range(32)), "mlkem_ciphertext": bytes(1088)}
    with pytest.raises(ValueError, match="mlkem_shared_secret"):
        xwing.encapsulate_from_parts(pk, mlkem_shared_secret=bytes(31), **parts)
    with pytest.raises(ValueError, match="ek_x"):
        xwing.encapsulate_from_parts(
            pk, ek_x=bytes(31), mlkem_ciphertext=bytes(1088), mlkem_shared_secret=bytes(32)
        )


def test_spki() -> None:
    _, pk = xwing.derive_key_pair(bytes(32))
    der = xwing.spki_der(pk)
    assert len(der) == 1240
    assert xwing.public_key_from_spki_der(der) == pk
    for bad in (der[:-1], b"\x00" + der[1:], der + b"\x00"):
        with pytest.raises(PrimitiveError):
            xwing.public_key_from_spki_der(bad)


def test_spki_matches_the_draft_certificate_key() -> None:
    # x509/xwing.pub of the draft's repository (PEM), whose DER starts with these 24 bytes.
    import base64

    pem_head = "MIIE1DANBgsrBgEEAYPmLYHIegOCBMEA"
    assert base64.b64decode(pem_head) == xwing.SPKI_PREFIX


def test_hpke_hybrid_roundtrip_and_binding() -> None:
    sk, pk = xwing.derive_key_pair(bytes(range(32)))
    enc, ct = hpke.seal_base_hybrid(xwing.encapsulate(pk), b"info", b"aad", b"secret")
    assert len(enc) == 1120 and len(ct) == len(b"secret") + 16
    assert hpke.open_base_hybrid(sk, enc, b"info", b"aad", ct) == b"secret"
    for args in (
        (enc, b"info2", b"aad", ct),
        (enc, b"info", b"aad2", ct),
        (enc[:-1] + bytes([enc[-1] ^ 1]), b"info", b"aad", ct),
        (bytes([enc[0] ^ 1]) + enc[1:], b"info", b"aad", ct),
        (enc, b"info", b"aad", ct[:-1] + bytes([ct[-1] ^ 1])),
    ):
        with pytest.raises(PrimitiveError):
            hpke.open_base_hybrid(sk, *args)
    with pytest.raises(TypeError):
        hpke.seal_base_hybrid((b"", b""), b"", b"", b"")  # type: ignore[arg-type]


def test_dhkem_functions_refuse_the_hybrid_suite() -> None:
    with pytest.raises(TypeError, match="DHKEM"):
        hpke.derive_keypair(bytes(32), suite=hpke.HYBRID_SUITE)
