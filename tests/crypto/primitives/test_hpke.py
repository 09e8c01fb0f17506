"""HPKE base mode: RFC 9180 vectors end to end, pyca interoperability, errors, properties."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM
from cryptography.hazmat.primitives.hpke import Suite as PycaSuite
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import PrimitiveError
from crypto.primitives import hpke
from crypto.primitives.ecc import p256_derive_keypair
from tests.crypto.primitives._vectors import h, load

RFC_VECTORS = load("hpke/rfc9180_base_selected.json")

SUITES = {
    (0x10, 1, 1): hpke.Suite(hpke.KEM_P256_HKDF_SHA256, 1, hpke.AEAD_AES_128_GCM),
    (0x10, 1, 2): hpke.DEFAULT_SUITE,
    (0x20, 1, 1): hpke.Suite(hpke.KEM_X25519_HKDF_SHA256, 1, hpke.AEAD_AES_128_GCM),
    (0x20, 1, 2): hpke.Suite(hpke.KEM_X25519_HKDF_SHA256, 1, hpke.AEAD_AES_256_GCM),
}


def _vector_id(v: dict[str, Any]) -> str:
    return f"kem{v['kem_id']:#06x}-kdf{v['kdf_id']}-aead{v['aead_id']}"


@pytest.fixture(params=RFC_VECTORS, ids=[_vector_id(v) for v in RFC_VECTORS])
def vector(request: pytest.FixtureRequest) -> dict[str, Any]:
    v: dict[str, Any] = request.param
    return v


def test_vector_file_covers_the_four_suites() -> None:
    assert sorted((v["kem_id"], v["kdf_id"], v["aead_id"]) for v in RFC_VECTORS) == sorted(SUITES)
    assert all(v["mode"] == 0 and len(v["encryptions"]) == 4 for v in RFC_VECTORS)


def test_rfc9180_derive_keypair(vector: dict[str, Any]) -> None:
    suite = SUITES[(vector["kem_id"], vector["kdf_id"], vector["aead_id"])]
    assert hpke.derive_keypair(h(vector["ikmR"]), suite=suite) == (
        h(vector["skRm"]),
        h(vector["pkRm"]),
    )
    assert hpke.derive_keypair(h(vector["ikmE"]), suite=suite) == (
        h(vector["skEm"]),
        h(vector["pkEm"]),
    )


def test_rfc9180_kem_and_key_schedule(vector: dict[str, Any]) -> None:
    suite = SUITES[(vector["kem_id"], vector["kdf_id"], vector["aead_id"])]
    shared_secret, enc = hpke.encap(h(vector["pkRm"]), ikm_e=h(vector["ikmE"]), suite=suite)
    assert shared_secret == h(vector["shared_secret"])
    assert enc == h(vector["enc"])
    assert hpke.decap(enc, h(vector["skRm"]), suite=suite) == shared_secret
    ks = hpke.key_schedule_base(shared_secret, h(vector["info"]), suite=suite)
    assert ks.key_schedule_context == h(vector["key_schedule_context"])
    assert ks.secret == h(vector["secret"])
    assert ks.key == h(vector["key"])
    assert ks.base_nonce == h(vector["base_nonce"])
    assert ks.exporter_secret == h(vector["exporter_secret"])


def test_rfc9180_encryptions(vector: dict[str, Any]) -> None:
    suite = SUITES[(vector["kem_id"], vector["kdf_id"], vector["aead_id"])]
    ks = hpke.key_schedule_base(h(vector["shared_secret"]), h(vector["info"]), suite=suite)
    for seq, e in enumerate(vector["encryptions"]):
        aad, pt, ct = h(e["aad"]), h(e["pt"]), h(e["ct"])
        assert hpke.compute_nonce(ks.base_nonce, seq) == h(e["nonce"])
        assert hpke.context_seal(ks, seq, aad, pt, suite=suite) == ct
        assert hpke.context_open(ks, seq, aad, ct, suite=suite) == pt
        with pytest.raises(PrimitiveError):
            hpke.context_open(ks, seq + 1, aad, ct, suite=suite)  # wrong sequence number


def test_rfc9180_single_shot(vector: dict[str, Any]) -> None:
    # The first encryption is sequence 0, i.e. exactly SealBase / OpenBase with aad.
    suite = SUITES[(vector["kem_id"], vector["kdf_id"], vector["aead_id"])]
    first = vector["encryptions"][0]
    info, aad, pt, ct = h(vector["info"]), h(first["aad"]), h(first["pt"]), h(first["ct"])
    sealed = hpke.seal_base(h(vector["pkRm"]), info, aad, pt, ikm_e=h(vector["ikmE"]), suite=suite)
    assert sealed == (h(vector["enc"]), ct)
    assert hpke.open_base(h(vector["skRm"]), h(vector["enc"]), info, aad, ct, suite=suite) == pt
    for bad_aad, bad_info in ((aad + b"x", info), (aad, info + b"x")):
        with pytest.raises(PrimitiveError):
            hpke.open_base(h(vector["skRm"]), h(vector["enc"]), bad_info, bad_aad, ct, suite=suite)


# --- interoperability with pyca's own HPKE ------------------------------------------------

PYCA_P256 = PycaSuite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


def test_pyca_opens_what_we_seal() -> None:
    sk, pk = p256_derive_keypair(b"r" * 32)
    enc, ct = hpke.seal_base(pk, b"case-key|info", b"", b"secret case key", ikm_e=b"e" * 32)
    private = ec.derive_private_key(int.from_bytes(sk, "big"), ec.SECP256R1())
    # pyca frames its single-shot output as enc || ct and uses an empty aad.
    assert PYCA_P256.decrypt(enc + ct, private, info=b"case-key|info") == b"secret case key"


def test_we_open_what_pyca_seals() -> None:
    sk, _pk = p256_derive_keypair(b"r" * 32)
    private = ec.derive_private_key(int.from_bytes(sk, "big"), ec.SECP256R1())
    sealed = PYCA_P256.encrypt(b"from pyca", private.public_key(), info=b"info")
    enc, ct = sealed[:65], sealed[65:]
    assert hpke.open_base(sk, enc, b"info", b"", ct) == b"from pyca"
    with pytest.raises(PrimitiveError):
        hpke.open_base(sk, enc, b"other info", b"", ct)


def test_x25519_interoperates_with_pyca() -> None:
    suite = SUITES[(0x20, 1, 1)]
    pyca = PycaSuite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_128_GCM)
    sk, pk = hpke.derive_keypair(b"x" * 32, suite=suite)
    private = x25519.X25519PrivateKey.from_private_bytes(sk)
    enc, ct = hpke.seal_base(pk, b"i", b"", b"hello", ikm_e=b"y" * 32, suite=suite)
    assert pyca.decrypt(enc + ct, private, info=b"i") == b"hello"
    sealed = pyca.encrypt(b"back", private.public_key(), info=b"i")
    assert hpke.open_base(sk, sealed[:32], b"i", b"", sealed[32:], suite=suite) == b"back"


# --- errors ---------------------------------------------------------------------------------


def test_open_refuses_bad_enc() -> None:
    sk, pk = p256_derive_keypair(b"r" * 32)
    enc, ct = hpke.seal_base(pk, b"i", b"a", b"pt", ikm_e=b"e" * 32)
    for bad_enc in (enc[:-1], enc + b"\x00", b"\x04" + bytes(64), b""):
        with pytest.raises(PrimitiveError):
            hpke.open_base(sk, bad_enc, b"i", b"a", ct)
    other_sk, _ = p256_derive_keypair(b"o" * 32)
    with pytest.raises(PrimitiveError):
        hpke.open_base(other_sk, enc, b"i", b"a", ct)
    with pytest.raises(PrimitiveError):
        hpke.open_base(sk, enc, b"i", b"a", ct[:15])


def test_x25519_open_refuses_small_order_enc() -> None:
    suite = SUITES[(0x20, 1, 2)]
    sk, _pk = hpke.derive_keypair(b"x" * 32, suite=suite)
    with pytest.raises(PrimitiveError):
        hpke.open_base(sk, bytes(32), b"", b"", bytes(32), suite=suite)


def test_seal_refuses_invalid_recipient_key() -> None:
    _sk, pk = p256_derive_keypair(b"r" * 32)
    with pytest.raises(PrimitiveError):
        hpke.seal_base(pk[:-1] + bytes([pk[-1] ^ 1]), b"", b"", b"pt", ikm_e=b"e" * 32)


def test_misuse() -> None:
    sk, pk = p256_derive_keypair(b"r" * 32)
    with pytest.raises(ValueError, match="ikm must be at least 32 bytes"):
        hpke.seal_base(pk, b"", b"", b"pt", ikm_e=b"short")
    with pytest.raises(TypeError, match="info must be bytes"):
        hpke.open_base(sk, pk, "info", b"", bytes(16))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sequence number out of range"):
        hpke.compute_nonce(bytes(12), 2**96)
    with pytest.raises(ValueError, match="sequence number out of range"):
        hpke.compute_nonce(bytes(12), -1)


def test_key_schedule_repr_hides_secrets() -> None:
    ks = hpke.key_schedule_base(b"s" * 32, b"info")
    assert repr(ks) == "KeySchedule(<secret>)"
    assert ks.key.hex() not in repr(ks)
    assert hpke.DEFAULT_SUITE.suite_id == b"HPKE\x00\x10\x00\x01\x00\x02"


# --- properties ---------------------------------------------------------------------------

_SK, _PK = p256_derive_keypair(bytes(range(32)))


@settings(max_examples=40)
@given(
    ikm_e=st.binary(min_size=32, max_size=32),
    info=st.binary(max_size=64),
    aad=st.binary(max_size=64),
    plaintext=st.binary(max_size=128),
    data=st.data(),
)
def test_round_trip_and_any_single_byte_change(
    ikm_e: bytes, info: bytes, aad: bytes, plaintext: bytes, data: st.DataObject
) -> None:
    enc, ct = hpke.seal_base(_PK, info, aad, plaintext, ikm_e=ikm_e)
    assert len(enc) == 65 and len(ct) == len(plaintext) + 16
    assert hpke.open_base(_SK, enc, info, aad, ct) == plaintext
    fields = {"enc": enc, "info": info, "aad": aad, "ct": ct}
    name = data.draw(st.sampled_from([n for n, v in fields.items() if v]))
    value = bytearray(fields[name])
    value[data.draw(st.integers(0, len(value) - 1))] ^= data.draw(st.integers(1, 255))
    fields[name] = bytes(value)
    with pytest.raises(PrimitiveError):
        hpke.open_base(_SK, fields["enc"], fields["info"], fields["aad"], fields["ct"])
