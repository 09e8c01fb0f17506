"""The suite-2 (post-quantum hybrid) vectors, ``tests/vectors/dermline/hybrid.json``.

The file is written by ``tools/gen_vectors.py`` and compared with the generator by
``test_vectors.py``; here each case runs through the public functions of ``crypto/``.
Every X-Wing encapsulation in the file is EncapsulateDerand(pk, ``eseed``): the ML-KEM half
is rebuilt with ``kyber-py`` (independent of pyca, dev only), so valid records are
reproduced byte for byte; opening uses pyca alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from kyber_py.ml_kem import ML_KEM_768

from crypto import account, case_key, errors, fingerprint, patient_drop, records_key, suite, usk
from crypto.primitives import xwing
from tests.crypto.test_vectors import _photo_from_decoded, cases, h, ids, pair, u

FILE = "hybrid.json"


def hybrid(t: dict[str, Any], prefix: str) -> account.HybridKeyPair:
    kp = account.hybrid_key_pair_from_seed(h(t[f"{prefix}_seed"]))
    assert kp.public_key.hex() == t[f"{prefix}_public_key"]
    assert kp.key_id.hex() == t[f"{prefix}_key_id"]
    return kp


def encapsulation(public_key: bytes, eseed: bytes) -> xwing.Encapsulation:
    ss_m, ct_m = ML_KEM_768._encaps_internal(public_key[:1184], eseed[:32])
    return xwing.encapsulate_from_parts(
        public_key, ek_x=eseed[32:], mlkem_ciphertext=ct_m, mlkem_shared_secret=ss_m
    )


@pytest.mark.parametrize("t", cases(FILE, "HybridKeyId"), ids=ids)
def test_hybrid_key_id(t: dict[str, Any]) -> None:
    if t["result"] == "valid":
        pk = hybrid({"k_" + k: v for k, v in t.items()}, "k")
        assert fingerprint.hybrid_spki_der(pk.public_key).hex() == t["spki"]
        assert xwing.public_key_from_spki_der(h(t["spki"])) == pk.public_key
    else:
        with pytest.raises(errors.PublicKeyError):
            fingerprint.hybrid_key_id(h(t["public_key"]))


def test_hybrid_fingerprint_and_safety_number() -> None:
    (t,) = cases(FILE, "HybridFingerprint")
    keys = [h(t[k]) for k in ("signing_public_key", "encryption_public_key", "hybrid_public_key")]
    assert fingerprint.account_fingerprint(*keys) == t["fingerprint"]
    assert fingerprint.account_fingerprint(*keys[:2]) == t["classical_fingerprint"]
    (s,) = cases(FILE, "HybridSafetyNumber")
    ours = tuple(h(s[f"ours_{k}_public_key"]) for k in ("signing", "encryption", "hybrid"))
    theirs = tuple(h(s[f"theirs_{k}_public_key"]) for k in ("signing", "encryption", "hybrid"))
    assert fingerprint.safety_number(ours, theirs) == s["safety_number"]  # type: ignore[arg-type]
    assert fingerprint.safety_number(theirs, ours) == s["safety_number"]  # type: ignore[arg-type]


@pytest.mark.parametrize("t", cases(FILE, "SealedHybridPrivateKey"), ids=ids)
def test_sealed_hybrid_private_key(t: dict[str, Any]) -> None:
    key, user, the_usk, record = hybrid(t, "hybrid"), u(t["user_id"]), h(t["usk"]), h(t["record"])
    if t["result"] == "valid":
        built = account.seal_hybrid_private_key_from_parts(key, the_usk, user, nonce=h(t["nonce"]))
        assert built == record
        assert account.unseal_hybrid_private_key(record, the_usk, user) == key
    else:
        with pytest.raises(errors.PrivateKeyUnsealError):
            account.unseal_hybrid_private_key(record, the_usk, user)


@pytest.mark.parametrize("t", cases(FILE, "HybridCaseKeyWrap"), ids=ids)
def test_hybrid_case_key_wrap(t: dict[str, Any]) -> None:
    record, recipient = h(t["record"]), hybrid(t, "recipient")
    wrapper = pair(t, "wrapper_signing")
    if t["header_parses"]:
        header = case_key.parse_case_key_wrap_header(record)
        assert header.suite == 2
        assert header.case_id.bytes == record[3:19]
    else:
        with pytest.raises(errors.CaseKeyWrapHeaderError):
            case_key.parse_case_key_wrap_header(record)
    if t["signature_verifies"]:
        case_key.verify_case_key_wrap(record, wrapper.public_key)
    else:
        with pytest.raises(errors.CaseKeyWrapSignatureError):
            case_key.verify_case_key_wrap(record, wrapper.public_key)
    context = {
        "case_id": u(t["case_id"]),
        "epoch": t["epoch"],
        "wrapper_user_id": u(t["wrapper_user_id"]),
    }
    if t["result"] == "valid":
        built = case_key.wrap_case_key_hybrid_from_parts(
            h(t["case_key"]),
            encapsulation=encapsulation(recipient.public_key, h(t["eseed"])),
            recipient_public_key=recipient.public_key,
            wrapper_signing_key=wrapper,
            **context,
        )
        assert built == record
        assert record[71:103].hex() == t["commitment"]
        opened = case_key.open_case_key_wrap(
            record, recipient=recipient, wrapper_signing_public_key=wrapper.public_key, **context
        )
        assert opened.hex() == t["case_key"]
    else:
        with pytest.raises(errors.CaseKeyUnwrapError):
            case_key.open_case_key_wrap(
                record,
                recipient=recipient,
                wrapper_signing_public_key=wrapper.public_key,
                **context,
            )


@pytest.mark.parametrize("t", cases(FILE, "SuiteDowngrade"), ids=ids)
def test_suite_downgrade(t: dict[str, Any]) -> None:
    if t["result"] == "valid":
        suite.require_suite(h(t["record"]), hybrid_key_known=t["hybrid_key_known"])
    else:
        with pytest.raises(errors.SuiteDowngradeError):
            suite.require_suite(h(t["record"]), hybrid_key_known=t["hybrid_key_known"])


@pytest.mark.parametrize("t", cases(FILE, "HybridUskOrgWrap"), ids=ids)
def test_hybrid_usk_org_wrap(t: dict[str, Any]) -> None:
    org, user, record = hybrid(t, "org"), u(t["user_id"]), h(t["record"])
    if t["result"] == "valid":
        built = usk.wrap_usk_for_org_hybrid_from_parts(
            h(t["usk"]),
            org.public_key,
            user,
            encapsulation=encapsulation(org.public_key, h(t["eseed"])),
        )
        assert built == record
        assert usk.unwrap_usk_for_org_hybrid(record, org.seed, user).hex() == t["usk"]
    else:
        with pytest.raises(errors.UskOrgUnwrapError):
            usk.unwrap_usk_for_org_hybrid(record, org.seed, user)


@pytest.mark.parametrize("t", cases(FILE, "HybridPatientDrop"), ids=ids)
def test_hybrid_patient_drop(t: dict[str, Any]) -> None:
    record, box, link = h(t["record"]), hybrid(t, "drop_box"), u(t["link_id"])
    if t["header_parses"]:
        patient_drop.parse_patient_photo_header(record)
    else:
        with pytest.raises(errors.PatientDropError):
            patient_drop.parse_patient_photo_header(record)
    if t["result"] == "valid":
        photo = _photo_from_decoded(t["decoded"])
        built = patient_drop.seal_patient_photo_hybrid_from_parts(
            photo,
            link_id=link,
            index=t["index"],
            drop_box_public_key=box.public_key,
            encapsulation=encapsulation(box.public_key, h(t["eseed"])),
        )
        assert built == record
        assert record[1143:-16] != h(t["body"])  # encrypted
        opened = patient_drop.open_patient_photo(record, link_id=link, drop_box=box)
        assert opened == (t["index"], photo)
    else:
        with pytest.raises(errors.PatientDropError):
            patient_drop.open_patient_photo(record, link_id=link, drop_box=box)


@pytest.mark.parametrize("t", cases(FILE, "HybridRecordsKeyFile"), ids=ids)
def test_hybrid_records_key_file(t: dict[str, Any]) -> None:
    classical, key, record = pair(t, "records"), hybrid(t, "records_hybrid"), h(t["record"])
    if t["result"] == "valid":
        built = records_key.seal_hybrid_records_key_file_from_parts(
            classical,
            key,
            t["passphrase"],
            salt=h(t["salt"]),
            nonce=h(t["nonce"]),
            iterations=t["iterations"],
        )
        assert built == record
        opened = records_key.open_hybrid_records_key_file(record, t["passphrase"])
        assert opened == (classical, key)
    else:
        with pytest.raises(errors.RecordsKeyFileError):
            records_key.open_hybrid_records_key_file(record, t["passphrase"])
