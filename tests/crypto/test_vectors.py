"""The committed Dermline v1 vectors: they match the generator, and every case passes.

Each ``valid`` case is rebuilt from its inputs through the deterministic ``*_from_parts``
functions (so the bytes match exactly) and opened again through the public functions; each
``invalid`` case must raise that operation's error. The browser port runs the same files.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from crypto import (
    account,
    attachment,
    case_key,
    content,
    envelope,
    errors,
    fingerprint,
    password,
    patient_drop,
    records_key,
    recovery_key,
    usk,
)
from tools import gen_vectors

VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors" / "dermline"
FILES = [
    "password.json",
    "kdf_params.json",
    "fake_salt.json",
    "recovery_key.json",
    "usk_wrap.json",
    "private_key_seal.json",
    "key_id.json",
    "case_key_wrap.json",
    "case_key_wrap_committed.json",
    "envelope.json",
    "content.json",
    "attachment.json",
    "records_key_file.json",
    "patient_drop.json",
    "transparency_log.json",
    "statement.json",
    "invite.json",
    "org_key.json",
    "envelope_committed.json",
    "transcript.json",
    "at_rest.json",
    "passkey_wrap.json",
    "hybrid.json",
]


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTOR_DIR / name).read_text(encoding="utf-8"))
    return data


def cases(name: str, group: str) -> list[dict[str, Any]]:
    out = [t for g in load(name)["testGroups"] if g["type"] == group for t in g["tests"]]
    assert out, f"no tests in {name}/{group}"
    return out


def ids(t: dict[str, Any]) -> str:
    return f"tc{t['tcId']}"


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def u(value: str) -> uuid.UUID:
    return uuid.UUID(value)


def pair(t: dict[str, Any], prefix: str) -> account.KeyPair:
    kp = account.key_pair_from_private(h(t[f"{prefix}_private_key"]))
    assert kp.public_key.hex() == t[f"{prefix}_public_key"]
    assert kp.key_id.hex() == t[f"{prefix}_key_id"]
    return kp


# --- the files themselves -----------------------------------------------------------------


def test_committed_files_match_the_generator() -> None:
    built = gen_vectors.build_all()
    assert sorted(built) == sorted(FILES)
    for name, text in built.items():
        assert (VECTOR_DIR / name).read_text(encoding="utf-8") == text, (
            f"{name} drifted: run python -m tools.gen_vectors"
        )


@pytest.mark.parametrize("name", FILES)
def test_file_shape(name: str) -> None:
    doc = load(name)
    assert doc["format"] == "dermline-v1/" + name.removesuffix(".json")
    assert doc["formatVersion"] == 1
    tests = [t for g in doc["testGroups"] for t in g["tests"]]
    assert doc["numberOfTests"] == len(tests)
    assert [t["tcId"] for t in tests] == list(range(1, len(tests) + 1))
    for t in tests:
        assert t["result"] in ("valid", "invalid")
        assert t["flags"] and all(flag in doc["notes"] for flag in t["flags"])


def test_every_record_file_has_negative_cases() -> None:
    for name in FILES:
        if name in ("password.json", "fake_salt.json"):
            continue
        results = {t["result"] for g in load(name)["testGroups"] for t in g["tests"]}
        assert results == {"valid", "invalid"}, name


# --- passkey (PRF) wrap of the USK ---------------------------------------------------------


@pytest.mark.parametrize("t", cases("passkey_wrap.json", "UskPasskeyWrap"), ids=ids)
def test_usk_passkey_wrap(t: dict[str, Any]) -> None:
    user, prf, cred = u(t["user_id"]), h(t["prf_output"]), h(t["credential_id"])
    record = h(t["record"])
    assert h(t["prf_input"]) == usk.PASSKEY_PRF_INPUT
    if t["result"] == "valid":
        built = usk.wrap_usk_with_passkey_from_parts(
            h(t["usk"]), prf, user, cred, nonce=h(t["nonce"])
        )
        assert built == record
        assert usk.unwrap_usk_with_passkey(record, prf, user, cred).hex() == t["usk"]
        usk.check_passkey_wrap_form(record)
    else:
        with pytest.raises(errors.UskPasskeyUnwrapError):
            usk.unwrap_usk_with_passkey(record, prf, user, cred)


# --- password -----------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("password.json", "LoginKeys"), ids=ids)
def test_login_keys(t: dict[str, Any]) -> None:
    master = password.derive_master_key(t["password"], h(t["salt"]), iterations=t["iterations"])
    assert master.hex() == t["master_key"]
    keys = password.derive_login_keys(t["password"], h(t["salt"]), iterations=t["iterations"])
    assert keys.auth_key.hex() == t["auth_key"]
    assert keys.kek.hex() == t["kek"]


def test_the_full_iteration_case_really_uses_600000() -> None:
    full = [t for t in cases("password.json", "LoginKeys") if "FullIterations" in t["flags"]]
    assert [t["iterations"] for t in full] == [600_000]


@pytest.mark.parametrize("t", cases("kdf_params.json", "KdfParams"), ids=ids)
def test_kdf_params(t: dict[str, Any]) -> None:
    if t["result"] == "valid":
        params = password.parse_kdf_params(h(t["record"]))
        assert (params.algorithm, params.iterations, params.salt.hex()) == (
            t["algorithm"],
            t["iterations"],
            t["salt"],
        )
        assert (
            password.encode_kdf_params(params.salt, iterations=params.iterations).hex()
            == (t["record"])
        )
    else:
        with pytest.raises(errors.KdfParamsError):
            password.parse_kdf_params(h(t["record"]))


@pytest.mark.parametrize("t", cases("fake_salt.json", "FakeSalt"), ids=ids)
def test_fake_salt(t: dict[str, Any]) -> None:
    secret = h(t["server_secret"])
    assert password.normalise_login_name(t["login_name"]) == t["normalised_login_name"]
    assert password.fake_salt(secret, t["login_name"]).hex() == t["salt"]
    record = password.fake_kdf_params(secret, t["login_name"])
    assert record.hex() == t["record"]
    # A fake record is indistinguishable in form from a real one.
    assert password.parse_kdf_params(record).iterations == password.PBKDF2_ITERATIONS


# --- recovery key -------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("recovery_key.json", "RecoveryKeyEncode"), ids=ids)
def test_recovery_key_encode(t: dict[str, Any]) -> None:
    assert recovery_key.encode_recovery_key(h(t["secret"])) == t["text"]
    assert recovery_key.decode_recovery_key(t["text"]).hex() == t["secret"]


@pytest.mark.parametrize("t", cases("recovery_key.json", "RecoveryKeyDecode"), ids=ids)
def test_recovery_key_decode(t: dict[str, Any]) -> None:
    if t["result"] == "valid":
        assert recovery_key.decode_recovery_key(t["text"]).hex() == t["secret"]
    else:
        assert t["error"] == "RecoveryKeyFormatError"
        with pytest.raises(errors.RecoveryKeyFormatError, match="does not look like a recovery"):
            recovery_key.decode_recovery_key(t["text"])


# --- USK wraps ----------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("usk_wrap.json", "UskKekWrap"), ids=ids)
def test_usk_kek_wrap(t: dict[str, Any]) -> None:
    user, kek, record = u(t["user_id"]), h(t["kek"]), h(t["record"])
    if t["result"] == "valid":
        built = usk.wrap_usk_with_kek_from_parts(h(t["usk"]), kek, user, nonce=h(t["nonce"]))
        assert built.hex() == t["record"]
        assert usk.unwrap_usk_with_kek(record, kek, user).hex() == t["usk"]
    else:
        with pytest.raises(errors.UskKekUnwrapError):
            usk.unwrap_usk_with_kek(record, kek, user)


@pytest.mark.parametrize("t", cases("usk_wrap.json", "UskRecoveryWrap"), ids=ids)
def test_usk_recovery_wrap(t: dict[str, Any]) -> None:
    user, record = u(t["user_id"]), h(t["record"])
    secret = recovery_key.decode_recovery_key(t["recovery_key"])
    assert secret.hex() == t["recovery_secret"]
    if t["result"] == "valid":
        built = usk.wrap_usk_with_recovery_key_from_parts(
            h(t["usk"]), secret, user, nonce=h(t["nonce"])
        )
        assert built.hex() == t["record"]
        assert usk.unwrap_usk_with_recovery_key(record, secret, user).hex() == t["usk"]
    else:
        with pytest.raises(errors.UskRecoveryUnwrapError):
            usk.unwrap_usk_with_recovery_key(record, secret, user)


@pytest.mark.parametrize("t", cases("usk_wrap.json", "UskOrgWrap"), ids=ids)
def test_usk_org_wrap(t: dict[str, Any]) -> None:
    user, record = u(t["user_id"]), h(t["record"])
    org = pair(t, "org")
    if t["result"] == "valid":
        built = usk.wrap_usk_for_org_from_parts(
            h(t["usk"]), org.public_key, user, ikm_e=h(t["ikm_e"])
        )
        assert built.hex() == t["record"]
        assert usk.unwrap_usk_for_org(record, org.private_key, user).hex() == t["usk"]
    else:
        with pytest.raises(errors.UskOrgUnwrapError):
            usk.unwrap_usk_for_org(record, org.private_key, user)


# --- account keys -------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("private_key_seal.json", "SealedPrivateKey"), ids=ids)
def test_sealed_private_key(t: dict[str, Any]) -> None:
    user, the_usk, record = u(t["user_id"]), h(t["usk"]), h(t["record"])
    purpose = account.KeyPurpose(t["purpose"])
    kp = account.key_pair_from_seed(h(t["ikm"]))
    assert (kp.private_key.hex(), kp.public_key.hex(), kp.key_id.hex()) == (
        t["private_key"],
        t["public_key"],
        t["key_id"],
    )
    if t["result"] == "valid":
        built = account.seal_private_key_from_parts(kp, purpose, the_usk, user, nonce=h(t["nonce"]))
        assert built.hex() == t["record"]
        assert account.unseal_private_key(record, purpose, the_usk, user) == kp
    else:
        with pytest.raises(errors.PrivateKeyUnsealError):
            account.unseal_private_key(record, purpose, the_usk, user)


@pytest.mark.parametrize("t", cases("key_id.json", "KeyId"), ids=ids)
def test_key_id(t: dict[str, Any]) -> None:
    if t["result"] == "valid":
        kp = account.key_pair_from_seed(h(t["ikm"]))
        assert kp.private_key.hex() == t["private_key"]
        assert kp.public_key.hex() == t["public_key"]
        assert fingerprint.spki_der(kp.public_key).hex() == t["spki"]
        assert fingerprint.key_id(kp.public_key).hex() == t["key_id"] == kp.key_id.hex()
    else:
        with pytest.raises(errors.PublicKeyError):
            fingerprint.key_id(h(t["public_key"]))


@pytest.mark.parametrize("t", cases("key_id.json", "AccountFingerprint"), ids=ids)
def test_account_fingerprint(t: dict[str, Any]) -> None:
    digits = fingerprint.account_fingerprint(
        h(t["signing_public_key"]), h(t["encryption_public_key"])
    )
    assert digits == t["fingerprint"]
    assert len(digits) == 30 and digits.isdigit()


@pytest.mark.parametrize("t", cases("key_id.json", "SafetyNumber"), ids=ids)
def test_safety_number(t: dict[str, Any]) -> None:
    ours = (h(t["ours_signing_public_key"]), h(t["ours_encryption_public_key"]))
    theirs = (h(t["theirs_signing_public_key"]), h(t["theirs_encryption_public_key"]))
    assert fingerprint.safety_number(ours, theirs) == t["safety_number"]
    assert fingerprint.safety_number(theirs, ours) == t["safety_number"]


# --- case keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("case_key_wrap.json", "CaseKeyWrap"), ids=ids)
def test_case_key_wrap(t: dict[str, Any]) -> None:
    record = h(t["record"])
    recipient = pair(t, "recipient")
    wrapper = pair(t, "wrapper_signing")
    if t["result"] == "valid":
        built = case_key.wrap_legacy_case_key_from_parts(
            h(t["case_key"]),
            case_id=u(t["case_id"]),
            epoch=t["epoch"],
            recipient_public_key=recipient.public_key,
            wrapper_user_id=u(t["wrapper_user_id"]),
            wrapper_signing_key=wrapper,
            ikm_e=h(t["ikm_e"]),
        )
        assert built.hex() == t["record"]
    if t["header_parses"]:
        header = case_key.parse_case_key_wrap_header(record)
        if t["result"] == "valid":
            assert header == case_key.CaseKeyWrapHeader(
                case_id=u(t["case_id"]),
                epoch=t["epoch"],
                recipient_key_id=recipient.key_id,
                wrapper_user_id=u(t["wrapper_user_id"]),
                wrapper_key_id=wrapper.key_id,
            )
    else:
        with pytest.raises(errors.CaseKeyWrapHeaderError):
            case_key.parse_case_key_wrap_header(record)
    if t["signature_verifies"]:
        assert case_key.verify_case_key_wrap(record, wrapper.public_key) == (
            case_key.parse_case_key_wrap_header(record)
        )
    else:
        with pytest.raises(errors.CaseKeyWrapSignatureError):
            case_key.verify_case_key_wrap(record, wrapper.public_key)

    def open_it() -> bytes:
        return case_key.open_case_key_wrap(
            record,
            case_id=u(t["case_id"]),
            epoch=t["epoch"],
            recipient=recipient,
            wrapper_signing_public_key=wrapper.public_key,
        )

    if t["result"] == "valid":
        assert open_it().hex() == t["case_key"]
    else:
        with pytest.raises(errors.CaseKeyUnwrapError):
            open_it()


# --- envelope -----------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("envelope.json", "MessageEnvelope"), ids=ids)
def test_envelope(t: dict[str, Any]) -> None:
    record = h(t["record"])
    sender = pair(t, "sender_signing")
    expected_header = envelope.MessageHeader(
        case_id=u(t["case_id"]),
        epoch=t["epoch"],
        client_message_id=u(t["client_message_id"]),
        sender_user_id=u(t["sender_user_id"]),
        sender_key_id=sender.key_id,
        content_type=content.ContentType(t["content_type"]),
        timestamp_ms=t["timestamp_ms"],
        previous_hash=h(t["previous_hash"]),
    )
    if t["result"] == "valid":
        built = envelope.seal_legacy_message_from_parts(
            h(t["body"]),
            case_key=h(t["case_key"]),
            case_id=u(t["case_id"]),
            epoch=t["epoch"],
            client_message_id=u(t["client_message_id"]),
            sender_user_id=u(t["sender_user_id"]),
            sender_signing_key=sender,
            content_type=content.ContentType(t["content_type"]),
            timestamp_ms=t["timestamp_ms"],
            previous_hash=h(t["previous_hash"]),
            nonce=h(t["nonce"]),
        )
        assert built.hex() == t["record"]
        assert envelope.message_hash(record).hex() == t["message_hash"]
        assert envelope.parse_message_header(record) == expected_header
    if t["header_parses"]:
        envelope.parse_message_header(record)
    else:
        with pytest.raises(errors.MessageHeaderError):
            envelope.parse_message_header(record)

    if t["signature_verifies"]:
        assert envelope.verify_message_signature(record, sender.public_key) == (
            envelope.parse_message_header(record)
        )
    else:
        with pytest.raises(errors.MessageSignatureError):
            envelope.verify_message_signature(record, sender.public_key)

    def open_it() -> envelope.OpenedMessage:
        return envelope.open_message(
            record,
            case_key=h(t["case_key"]),
            case_id=u(t["case_id"]),
            epoch=t["epoch"],
            sender_signing_public_key=sender.public_key,
        )

    if t["result"] == "valid":
        opened = open_it()
        assert opened.header == expected_header
        assert opened.body.hex() == t["body"]
    else:
        with pytest.raises(errors.MessageOpenError):
            open_it()


@pytest.mark.parametrize("t", cases("envelope.json", "MessageEnvelopeMalleableSignature"), ids=ids)
def test_envelope_malleable_signature(t: dict[str, Any]) -> None:
    record = h(t["record"])
    opened = envelope.open_message(
        record,
        case_key=h(t["case_key"]),
        case_id=u(t["case_id"]),
        epoch=t["epoch"],
        sender_signing_public_key=pair(t, "sender_signing").public_key,
    )
    assert opened.body.hex() == t["body"]
    assert envelope.message_hash(record).hex() == t["message_hash"]


def test_envelope_vectors_form_a_hash_chain() -> None:
    valid = [t for t in cases("envelope.json", "MessageEnvelope") if t["result"] == "valid"]
    assert valid[0]["previous_hash"] == envelope.GENESIS_HASH.hex()
    for before, after in itertools.pairwise(valid):
        assert after["previous_hash"] == before["message_hash"]


# --- content ------------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("content.json", "ContentBody"), ids=ids)
def test_content(t: dict[str, Any]) -> None:
    ctype = content.ContentType(t["content_type"])
    body = h(t["body"])
    if t["result"] == "valid":
        assert content.decode_content(ctype, body) == t["decoded"]
        if "Canonical" in t["flags"]:
            fields = {k: v for k, v in t["decoded"].items() if k != "v"}
            assert content.encode_content(ctype, fields) == body
    else:
        with pytest.raises(errors.ContentError):
            content.decode_content(ctype, body)


# --- attachment ---------------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("attachment.json", "Attachment"), ids=ids)
def test_attachment(t: dict[str, Any]) -> None:
    key, record = h(t["file_key"]), h(t["record"])
    if t["result"] == "valid":
        built, digest = attachment.encrypt_attachment_from_parts(
            key, h(t["plaintext"]), salt=h(t["salt"])
        )
        assert built.hex() == t["record"]
        assert digest.hex() == t["sha256"]
        assert len(built) == t["size"] == attachment.attachment_length(len(h(t["plaintext"])))
        plain = attachment.decrypt_attachment(key, record, expected_sha256=h(t["sha256"]))
        assert plain.hex() == t["plaintext"]
    else:
        with pytest.raises(errors.AttachmentError):
            attachment.decrypt_attachment(key, record, expected_sha256=h(t["expected_sha256"]))


# --- records key file -----------------------------------------------------------------------


@pytest.mark.parametrize("t", cases("records_key_file.json", "RecordsKeyFile"), ids=ids)
def test_records_key_file(t: dict[str, Any]) -> None:
    record = h(t["record"])
    expected = pair(t, "records")
    if t["result"] == "valid":
        if "UnicodeNormalisation" not in t["flags"]:
            built = records_key.seal_records_key_file_from_parts(
                expected,
                t["passphrase"],
                salt=h(t["salt"]),
                nonce=h(t["nonce"]),
                iterations=t["iterations"],
            )
            assert built.hex() == t["record"]
        assert records_key.open_records_key_file(record, t["passphrase"]) == expected
    else:
        with pytest.raises(errors.RecordsKeyFileError):
            records_key.open_records_key_file(record, t["passphrase"])


# --- patient link and drop records -----------------------------------------------------------


@pytest.mark.parametrize("t", cases("patient_drop.json", "LinkFragment"), ids=ids)
def test_patient_link_fragment(t: dict[str, Any]) -> None:
    if t["result"] == "valid":
        token, key = h(t["token"]), h(t["public_key"])
        assert patient_drop.format_link_fragment(token, key) == t["text"]
        assert patient_drop.parse_link_fragment(t["text"]) == (token, key)
    else:
        with pytest.raises(errors.PatientLinkFormatError):
            patient_drop.parse_link_fragment(t["text"])


def _photo_from_decoded(d: dict[str, Any]) -> patient_drop.PatientPhoto:
    thumb = d.get("thumbnail")
    quality = d.get("quality")
    return patient_drop.PatientPhoto(
        attachment_id=u(d["attachment_id"]),
        file_key=base64.urlsafe_b64decode(d["file_key"] + "="),
        ciphertext_sha256=h(d["ciphertext_sha256"]),
        ciphertext_size=d["ciphertext_size"],
        media_type=d["media_type"],
        tag=d["tag"],
        body_site=d["body_site"],
        thumbnail=None
        if thumb is None
        else patient_drop.PatientThumbnail(
            attachment_id=u(thumb["attachment_id"]),
            file_key=base64.urlsafe_b64decode(thumb["file_key"] + "="),
            ciphertext_sha256=h(thumb["ciphertext_sha256"]),
            ciphertext_size=thumb["ciphertext_size"],
        ),
        quality_verdict=None if quality is None else quality["verdict"],
        quality_reasons=() if quality is None else tuple(quality["reasons"]),
        send_anyway_reason=d.get("send_anyway_reason"),
    )


@pytest.mark.parametrize("t", cases("patient_drop.json", "PatientDrop"), ids=ids)
def test_patient_drop(t: dict[str, Any]) -> None:
    record, box, link = h(t["record"]), pair(t, "drop_box"), u(t["link_id"])
    if t["header_parses"]:
        assert patient_drop.parse_patient_photo_header(record).link_id.bytes == record[3:19]
    else:
        with pytest.raises(errors.PatientDropError):
            patient_drop.parse_patient_photo_header(record)
    if t["result"] == "valid":
        assert json.loads(h(t["body"])) == t["decoded"]
        photo = _photo_from_decoded(t["decoded"])
        built = patient_drop.seal_patient_photo_from_parts(
            photo,
            link_id=link,
            index=t["index"],
            drop_box_public_key=box.public_key,
            ikm_e=h(t["ikm_e"]),
        )
        assert built.hex() == t["record"]
        assert patient_drop.open_patient_photo(record, link_id=link, drop_box=box) == (
            t["index"],
            photo,
        )
    else:
        with pytest.raises(errors.PatientDropError):
            patient_drop.open_patient_photo(record, link_id=link, drop_box=box)


@pytest.mark.parametrize("t", cases("patient_drop.json", "PatientLinkContent"), ids=ids)
def test_patient_link_content(t: dict[str, Any]) -> None:
    ctype = content.ContentType(t["content_type"])
    if t["result"] == "valid":
        assert content.decode_content(ctype, h(t["body"])) == t["decoded"]
        body = {k: v for k, v in t["decoded"].items() if k != "v"}
        assert content.encode_content(ctype, body).hex() == t["body"]
    else:
        with pytest.raises(errors.ContentError):
            content.decode_content(ctype, h(t["body"]))
