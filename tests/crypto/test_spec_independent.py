"""The vectors checked against docs/protocol.md with pyca/cryptography and the standard library
only, without any of our code.

The vector files are produced by our own implementation, so checking them with that same code
is circular. Here each valid case is recomputed from the *document's* recipe (labels, AAD and
byte offsets written out again by hand) on top of pyca's AESGCM, HKDF, ECDSA and hashlib, so a
mistake that the code and its vectors share, but the document does not, fails here.

The records of sections 19 to 22 (log entries, tree heads, statements, organisation key
wraps and handovers, the committed envelope, invite and records signing keys) are recomputed
the same way at the end of the file, RFC 9180 DeriveKeyPair included.

pyca's HPKE ``Suite`` takes no AAD and frames ``enc || ct`` itself, so the HPKE records (0x04,
0x06) are opened here by :func:`hpke_open_base`: RFC 9180 base mode written out again from the
RFC over pyca's ECDH, the standard library's HMAC and pyca's AESGCM, itself checked against
the RFC's appendix A. So the documented HPKE ``info`` and ``aad`` are checked independently
too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "dermline"


def valid(name: str, group: str) -> list[dict[str, Any]]:
    doc = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    tests = [
        t
        for g in doc["testGroups"]
        if g["type"] == group
        for t in g["tests"]
        if t["result"] == "valid"
    ]
    assert tests
    return tests


def tc(t: dict[str, Any]) -> str:
    return f"tc{t['tcId']}"


def h(x: str) -> bytes:
    return bytes.fromhex(x)


def uid(x: str) -> bytes:
    return bytes.fromhex(x.replace("-", ""))


def hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(ikm)


def spki(pk: bytes) -> bytes:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pk)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(pk: bytes) -> bytes:
    return hashlib.sha256(spki(pk)).digest()[:16]


def verify_p1363(pk: bytes, message: bytes, signature: bytes) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pk)
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    key.verify(der, message, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature


@pytest.mark.parametrize("t", valid("password.json", "LoginKeys"), ids=tc)
def test_password_section_3(t: dict[str, Any]) -> None:
    pw = unicodedata.normalize("NFC", t["password"]).encode()
    assert pw.hex() == t["password_nfc_utf8"]
    master = hashlib.pbkdf2_hmac("sha256", pw, h(t["salt"]), t["iterations"], 32)
    assert master.hex() == t["master_key"]
    assert hkdf(master, b"dermline/v1/auth-key").hex() == t["auth_key"]
    assert hkdf(master, b"dermline/v1/kek").hex() == t["kek"]


@pytest.mark.parametrize("t", valid("fake_salt.json", "FakeSalt"), ids=tc)
def test_fake_salt_section_3(t: dict[str, Any]) -> None:
    name = unicodedata.normalize(
        "NFKC", unicodedata.normalize("NFKC", t["login_name"]).casefold()
    ).strip()
    assert name == t["normalised_login_name"]
    salt = hmac.new(
        h(t["server_secret"]), b"dermline/v1/fake-salt\x00" + name.encode(), "sha256"
    ).digest()[:16]
    assert salt.hex() == t["salt"]
    assert t["record"] == "01010101" + (600_000).to_bytes(4, "big").hex() + "10" + salt.hex()


@pytest.mark.parametrize("t", valid("recovery_key.json", "RecoveryKeyEncode"), ids=tc)
def test_recovery_key_section_4(t: dict[str, Any]) -> None:
    # Crockford base32 is RFC 4648 base32 with another alphabet: translate and decode.
    crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    rfc4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    text = t["text"].replace("-", "").translate(str.maketrans(crockford, rfc4648))
    payload = base64.b32decode(text)
    secret, checksum = payload[:32], payload[32:]
    assert secret.hex() == t["secret"]
    assert checksum == hashlib.sha256(b"dermline/v1/recovery-key\x00" + secret).digest()[:3]


@pytest.mark.parametrize("group", ["UskKekWrap", "UskRecoveryWrap"])
def test_usk_symmetric_wraps_section_5(group: str) -> None:
    for t in valid("usk_wrap.json", group):
        record, user = h(t["record"]), uid(t["user_id"])
        if group == "UskKekWrap":
            key, label, head = h(t["kek"]), b"dermline/v1/usk-kek\x00", b"\x01\x01\x02"
        else:
            key = hkdf(h(t["recovery_secret"]), b"dermline/v1/recovery-wrap-key")
            label, head = b"dermline/v1/usk-recovery\x00", b"\x01\x01\x03"
        assert len(record) == 63 and record[:3] == head
        usk = AESGCM(key).decrypt(record[3:15], record[15:], head + label + user)
        assert usk.hex() == t["usk"]


def test_usk_org_wrap_header_section_5() -> None:
    for t in valid("usk_wrap.json", "UskOrgWrap"):
        record = h(t["record"])
        assert len(record) == 132 and record[:3] == b"\x01\x01\x04"
        assert record[3:19] == key_id(h(t["org_public_key"]))


@pytest.mark.parametrize("t", valid("private_key_seal.json", "SealedPrivateKey"), ids=tc)
def test_sealed_private_key_section_6(t: dict[str, Any]) -> None:
    record = h(t["record"])
    assert len(record) == 80 and record[:3] == b"\x01\x01\x05"
    assert record[3] == t["purpose"]
    assert record[4:20] == key_id(h(t["public_key"]))
    key = hkdf(h(t["usk"]), b"dermline/v1/private-key-seal")
    aad = record[:20] + b"dermline/v1/private-key\x00" + uid(t["user_id"])
    scalar = AESGCM(key).decrypt(record[20:32], record[32:], aad)
    public = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1()).public_key()
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert point.hex() == t["public_key"]


@pytest.mark.parametrize("t", valid("key_id.json", "KeyId"), ids=tc)
def test_key_id_section_1(t: dict[str, Any]) -> None:
    assert spki(h(t["public_key"])).hex() == t["spki"]
    assert key_id(h(t["public_key"])).hex() == t["key_id"]


def test_fingerprints_section_7() -> None:
    def digits(sig: bytes, enc: bytes) -> str:
        d = hashlib.sha256(b"dermline/v1/fingerprint\x00" + spki(sig) + spki(enc)).digest()
        return "".join(
            f"{int.from_bytes(d[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
        )

    for t in valid("key_id.json", "AccountFingerprint"):
        fp = digits(h(t["signing_public_key"]), h(t["encryption_public_key"]))
        assert fp == t["fingerprint"]
    for t in valid("key_id.json", "SafetyNumber"):
        a = digits(h(t["ours_signing_public_key"]), h(t["ours_encryption_public_key"]))
        b = digits(h(t["theirs_signing_public_key"]), h(t["theirs_encryption_public_key"]))
        joined = "".join(sorted((a, b)))
        assert t["safety_number"] == " ".join(joined[i : i + 5] for i in range(0, 60, 5))


@pytest.mark.parametrize("t", valid("case_key_wrap.json", "CaseKeyWrap"), ids=tc)
def test_case_key_wrap_section_8(t: dict[str, Any]) -> None:
    record = h(t["record"])
    assert len(record) == 248 and record[:3] == b"\x01\x01\x06"
    assert record[3:19] == uid(t["case_id"])
    assert int.from_bytes(record[19:23], "big") == t["epoch"]
    assert record[23:39] == key_id(h(t["recipient_public_key"]))
    assert record[39:55] == uid(t["wrapper_user_id"])
    assert record[55:71] == key_id(h(t["wrapper_signing_public_key"]))
    assert record[71] == 0x04  # uncompressed ephemeral point
    verify_p1363(
        h(t["wrapper_signing_public_key"]),
        b"dermline/v1/sig/case-key-wrap\x00" + record[:184],
        record[184:],
    )


@pytest.mark.parametrize("t", valid("envelope.json", "MessageEnvelope"), ids=tc)
def test_envelope_section_9(t: dict[str, Any]) -> None:
    r = h(t["record"])
    assert r[:3] == b"\x01\x01\x07"
    assert r[3:19] == uid(t["case_id"])
    assert int.from_bytes(r[19:23], "big") == t["epoch"]
    assert r[23:39] == uid(t["client_message_id"])
    assert r[39:55] == uid(t["sender_user_id"])
    assert r[55:71] == key_id(h(t["sender_signing_public_key"]))
    assert r[71] == t["content_type"]
    assert int.from_bytes(r[72:80], "big") == t["timestamp_ms"]
    assert r[80:112].hex() == t["previous_hash"]
    n = int.from_bytes(r[124:128], "big")
    assert len(r) == 128 + n + 64
    verify_p1363(
        h(t["sender_signing_public_key"]), b"dermline/v1/sig/message\x00" + r[: 128 + n], r[-64:]
    )
    key = hkdf(h(t["case_key"]), b"dermline/v1/message-key\x00" + r[3:19] + r[19:23])
    body = AESGCM(key).decrypt(r[112:124], r[128 : 128 + n], r[:112])
    assert body.hex() == t["body"]
    assert hashlib.sha256(r[:-64]).hexdigest() == t["message_hash"]


@pytest.mark.parametrize("t", valid("attachment.json", "Attachment"), ids=tc)
def test_attachment_section_11(t: dict[str, Any]) -> None:
    r = h(t["record"])
    assert r[:3] == b"\x01\x01\x08"
    assert hashlib.sha256(r).hexdigest() == t["sha256"]
    salt, commitment, body = r[3:27], r[27:59], r[59:]
    assert salt.hex() == t["salt"]
    info = b"c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM\x00" + salt + b"dermline/v1/attachment"
    okm = HKDFExpand(hashes.SHA512(), 76, info).derive(h(t["file_key"]))
    key, base, expected_commitment = okm[:32], int.from_bytes(okm[32:44], "big"), okm[44:]
    assert commitment == expected_commitment
    aead, plain = AESGCM(key), b""
    assert len(h(t["file_key"])) == 32
    chunks = [body[i : i + 16400] for i in range(0, len(body), 16400)]
    if len(body) % 16400 == 0:
        chunks.append(b"")  # slicing drops an empty tail; the format never has one
    assert 16 <= len(chunks[-1]) < 16400  # the final chunk is short (possibly just a tag)
    plain_length = len(h(t["plaintext"]))
    assert len(chunks) == plain_length // 16384 + 1
    if plain_length % 16384 == 0:
        assert len(chunks[-1]) == 16  # the empty final chunk: its tag alone
    for i, chunk in enumerate(chunks):
        plain += aead.decrypt((base ^ i).to_bytes(12, "big"), chunk, None)
    assert plain.hex() == t["plaintext"]


@pytest.mark.parametrize("t", valid("records_key_file.json", "RecordsKeyFile"), ids=tc)
def test_records_key_file_section_12(t: dict[str, Any]) -> None:
    r = h(t["record"])
    assert r[:3] == b"\x01\x01\x09" and r[3:19] == key_id(h(t["records_public_key"]))
    assert r[19] == 1
    iterations, length = int.from_bytes(r[20:24], "big"), r[24]
    salt, nonce, sealed = r[25 : 25 + length], r[25 + length : 37 + length], r[37 + length :]
    passphrase = unicodedata.normalize("NFC", t["passphrase"]).encode()
    master = hashlib.pbkdf2_hmac("sha256", passphrase, salt, iterations, 32)
    key = hkdf(master, b"dermline/v1/records-key-file")
    scalar = AESGCM(key).decrypt(nonce, sealed, r[: 25 + length])
    assert scalar.hex() == t["records_private_key"]


# --- RFC 9180 base mode, from the RFC, for the HPKE records ---------------------------------


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    # RFC 9180 section 4: Extract(salt, "HPKE-v1" || suite_id || label || ikm), HMAC-SHA256
    # keyed by the salt (an empty salt is HashLen zeros, RFC 5869 section 2.2).
    return hmac.new(salt or bytes(32), b"HPKE-v1" + suite_id + label + ikm, "sha256").digest()


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    out, block, counter = b"", b"", 1
    while len(out) < length:  # RFC 5869 section 2.3, written out
        block = hmac.new(prk, block + labeled + bytes([counter]), "sha256").digest()
        out, counter = out + block, counter + 1
    return out[:length]


def hpke_open_base(sk: bytes, enc: bytes, info: bytes, aad: bytes, ct: bytes) -> bytes:
    """DHKEM(P-256, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, mode_base, sequence 0."""
    kem = b"KEM" + (0x0010).to_bytes(2, "big")
    private = ec.derive_private_key(int.from_bytes(sk, "big"), ec.SECP256R1())
    pk_r = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
    dh = private.exchange(ec.ECDH(), ephemeral)
    eae_prk = _labeled_extract(kem, b"", b"eae_prk", dh)
    shared = _labeled_expand(kem, eae_prk, b"shared_secret", enc + pk_r, 32)
    suite = b"HPKE" + bytes.fromhex("001000010002")
    context = (
        b"\x00"
        + _labeled_extract(suite, b"", b"psk_id_hash", b"")
        + _labeled_extract(suite, b"", b"info_hash", info)
    )
    secret = _labeled_extract(suite, shared, b"secret", b"")
    key = _labeled_expand(suite, secret, b"key", context, 32)
    nonce = _labeled_expand(suite, secret, b"base_nonce", context, 12)
    return AESGCM(key).decrypt(nonce, ct, aad)


@pytest.mark.parametrize("t", valid("case_key_wrap.json", "CaseKeyWrap"), ids=tc)
def test_case_key_wrap_hpke_section_8(t: dict[str, Any]) -> None:
    r = h(t["record"])
    info = b"dermline/v1/case-key\x00" + r[3:19] + r[19:23] + r[23:39]
    assert r[3:19] == uid(t["case_id"]) and r[23:39] == key_id(h(t["recipient_public_key"]))
    case_key = hpke_open_base(h(t["recipient_private_key"]), r[71:136], info, r[:71], r[136:184])
    assert case_key.hex() == t["case_key"]


def test_usk_org_wrap_hpke_section_5() -> None:
    for t in valid("usk_wrap.json", "UskOrgWrap"):
        r = h(t["record"])
        info = b"dermline/v1/usk-org\x00" + uid(t["user_id"]) + key_id(h(t["org_public_key"]))
        usk = hpke_open_base(h(t["org_private_key"]), r[19:84], info, r[:19], r[84:132])
        assert usk.hex() == t["usk"]


def test_independent_hpke_matches_rfc9180_vectors() -> None:
    # The helper above is itself checked against RFC 9180 appendix A (P-256, AES-256-GCM).
    doc = json.loads((VECTORS.parent / "hpke" / "rfc9180_base_selected.json").read_text("utf-8"))
    suites = [v for v in doc if (v["kem_id"], v["kdf_id"], v["aead_id"]) == (16, 1, 2)]
    assert suites
    for v in suites:
        first = v["encryptions"][0]
        plain = hpke_open_base(
            h(v["skRm"]), h(v["enc"]), h(v["info"]), h(first["aad"]), h(first["ct"])
        )
        assert plain == h(first["pt"])


# --- sections 19 to 23 (verified keys), recomputed from the document ------------------------


def derive_key_pair(ikm: bytes) -> int:
    """RFC 9180 section 7.1.3 DeriveKeyPair for DHKEM(P-256): the private scalar."""
    kem = b"KEM" + (0x0010).to_bytes(2, "big")
    dkp_prk = _labeled_extract(kem, b"", b"dkp_prk", ikm)
    order = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
    for counter in range(256):
        candidate = int.from_bytes(
            _labeled_expand(kem, dkp_prk, b"candidate", bytes([counter]), 32), "big"
        )
        if 0 < candidate < order:
            return candidate
    raise AssertionError("unreachable")


def public_point(scalar: int) -> bytes:
    return (
        ec.derive_private_key(scalar, ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


@pytest.mark.parametrize("t", valid("invite.json", "InviteKey"), ids=tc)
def test_invite_key_section_21(t: dict[str, Any]) -> None:
    scalar = derive_key_pair(hkdf(h(t["secret"]), b"dermline/v1/invite-key"))
    assert scalar.to_bytes(32, "big").hex() == t["private_key"]
    assert public_point(scalar).hex() == t["public_key"]
    assert key_id(public_point(scalar)).hex() == t["key_id"]


@pytest.mark.parametrize("t", valid("org_key.json", "RecordsSigningKey"), ids=tc)
def test_records_signing_key_section_21(t: dict[str, Any]) -> None:
    scalar = derive_key_pair(hkdf(h(t["records_private_key"]), b"dermline/v1/records-signing-key"))
    assert scalar.to_bytes(32, "big").hex() == t["records_signing_private_key"]


@pytest.mark.parametrize("t", valid("invite.json", "InviteFragment"), ids=tc)
def test_invite_fragment_section_21(t: dict[str, Any]) -> None:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    parts = [t["token"]]
    if t["secret"] is not None:
        parts += [b64(h(t["secret"])), b64(h(t["org_key_id"]))]
    assert ".".join(parts) == t["text"]


_BODY_LENGTHS = {1: None, 2: 122, 3: 195, 4: 166, 5: 48}


@pytest.mark.parametrize("t", valid("statement.json", "Statement"), ids=tc)
def test_statement_section_20(t: dict[str, Any]) -> None:
    r = h(t["record"])
    assert r[:3] == b"\x01\x01\x0c" and r[3] == t["kind"]
    assert r[4:20] == key_id(h(t["signer_public_key"]))
    assert int.from_bytes(r[20:28], "big") == t["issued_at_ms"]
    length = int.from_bytes(r[28:30], "big")
    assert len(r) == 30 + length + 64
    body = r[30 : 30 + length]
    if t["kind"] == 1:
        assert uid(t["org_id"]) == body[:16] and body[16] == t["org_kind"]
        assert body[17:82].hex() == t["org_public_key"]
        name = t["name"].encode()
        assert body[82] == len(name) and body[83:] == name
        assert unicodedata.is_normalized("NFC", t["name"])
    else:
        assert length == _BODY_LENGTHS[t["kind"]]
    if t["kind"] == 3:
        assert body[:16] == uid(t["user_id"]) and body[16:32] == uid(t["org_id"])
        assert body[32] == t["role"]
        assert body[33:98].hex() == t["signing_public_key"]
        assert body[98:163].hex() == t["encryption_public_key"]
        assert body[163:195] == (
            bytes(32) if t["invite_statement_hash"] is None else h(t["invite_statement_hash"])
        )
    if t["kind"] == 4:
        assert int.from_bytes(body[16:20], "big") == t["sequence"]
        assert body[150:166] == (
            bytes(16) if t["previous_records_key_id"] is None else h(t["previous_records_key_id"])
        )
    verify_p1363(h(t["signer_public_key"]), b"dermline/v1/sig/statement\x00" + r[:-64], r[-64:])
    assert hashlib.sha256(r[:-64]).hexdigest() == t["statement_hash"]


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def test_log_entries_tree_and_heads_section_19() -> None:
    entries = valid("transparency_log.json", "LogEntry")
    leaves = [hashlib.sha256(b"\x00" + h(t["entry"])).digest() for t in entries]
    assert [x.hex() for x in leaves] == [t["leaf_hash"] for t in entries]
    for t in entries:
        e = h(t["entry"])
        assert e[0] == t["entry_type"] and int.from_bytes(e[1:9], "big") == t["appended_at_ms"]
        if t["entry_type"] == 1:
            assert e[9:].hex() == t["statement"]
        elif t["entry_type"] == 2:
            assert len(e) == 9 + 16 + 16 + 1 + 65 + 65 and e[41] == t["role"]
        else:
            org = bytes(16) if t["org_id"] is None else uid(t["org_id"])
            assert e[9:] == uid(t["user_id"]) + org + bytes([t["reason"], t["role"]])
    for t in valid("transparency_log.json", "MerkleRoot"):
        assert _mth([h(x) for x in t["leaf_hashes"]]).hex() == t["root"]
    for t in valid("transparency_log.json", "TreeHead"):
        r = h(t["record"])
        assert len(r) == 131 and r[:3] == b"\x01\x01\x0d"
        assert int.from_bytes(r[3:11], "big") == t["tree_size"]
        assert int.from_bytes(r[11:19], "big") == t["timestamp_ms"]
        assert r[19:51].hex() == t["root_hash"]
        assert r[51:67] == key_id(h(t["log_public_key"]))
        verify_p1363(h(t["log_public_key"]), b"dermline/v1/sig/tree-head\x00" + r[:67], r[67:])


@pytest.mark.parametrize("t", valid("envelope_committed.json", "CommittedMessageEnvelope"), ids=tc)
def test_committed_envelope_section_22(t: dict[str, Any]) -> None:
    r = h(t["record"])
    assert r[:3] == b"\x01\x01\x0e"
    case, epoch = uid(t["case_id"]), t["epoch"].to_bytes(4, "big")
    assert r[3:19] == case and r[19:23] == epoch
    assert r[80:112].hex() == t["previous_hash"]
    commitment = hmac.new(
        h(t["case_key"]), b"dermline/v1/case-key-commitment\x00" + case + epoch, "sha256"
    ).digest()
    assert r[112:144] == commitment
    n = int.from_bytes(r[156:160], "big")
    assert len(r) == 160 + n + 64 and (n - 16) % 256 == 0
    verify_p1363(
        h(t["sender_signing_public_key"]), b"dermline/v1/sig/message\x00" + r[: 160 + n], r[-64:]
    )
    key = hkdf(h(t["case_key"]), b"dermline/v1/message-key\x00" + case + epoch)
    padded = AESGCM(key).decrypt(r[144:156], r[160 : 160 + n], r[:144])
    body = h(t["body"])
    assert padded == body + b"\x80" + bytes(len(padded) - len(body) - 1)
    assert len(padded) == (len(body) // 256 + 1) * 256
    assert hashlib.sha256(r[:-64]).hexdigest() == t["message_hash"]


@pytest.mark.parametrize("t", valid("org_key.json", "OrgKeyWrap"), ids=tc)
def test_org_key_wrap_section_21(t: dict[str, Any]) -> None:
    r = h(t["record"])
    assert len(r) == 260 and r[:3] == b"\x01\x01\x0f"
    assert r[3:19] == uid(t["org_id"])
    assert r[19:35] == key_id(h(t["recipient_public_key"]))
    assert r[35:51] == uid(t["wrapper_user_id"])
    assert r[51:67] == key_id(h(t["wrapper_signing_public_key"]))
    assert r[67:83] == key_id(h(t["org_public_key"]))
    verify_p1363(
        h(t["wrapper_signing_public_key"]), b"dermline/v1/sig/org-key-wrap\x00" + r[:196], r[196:]
    )
    info = b"dermline/v1/org-key\x00" + r[3:19] + r[19:35]
    scalar = hpke_open_base(h(t["recipient_private_key"]), r[83:148], info, r[:83], r[148:196])
    assert scalar.hex() == t["org_private_key"]
    assert key_id(public_point(int.from_bytes(scalar, "big"))) == r[67:83]


@pytest.mark.parametrize("t", valid("org_key.json", "OrgKeyHandover"), ids=tc)
def test_org_key_handover_section_21(t: dict[str, Any]) -> None:
    r = h(t["record"])
    secret = h(t["invite_secret"])
    assert len(r) == 95 and r[:3] == b"\x01\x01\x10" and r[3:19] == uid(t["org_id"])
    invite_scalar = derive_key_pair(hkdf(secret, b"dermline/v1/invite-key"))
    assert r[19:35] == key_id(public_point(invite_scalar))
    key = hkdf(secret, b"dermline/v1/invite-org-key")
    assert AESGCM(key).decrypt(r[35:47], r[47:], r[:35]).hex() == t["org_private_key"]
