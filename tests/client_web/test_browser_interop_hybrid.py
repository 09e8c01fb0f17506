"""Cross-language proof for suite 2 (post-quantum hybrid, docs/protocol.md section 26).

Records the browser port writes (client_web/src/crypto/hybrid.ts) are opened by the Python
reference ``crypto/``, and the reverse, with fresh random keys and fresh X-Wing encapsulations
each run, in Node and in headless Chromium (the engines of ``test_browser_interop.py``). In
Chromium each direction runs on both X-Wing paths: the browser's own WebCrypto
``MLKEM768-X25519`` (what Chromium 156 takes) and ``@noble/post-quantum`` (what a browser
without it takes); Node 20 has only the library path.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from crypto import account, case_key, fingerprint, patient_drop, usk
from crypto.errors import CaseKeyUnwrapError
from tests.client_web import test_browser_interop
from tests.client_web.test_browser_interop import engine, ts, ts_error

__all__ = ["engine"]


@pytest.fixture(params=["auto", "library"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """The X-Wing path the port runs for this test (auto: what the runtime detects)."""
    taken = ts("xwing_path", path=request.param)["path"]
    try:
        yield taken
    finally:
        ts("xwing_path", path="auto")


def test_detected_path() -> None:
    """Chromium 156 (Debian) has WebCrypto MLKEM768-X25519; Node 20 has no ML-KEM."""
    current = test_browser_interop._engine
    assert current is not None
    detected = ts("xwing_path", path="auto")["path"]
    assert detected == ("webcrypto" if current.name == "chromium" else "library")


def _parties() -> tuple[account.AccountKeys, account.HybridKeyPair, uuid.UUID, uuid.UUID]:
    gp = account.generate_account_keys()
    return gp, account.generate_hybrid_key_pair(), uuid.uuid4(), uuid.uuid4()


def test_hybrid_keys_and_fingerprint_agree() -> None:
    gp, derm, _, _ = _parties()
    out = ts("hybrid_key_pair", seed=derm.seed.hex())
    assert out == {"public_key": derm.public_key.hex(), "key_id": derm.key_id.hex()}
    fp = ts(
        "hybrid_fingerprint",
        signing_public_key=gp.signing.public_key.hex(),
        encryption_public_key=gp.encryption.public_key.hex(),
        hybrid_public_key=derm.public_key.hex(),
    )["fingerprint"]
    assert fp == fingerprint.account_fingerprint(
        gp.signing.public_key, gp.encryption.public_key, derm.public_key
    )


def test_case_key_wrap_browser_to_python(path: str) -> None:
    gp, derm, case, gp_user = _parties()
    ck = os.urandom(32)
    out = ts(
        "wrap_case_key_hybrid",
        case_key=ck.hex(),
        case_id=str(case),
        epoch=4,
        recipient_public_key=derm.public_key.hex(),
        wrapper_user_id=str(gp_user),
        wrapper_signing_private_key=gp.signing.private_key.hex(),
    )
    assert out["path"] == path
    record = bytes.fromhex(out["record"])
    assert record[:3] == b"\x01\x02\x0b" and len(record) == 1335
    opened = case_key.open_case_key_wrap(
        record,
        case_id=case,
        epoch=4,
        recipient=derm,
        wrapper_signing_public_key=gp.signing.public_key,
        wrapper_user_id=gp_user,
    )
    assert opened == ck
    with pytest.raises(CaseKeyUnwrapError):
        case_key.open_case_key_wrap(
            record,
            case_id=case,
            epoch=4,
            recipient=account.generate_hybrid_key_pair(),
            wrapper_signing_public_key=gp.signing.public_key,
        )


def test_case_key_wrap_python_to_browser(path: str) -> None:
    gp, derm, case, gp_user = _parties()
    ck = os.urandom(32)
    record = case_key.wrap_case_key_hybrid(
        ck,
        case_id=case,
        epoch=1,
        recipient_public_key=derm.public_key,
        wrapper_user_id=gp_user,
        wrapper_signing_key=gp.signing,
    )
    args = {
        "case_id": str(case),
        "epoch": 1,
        "recipient_seed": derm.seed.hex(),
        "wrapper_signing_public_key": gp.signing.public_key.hex(),
        "wrapper_user_id": str(gp_user),
    }
    out = ts("open_hybrid_case_key_wrap", record=record.hex(), **args)
    assert out == {"case_key": ck.hex(), "path": path}
    # Either half of the X-Wing ciphertext altered (ML-KEM at 103, X25519 at 103 + 1088):
    # the signature no longer verifies; the browser refuses like Python.
    for offset in (103, 103 + 1088):
        bad = bytearray(record)
        bad[offset] ^= 1
        assert ts_error("open_hybrid_case_key_wrap", record=bytes(bad).hex(), **args) == (
            "CaseKeyUnwrapError"
        )


def test_usk_org_wrap_both_ways(path: str) -> None:
    user, the_usk, org = uuid.uuid4(), os.urandom(32), account.generate_hybrid_key_pair()
    out = ts(
        "wrap_usk_for_org_hybrid",
        usk=the_usk.hex(),
        org_public_key=org.public_key.hex(),
        user_id=str(user),
    )
    assert out["path"] == path
    assert usk.unwrap_usk_for_org_hybrid(bytes.fromhex(out["record"]), org.seed, user) == the_usk
    record = usk.wrap_usk_for_org_hybrid(the_usk, org.public_key, user)
    back = ts(
        "unwrap_usk_for_org_hybrid", record=record.hex(), org_seed=org.seed.hex(), user_id=str(user)
    )
    assert back == {"usk": the_usk.hex(), "path": path}


def test_patient_drop_both_ways(path: str) -> None:
    box, link = account.generate_hybrid_key_pair(), uuid.uuid4()
    photo = patient_drop.PatientPhoto(
        attachment_id=uuid.uuid4(),
        file_key=os.urandom(32),
        ciphertext_sha256=os.urandom(32),
        ciphertext_size=123_456,
        media_type="image/jpeg",
        tag="dermoscopic",
        body_site="Right cheek",
    )
    fields = {
        "attachment_id": str(photo.attachment_id),
        "file_key": photo.file_key.hex(),
        "ciphertext_sha256": photo.ciphertext_sha256.hex(),
        "ciphertext_size": photo.ciphertext_size,
        "media_type": photo.media_type,
        "tag": photo.tag,
        "body_site": photo.body_site,
    }
    out = ts(
        "seal_patient_photo_hybrid",
        link_id=str(link),
        index=3,
        drop_box_public_key=box.public_key.hex(),
        **fields,
    )
    assert out["path"] == path
    record = bytes.fromhex(out["record"])
    assert patient_drop.open_patient_photo(record, link_id=link, drop_box=box) == (3, photo)
    record = patient_drop.seal_patient_photo_hybrid(
        photo, link_id=link, index=2, drop_box_public_key=box.public_key
    )
    back = ts(
        "open_patient_photo_hybrid",
        record=record.hex(),
        link_id=str(link),
        drop_box_seed=box.seed.hex(),
    )
    assert back == {"index": 2, **fields, "path": path}
