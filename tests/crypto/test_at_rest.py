"""Tests of the at-rest recipes (crypto/at_rest.py).

Known answers are checked two ways: against the committed file
``tests/vectors/dermline/at_rest.json`` (computed once by ``tools/gen_vectors.py``; the tests
compare with the stored bytes, so any change of the stored format fails), and against an
independent construction of the documented wire format (pyca AESGCM / HMAC / HKDF called
directly here).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import at_rest
from crypto.at_rest import AtRestError
from crypto.errors import CryptoError
from tests.crypto.test_vectors import cases, h, ids

MK = bytes(range(32))
DK = bytes(range(32, 64))
NONCE = bytes(range(12))


def lp(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">H", len(b)) + b


# ------------------------------------------------------------------ master key id


def test_master_key_id_is_short_hash_and_differs_per_key() -> None:
    expected = hashlib.sha256(b"dermline/at-rest/master-key-id/v1" + MK).hexdigest()[:16]
    assert at_rest.master_key_id(MK) == expected
    assert at_rest.master_key_id(DK) != expected


@pytest.mark.parametrize("bad", [b"short", b"x" * 33])
def test_key_length_is_checked(bad: bytes) -> None:
    with pytest.raises(ValueError):
        at_rest.master_key_id(bad)


def test_key_type_is_checked() -> None:
    with pytest.raises(TypeError):
        at_rest.master_key_id("0" * 32)  # type: ignore[arg-type]


# ------------------------------------------------------------------ data key wrap


def test_wrap_known_answer_and_roundtrip() -> None:
    wrapped = at_rest.wrap_data_key_with_nonce(MK, DK, key_id=7, purpose="field", nonce=NONCE)
    ad = b"dermline/at-rest/data-key/v1" + struct.pack(">I", 7) + lp("field")
    assert wrapped == b"\x01" + NONCE + AESGCM(MK).encrypt(NONCE, DK, ad)
    assert at_rest.unwrap_data_key(MK, wrapped, key_id=7, purpose="field") == DK


def test_wrap_draws_fresh_nonces() -> None:
    a = at_rest.wrap_data_key(MK, DK, key_id=1, purpose="field")
    b = at_rest.wrap_data_key(MK, DK, key_id=1, purpose="field")
    assert a != b
    assert at_rest.unwrap_data_key(MK, a, key_id=1, purpose="field") == DK


@pytest.mark.parametrize(
    ("key", "key_id", "purpose"),
    [(DK, 1, "field"), (MK, 2, "field"), (MK, 1, "blob")],
    ids=["other-master", "other-key-id", "other-purpose"],
)
def test_unwrap_refuses_other_binding(key: bytes, key_id: int, purpose: str) -> None:
    wrapped = at_rest.wrap_data_key(MK, DK, key_id=1, purpose="field")
    with pytest.raises(AtRestError):
        at_rest.unwrap_data_key(key, wrapped, key_id=key_id, purpose=purpose)


def test_unwrap_refuses_malformed() -> None:
    wrapped = at_rest.wrap_data_key(MK, DK, key_id=1, purpose="field")
    for bad in (wrapped[:-1], b"\x02" + wrapped[1:], b""):
        with pytest.raises(AtRestError):
            at_rest.unwrap_data_key(MK, bad, key_id=1, purpose="field")


def test_wrap_argument_checks() -> None:
    with pytest.raises(ValueError):
        at_rest.wrap_data_key_with_nonce(MK, DK, key_id=1, purpose="p", nonce=b"123")
    with pytest.raises(ValueError):
        at_rest.wrap_data_key(MK, DK, key_id=-1, purpose="p")
    with pytest.raises(ValueError):
        at_rest.wrap_data_key(MK, DK, key_id=1 << 32, purpose="p")
    with pytest.raises(TypeError):
        at_rest.wrap_data_key(MK, DK, key_id=True, purpose="p")
    with pytest.raises(TypeError):
        at_rest.wrap_data_key(MK, DK, key_id="1", purpose="p")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        at_rest.wrap_data_key(MK, DK, key_id=1, purpose="p" * 70000)


# ------------------------------------------------------------------ fields


def field_ad(table: str, column: str, row: str, key_id: int) -> bytes:
    return (
        b"dermline/at-rest/field/v1" + lp(table) + lp(column) + lp(row) + struct.pack(">I", key_id)
    )


def test_field_known_answer() -> None:
    rec = at_rest.seal_field_with_nonce(
        DK, 258, b"canary", table="messages", column="envelope", row_id="c1/m1", nonce=NONCE
    )
    expected = (
        b"\x01\x00\x00\x01\x02"
        + NONCE
        + AESGCM(DK).encrypt(NONCE, b"canary", field_ad("messages", "envelope", "c1/m1", 258))
    )
    assert rec == expected
    assert len(rec) == len(b"canary") + at_rest.FIELD_OVERHEAD
    assert at_rest.record_key_id(rec) == 258
    assert at_rest.open_field(DK, rec, table="messages", column="envelope", row_id="c1/m1") == (
        b"canary"
    )


def test_field_random_nonce_and_empty_plaintext() -> None:
    a = at_rest.seal_field(DK, 1, b"", table="t", column="c", row_id="r")
    b = at_rest.seal_field(DK, 1, b"", table="t", column="c", row_id="r")
    assert a != b
    assert at_rest.open_field(DK, a, table="t", column="c", row_id="r") == b""


@pytest.mark.parametrize(
    ("table", "column", "row"),
    [("u", "c", "r"), ("t", "d", "r"), ("t", "c", "s"), ("tc", "", "r")],
    ids=["table", "column", "row", "boundary-shift"],
)
def test_field_is_bound_to_its_place(table: str, column: str, row: str) -> None:
    rec = at_rest.seal_field(DK, 1, b"secret", table="t", column="c", row_id="r")
    with pytest.raises(AtRestError):
        at_rest.open_field(DK, rec, table=table, column=column, row_id=row)


def test_field_tamper_and_wrong_key_and_key_id_swap() -> None:
    rec = at_rest.seal_field(DK, 1, b"secret", table="t", column="c", row_id="r")
    flipped = rec[:-1] + bytes([rec[-1] ^ 1])
    with pytest.raises(AtRestError):
        at_rest.open_field(DK, flipped, table="t", column="c", row_id="r")
    with pytest.raises(AtRestError):
        at_rest.open_field(MK, rec, table="t", column="c", row_id="r")
    other_id = rec[:1] + struct.pack(">I", 2) + rec[5:]
    with pytest.raises(AtRestError):
        at_rest.open_field(DK, other_id, table="t", column="c", row_id="r")


def test_record_key_id_refuses_malformed() -> None:
    rec = at_rest.seal_field(DK, 1, b"x", table="t", column="c", row_id="r")
    with pytest.raises(AtRestError):
        at_rest.record_key_id(rec[: at_rest.FIELD_OVERHEAD - 1])
    with pytest.raises(AtRestError):
        at_rest.record_key_id(b"\x00" + rec[1:])
    assert issubclass(AtRestError, CryptoError)
    assert str(AtRestError()) == "at-rest record is invalid or corrupted"


def test_seal_field_argument_checks() -> None:
    with pytest.raises(ValueError):
        at_rest.seal_field_with_nonce(
            DK, 1, b"x", table="t", column="c", row_id="r", nonce=b"short"
        )
    with pytest.raises(ValueError):
        at_rest.seal_field(b"k", 1, b"x", table="t", column="c", row_id="r")


# ------------------------------------------------------------------ blind index


def test_blind_index_known_answer_and_separation() -> None:
    got = at_rest.blind_index(DK, "login", b"alice@example.org")
    expected = hmac.new(
        DK, b"dermline/at-rest/index/v1" + lp("login") + b"alice@example.org", hashlib.sha256
    ).digest()
    assert got == expected
    assert at_rest.blind_index(DK, "other", b"alice@example.org") != got
    assert at_rest.blind_index(MK, "login", b"alice@example.org") != got
    with pytest.raises(ValueError):
        at_rest.blind_index(b"short", "login", b"x")


# ------------------------------------------------------------------ blobs


def make_header(key_id: int = 5, chunk_size: int = 4) -> at_rest.BlobHeader:
    salt = bytes(range(100, 132))
    return at_rest.parse_blob_header(at_rest.blob_header(key_id, salt, chunk_size))


def test_blob_header_roundtrip_and_layout() -> None:
    salt = bytes(range(100, 132))
    raw = at_rest.blob_header(5, salt, 65536)
    assert len(raw) == at_rest.BLOB_HEADER_LEN == 44
    assert raw == b"DLB\x01" + struct.pack(">I", 5) + salt + struct.pack(">I", 65536)
    h = at_rest.parse_blob_header(raw)
    assert (h.key_id, h.salt, h.chunk_size, h.raw) == (5, salt, 65536, raw)
    assert len(at_rest.new_blob_salt()) == 32
    assert at_rest.new_blob_salt() != at_rest.new_blob_salt()


def test_blob_header_refuses_malformed() -> None:
    raw = at_rest.blob_header(5, bytes(32), 16)
    for bad in (
        raw[:-1],
        b"XLB" + raw[3:],
        raw[:3] + b"\x02" + raw[4:],
        raw[:-4] + struct.pack(">I", 0),
        raw[:-4] + struct.pack(">I", (1 << 24) + 1),
    ):
        with pytest.raises(AtRestError):
            at_rest.parse_blob_header(bad)


def test_blob_header_argument_checks() -> None:
    with pytest.raises(ValueError):
        at_rest.blob_header(5, b"short", 16)
    with pytest.raises(ValueError):
        at_rest.blob_header(5, bytes(32), 0)
    with pytest.raises(ValueError):
        at_rest.blob_header(5, bytes(32), (1 << 24) + 1)


def test_blob_chunks_known_answer_and_roundtrip() -> None:
    h = make_header()
    sub = at_rest.blob_subkey(DK, h, "blob-1")
    expected_sub = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=h.salt,
        info=b"dermline/at-rest/blob/v1blob-1",
    ).derive(DK)
    assert sub == expected_sub
    assert at_rest.blob_subkey(DK, h, "blob-2") != sub
    c0 = at_rest.seal_blob_chunk(sub, h, 0, False, b"abcd")
    c1 = at_rest.seal_blob_chunk(sub, h, 1, True, b"ef")
    nonce0 = struct.pack(">Q3xB", 0, 0)
    assert c0 == AESGCM(sub).encrypt(nonce0, b"abcd", h.raw)
    assert len(c1) == 2 + at_rest.BLOB_TAG_LEN
    assert at_rest.open_blob_chunk(sub, h, 0, False, c0) == b"abcd"
    assert at_rest.open_blob_chunk(sub, h, 1, True, c1) == b"ef"


def test_blob_chunks_detect_reorder_truncation_and_header_swap() -> None:
    h = make_header()
    sub = at_rest.blob_subkey(DK, h, "b")
    c0 = at_rest.seal_blob_chunk(sub, h, 0, False, b"abcd")
    c1 = at_rest.seal_blob_chunk(sub, h, 1, True, b"ef")
    with pytest.raises(AtRestError):
        at_rest.open_blob_chunk(sub, h, 1, True, c0)  # reordered
    with pytest.raises(AtRestError):
        at_rest.open_blob_chunk(sub, h, 0, True, c0)  # truncated: chunk 0 claimed final
    with pytest.raises(AtRestError):
        at_rest.open_blob_chunk(sub, h, 1, False, c1)  # extended past the final chunk
    other = make_header(key_id=6)
    with pytest.raises(AtRestError):
        at_rest.open_blob_chunk(sub, other, 0, False, c0)


def test_blob_chunk_argument_checks() -> None:
    h = make_header(chunk_size=4)
    sub = at_rest.blob_subkey(DK, h, "b")
    with pytest.raises(ValueError):
        at_rest.seal_blob_chunk(sub, h, 0, False, b"12345")
    with pytest.raises(ValueError):
        at_rest.seal_blob_chunk(sub, h, -1, False, b"1")
    with pytest.raises(ValueError):
        at_rest.seal_blob_chunk(sub, h, 1 << 64, False, b"1")
    with pytest.raises(ValueError):
        at_rest.open_blob_chunk(b"k", h, 0, False, b"")


# ------------------------------------------------------------------ FieldKey


def test_field_key_matches_the_functions() -> None:
    fk = at_rest.FieldKey(DK, 258)
    assert "DK" not in repr(fk) and DK.hex() not in repr(fk) and "258" in repr(fk)
    rec = fk.seal_with_nonce(
        b"canary", table="messages", column="envelope", row_id="c1/m1", nonce=NONCE
    )
    assert rec == at_rest.seal_field_with_nonce(
        DK, 258, b"canary", table="messages", column="envelope", row_id="c1/m1", nonce=NONCE
    )
    assert fk.open(rec, table="messages", column="envelope", row_id="c1/m1") == b"canary"
    rand = fk.seal(b"x", table="t", column="c", row_id="r")
    assert at_rest.open_field(DK, rand, table="t", column="c", row_id="r") == b"x"


def test_field_key_refuses() -> None:
    fk = at_rest.FieldKey(DK, 1)
    rec = fk.seal(b"x", table="t", column="c", row_id="r")
    with pytest.raises(AtRestError):
        fk.open(rec, table="t", column="c", row_id="other")
    with pytest.raises(AtRestError):
        at_rest.FieldKey(DK, 2).open(rec, table="t", column="c", row_id="r")
    with pytest.raises(ValueError):
        fk.seal_with_nonce(b"x", table="t", column="c", row_id="r", nonce=b"1")
    with pytest.raises(ValueError):
        at_rest.FieldKey(b"short", 1)


# ------------------------------------------------------------------ committed known answers


@pytest.mark.parametrize("t", cases("at_rest.json", "MasterKeyId"), ids=ids)
def test_committed_master_key_id(t: dict[str, Any]) -> None:
    assert at_rest.master_key_id(h(t["master_key"])) == t["master_key_id"]


@pytest.mark.parametrize("t", cases("at_rest.json", "DataKeyWrap"), ids=ids)
def test_committed_data_key_wraps(t: dict[str, Any]) -> None:
    args = {"key_id": t["key_id"], "purpose": t["purpose"]}
    if t["result"] == "valid":
        made = at_rest.wrap_data_key_with_nonce(
            h(t["master_key"]), h(t["data_key"]), nonce=h(t["nonce"]), **args
        )
        assert made.hex() == t["wrapped"]
        assert (
            at_rest.unwrap_data_key(h(t["master_key"]), h(t["wrapped"]), **args).hex()
            == (t["data_key"])
        )
    else:
        with pytest.raises(AtRestError):
            at_rest.unwrap_data_key(h(t["master_key"]), h(t["wrapped"]), **args)


@pytest.mark.parametrize("t", cases("at_rest.json", "SealedField"), ids=ids)
def test_committed_sealed_fields(t: dict[str, Any]) -> None:
    place = {"table": t["table"], "column": t["column"], "row_id": t["row_id"]}
    if t["result"] == "valid":
        made = at_rest.seal_field_with_nonce(
            h(t["data_key"]), t["key_id"], h(t["plaintext"]), nonce=h(t["nonce"]), **place
        )
        assert made.hex() == t["sealed"]
        key = at_rest.FieldKey(h(t["data_key"]), t["key_id"])
        assert (
            key.seal_with_nonce(h(t["plaintext"]), nonce=h(t["nonce"]), **place).hex()
            == (t["sealed"])
        )
        assert (
            at_rest.open_field(h(t["data_key"]), h(t["sealed"]), **place).hex() == (t["plaintext"])
        )
    else:
        with pytest.raises(AtRestError):
            at_rest.open_field(h(t["data_key"]), h(t["sealed"]), **place)


@pytest.mark.parametrize("t", cases("at_rest.json", "BlindIndex"), ids=ids)
def test_committed_blind_indexes(t: dict[str, Any]) -> None:
    got = at_rest.blind_index(h(t["index_key"]), t["purpose"], h(t["value"]))
    assert got.hex() == t["index"]


@pytest.mark.parametrize("t", cases("at_rest.json", "BlobHeader"), ids=ids)
def test_committed_blob_headers(t: dict[str, Any]) -> None:
    if t["result"] == "valid":
        assert at_rest.blob_header(t["key_id"], h(t["salt"]), t["chunk_size"]).hex() == t["header"]
        parsed = at_rest.parse_blob_header(h(t["header"]))
        assert (parsed.key_id, parsed.salt.hex(), parsed.chunk_size) == (
            t["key_id"],
            t["salt"],
            t["chunk_size"],
        )
    else:
        with pytest.raises(AtRestError):
            at_rest.parse_blob_header(h(t["header"]))


@pytest.mark.parametrize("t", cases("at_rest.json", "Blob"), ids=ids)
def test_committed_blobs(t: dict[str, Any]) -> None:
    header = at_rest.parse_blob_header(h(t["header"]))
    subkey = at_rest.blob_subkey(h(t["data_key"]), header, t["blob_id"])
    if t["result"] == "valid":
        assert subkey.hex() == t["subkey"]
        for c in t["chunks"]:
            sealed = at_rest.seal_blob_chunk(
                subkey, header, c["index"], c["final"], h(c["plaintext"])
            )
            assert sealed.hex() == c["sealed"]
            opened = at_rest.open_blob_chunk(subkey, header, c["index"], c["final"], sealed)
            assert opened.hex() == c["plaintext"]
    else:
        (c,) = t["chunks"]
        with pytest.raises(AtRestError):
            at_rest.open_blob_chunk(subkey, header, c["index"], c["final"], h(c["sealed"]))
