"""Cross-language proof: records written by the browser port (client_web/src/crypto) are read
by the Python reference ``crypto/``, and records written by ``crypto/`` are read by the browser
port. Random inputs each run.

Every test runs twice, once per engine of ``client_web/dist-node/interop.mjs`` (interop/cli.ts):
``node`` (Node's WebCrypto, OpenSSL) and ``chromium`` (the port loaded into a page of headless
Debian Chromium, BoringSSL WebCrypto: what users run). Each engine is one long-lived process
per module, fed one JSON request per line.

``make test`` builds the port (``npm run build`` includes ``build:interop``) before pytest runs;
by hand: ``cd client_web && npm run build:interop``, then
``.venv/bin/pytest tests/client_web/test_browser_interop.py -q`` from the repository root.
The browser side signs with WebCrypto (random k, as in production), so its signatures are
checked by verification, not by comparing bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import os
import select
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from crypto import (
    account,
    attachment,
    case_key,
    content,
    envelope,
    fingerprint,
    invite,
    log_entry,
    merkle,
    password,
    records_key,
    recovery_key,
    statement,
    transcript,
    tree_head,
    usk,
)
from crypto import org_key as org_key_custody
from crypto.errors import (
    ContentError,
    InviteLinkFormatError,
    MemberStatementError,
    MessageOpenError,
    RecordsKeyChainError,
    UskPasskeyUnwrapError,
)
from crypto.primitives import chunked, ecc, hpke
from tests import samples

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "client_web" / "dist-node" / "interop.mjs"
PAGE = ROOT / "client_web" / "dist-node" / "interop-page.js"
# Generous: the first Chromium request waits for the browser to start.
REPLY_TIMEOUT_S = 120


class Engine:
    """One ``interop.mjs --serve`` process: a request per stdin line, a reply per stdout line."""

    def __init__(self, name: str) -> None:
        self.name = name
        # Closed in close(): the file lives as long as the engine.
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        args = ["node", str(CLI), "--serve", *(["--chromium"] if name == "chromium" else [])]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )

    def call(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        stdin.flush()
        ready, _w, _x = select.select([stdout], [], [], REPLY_TIMEOUT_S)
        line = stdout.readline() if ready else ""
        if not line:
            self._log.seek(0)
            detail = self._log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the {self.name} interop engine did not answer {op}: {detail}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._log.close()


_engine: Engine | None = None


@pytest.fixture(autouse=True, scope="module", params=["node", "chromium"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The port under test, in Node and in Chromium. No skip: a missing build is a failure."""
    global _engine
    assert shutil.which("node") is not None, "node is not installed"
    assert CLI.exists() and PAGE.exists(), "client_web/dist-node is missing: run `make web`"
    _engine = Engine(request.param)
    try:
        yield _engine
    finally:
        _engine.close()
        _engine = None


def _call(op: str, args: dict[str, Any]) -> dict[str, Any]:
    assert _engine is not None, "no interop engine"
    return _engine.call(op, args)


def ts(op: str, **args: Any) -> dict[str, Any]:
    """Run one operation in the TypeScript port; raise with the error class name on failure."""
    out = _call(op, args)
    if "error" in out:
        raise RuntimeError(out["error"])
    result: dict[str, Any] = out["ok"]
    return result


def ts_error(op: str, **args: Any) -> str:
    out = _call(op, args)
    assert "error" in out, "the TypeScript port accepted what it must refuse"
    name: str = out["error"]
    return name


def rnd(n: int) -> bytes:
    return os.urandom(n)


def test_login_keys_agree() -> None:
    salt = rnd(16)
    keys = password.derive_login_keys("correct horse ß é", salt, iterations=1000)
    out = ts("derive_login_keys", password="correct horse ß é", salt=salt.hex(), iterations=1000)
    assert out == {"auth_key": keys.auth_key.hex(), "kek": keys.kek.hex()}


def test_recovery_key_both_ways() -> None:
    secret = rnd(32)
    text = ts("encode_recovery_key", secret=secret.hex())["text"]
    assert text == recovery_key.encode_recovery_key(secret)
    assert recovery_key.decode_recovery_key(text) == secret
    py_text = recovery_key.encode_recovery_key(secret).lower().replace("-", " ")
    assert ts("decode_recovery_key", text=py_text)["secret"] == secret.hex()


def test_usk_wraps_both_ways() -> None:
    user = uuid.uuid4()
    the_usk, kek, secret = rnd(32), rnd(32), rnd(32)
    org = account.generate_key_pair()
    # Browser writes, Python reads.
    rec = bytes.fromhex(
        ts("wrap_usk_with_kek", usk=the_usk.hex(), kek=kek.hex(), user_id=str(user))["record"]
    )
    assert usk.unwrap_usk_with_kek(rec, kek, user) == the_usk
    rec = bytes.fromhex(
        ts(
            "wrap_usk_with_recovery_key",
            usk=the_usk.hex(),
            recovery_secret=secret.hex(),
            user_id=str(user),
        )["record"]
    )
    assert usk.unwrap_usk_with_recovery_key(rec, secret, user) == the_usk
    rec = bytes.fromhex(
        ts(
            "wrap_usk_for_org",
            usk=the_usk.hex(),
            org_public_key=org.public_key.hex(),
            user_id=str(user),
        )["record"]
    )
    assert usk.unwrap_usk_for_org(rec, org.private_key, user) == the_usk
    # Python writes, browser reads.
    rec = usk.wrap_usk_with_kek(the_usk, kek, user)
    assert (
        ts("unwrap_usk_with_kek", record=rec.hex(), kek=kek.hex(), user_id=str(user))["usk"]
        == the_usk.hex()
    )
    rec = usk.wrap_usk_with_recovery_key(the_usk, secret, user)
    out = ts(
        "unwrap_usk_with_recovery_key",
        record=rec.hex(),
        recovery_secret=secret.hex(),
        user_id=str(user),
    )
    assert out["usk"] == the_usk.hex()
    rec = usk.wrap_usk_for_org(the_usk, org.public_key, user)
    out = ts(
        "unwrap_usk_for_org",
        record=rec.hex(),
        org_private_key=org.private_key.hex(),
        user_id=str(user),
    )
    assert out["usk"] == the_usk.hex()
    # Another user id must not unwrap on either side.
    assert ts_error(
        "unwrap_usk_with_kek", record=rec.hex(), kek=kek.hex(), user_id=str(uuid.uuid4())
    ) == ("UskKekUnwrapError")


def test_passkey_wrap_both_ways() -> None:
    """Record 0x11 (docs/protocol.md section 25): the browser wraps under a PRF output,
    Python opens it, and the reverse; another credential id or user id fails on both sides."""
    user, the_usk, prf, cred = uuid.uuid4(), rnd(32), rnd(32), rnd(64)
    args = {"prf_output": prf.hex(), "user_id": str(user), "credential_id": cred.hex()}
    rec = bytes.fromhex(ts("wrap_usk_with_passkey", usk=the_usk.hex(), **args)["record"])
    assert usk.unwrap_usk_with_passkey(rec, prf, user, cred) == the_usk
    with pytest.raises(UskPasskeyUnwrapError):
        usk.unwrap_usk_with_passkey(rec, prf, user, cred[:-1])
    rec = usk.wrap_usk_with_passkey(the_usk, prf, user, cred)
    assert ts("unwrap_usk_with_passkey", record=rec.hex(), **args)["usk"] == the_usk.hex()
    other = {**args, "credential_id": rnd(16).hex()}
    assert ts_error("unwrap_usk_with_passkey", record=rec.hex(), **other) == "UskPasskeyUnwrapError"
    other = {**args, "user_id": str(uuid.uuid4())}
    assert ts_error("unwrap_usk_with_passkey", record=rec.hex(), **other) == "UskPasskeyUnwrapError"


@pytest.mark.parametrize("purpose", [account.KeyPurpose.ENCRYPTION, account.KeyPurpose.SIGNING])
def test_sealed_private_keys_both_ways(purpose: account.KeyPurpose) -> None:
    user, the_usk = uuid.uuid4(), rnd(32)
    pair = account.generate_key_pair()
    rec = bytes.fromhex(
        ts(
            "seal_private_key",
            private_key=pair.private_key.hex(),
            purpose=int(purpose),
            usk=the_usk.hex(),
            user_id=str(user),
        )["record"]
    )
    assert account.unseal_private_key(rec, purpose, the_usk, user) == pair
    rec = account.seal_private_key(pair, purpose, the_usk, user)
    out = ts(
        "unseal_private_key",
        record=rec.hex(),
        purpose=int(purpose),
        usk=the_usk.hex(),
        user_id=str(user),
    )
    assert out == {
        "private_key": pair.private_key.hex(),
        "public_key": pair.public_key.hex(),
        "key_id": pair.key_id.hex(),
    }


def test_fingerprints_agree() -> None:
    a, b, c, d = (account.generate_key_pair() for _ in range(4))
    assert (
        ts("key_id", public_key=a.public_key.hex())["key_id"]
        == fingerprint.key_id(a.public_key).hex()
    )
    out = ts(
        "safety_number",
        ours_signing_public_key=a.public_key.hex(),
        ours_encryption_public_key=b.public_key.hex(),
        theirs_signing_public_key=c.public_key.hex(),
        theirs_encryption_public_key=d.public_key.hex(),
    )
    expected = fingerprint.safety_number((a.public_key, b.public_key), (c.public_key, d.public_key))
    assert out["safety_number"] == expected


def test_case_key_wrap_both_ways() -> None:
    case_id, wrapper_user = uuid.uuid4(), uuid.uuid4()
    ck = case_key.generate_case_key()
    recipient = account.generate_key_pair()
    wrapper = account.generate_key_pair()
    rec = bytes.fromhex(
        ts(
            "wrap_case_key",
            case_key=ck.hex(),
            case_id=str(case_id),
            epoch=7,
            recipient_public_key=recipient.public_key.hex(),
            wrapper_user_id=str(wrapper_user),
            wrapper_signing_private_key=wrapper.private_key.hex(),
        )["record"]
    )
    header = case_key.verify_case_key_wrap(rec, wrapper.public_key)
    assert header.case_id == case_id and header.epoch == 7
    opened = case_key.open_case_key_wrap(
        rec,
        case_id=case_id,
        epoch=7,
        recipient=recipient,
        wrapper_signing_public_key=wrapper.public_key,
    )
    assert opened == ck
    rec = case_key.wrap_case_key(
        ck,
        case_id=case_id,
        epoch=7,
        recipient_public_key=recipient.public_key,
        wrapper_user_id=wrapper_user,
        wrapper_signing_key=wrapper,
    )
    out = ts(
        "open_case_key_wrap",
        record=rec.hex(),
        case_id=str(case_id),
        epoch=7,
        recipient_private_key=recipient.private_key.hex(),
        wrapper_signing_public_key=wrapper.public_key.hex(),
    )
    assert out["case_key"] == ck.hex()


def test_message_envelopes_both_ways() -> None:
    case_id, ck = uuid.uuid4(), rnd(32)
    gp, derm = account.generate_key_pair(), account.generate_key_pair()
    gp_user, derm_user = uuid.uuid4(), uuid.uuid4()
    body = content.encode_content(
        content.ContentType.TEXT, {"text": "Lesion on left forearm — 6 weeks"}
    )
    # Browser (GP) writes message 0; Python (dermatologist) opens it and replies with message 1.
    out = ts(
        "seal_message",
        body=body.hex(),
        case_key=ck.hex(),
        case_id=str(case_id),
        epoch=0,
        client_message_id=str(uuid.uuid4()),
        sender_user_id=str(gp_user),
        sender_signing_private_key=gp.private_key.hex(),
        content_type=1,
        previous_hash=envelope.GENESIS_HASH.hex(),
    )
    rec0 = bytes.fromhex(out["record"])
    assert out["message_hash"] == envelope.message_hash(rec0).hex()
    opened = envelope.open_message(
        rec0, case_key=ck, case_id=case_id, epoch=0, sender_signing_public_key=gp.public_key
    )
    assert content.decode_content(opened.header.content_type, opened.body) == {
        "text": "Lesion on left forearm — 6 weeks",
        "v": 1,
    }
    reply = content.encode_content(content.ContentType.QUESTION, {"text": "Any bleeding?"})
    rec1 = envelope.seal_message(
        reply,
        case_key=ck,
        case_id=case_id,
        epoch=0,
        client_message_id=uuid.uuid4(),
        sender_user_id=derm_user,
        sender_signing_key=derm,
        content_type=content.ContentType.QUESTION,
        previous_hash=envelope.message_hash(rec0),
    )
    out = ts(
        "open_message",
        record=rec1.hex(),
        case_key=ck.hex(),
        case_id=str(case_id),
        epoch=0,
        sender_signing_public_key=derm.public_key.hex(),
    )
    assert out["body"] == reply.hex() and out["content_type"] == 4
    decoded = ts("decode_content", content_type=4, body=out["body"])["decoded"]
    assert decoded == {"text": "Any bleeding?", "v": 1}
    # A flipped byte is refused by the browser port with its one opaque error.
    bad = bytearray(rec1)
    bad[130] ^= 1
    assert (
        ts_error(
            "open_message",
            record=bytes(bad).hex(),
            case_key=ck.hex(),
            case_id=str(case_id),
            epoch=0,
            sender_signing_public_key=derm.public_key.hex(),
        )
        == "MessageOpenError"
    )


def test_content_encoding_is_identical() -> None:
    # Text the two encoders could disagree on: non-ASCII names, quotes, control and line
    # separator characters, an emoji, an optional field.
    body = samples.history(
        patient={"name": "Zoë Ångström", "sex": "F"},
        duration="6 weeks",
        question='Is this a BCC? "urgent"\n\t\u2028',
        medicines="😀 none",
    )
    py = content.encode_content(content.ContentType.CLINICAL_HISTORY, body)
    out = ts("encode_content", content_type=2, decoded=body)
    assert out["body"] == py.hex()


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def test_photo_reference_with_thumbnail_both_ways() -> None:
    """A photo and its thumbnail, each its own attachment, named by ONE signed photo_reference:
    written by the browser port and opened by Python, then the reverse."""
    case_id, ck = uuid.uuid4(), rnd(32)
    sender, sender_user = account.generate_key_pair(), uuid.uuid4()
    photo, thumb = rnd(70_000), rnd(3_000)

    # Browser writes: both attachments, the reference body, the signed envelope.
    keys = {name: attachment.new_file_key() for name in ("photo", "thumb")}
    enc = {
        name: ts("encrypt_attachment", file_key=keys[name].hex(), plaintext=data.hex())
        for name, data in (("photo", photo), ("thumb", thumb))
    }
    ids = {"photo": str(uuid.uuid4()), "thumb": str(uuid.uuid4())}
    body: dict[str, Any] = {
        "attachment_id": ids["photo"],
        "file_key": _b64(keys["photo"]),
        "ciphertext_sha256": enc["photo"]["sha256"],
        "ciphertext_size": enc["photo"]["size"],
        "media_type": "image/jpeg",
        "tag": "dermoscopic",
        "body_site": "left forearm",
        "thumbnail": {
            "attachment_id": ids["thumb"],
            "file_key": _b64(keys["thumb"]),
            "ciphertext_sha256": enc["thumb"]["sha256"],
            "ciphertext_size": enc["thumb"]["size"],
        },
    }
    ts_body = ts("encode_content", content_type=3, decoded=body)["body"]
    assert ts_body == content.encode_content(content.ContentType.PHOTO_REFERENCE, body).hex()
    out = ts(
        "seal_message",
        body=ts_body,
        case_key=ck.hex(),
        case_id=str(case_id),
        epoch=0,
        client_message_id=str(uuid.uuid4()),
        sender_user_id=str(sender_user),
        sender_signing_private_key=sender.private_key.hex(),
        content_type=3,
        previous_hash=envelope.GENESIS_HASH.hex(),
    )
    opened = envelope.open_message(
        bytes.fromhex(out["record"]),
        case_key=ck,
        case_id=case_id,
        epoch=0,
        sender_signing_public_key=sender.public_key,
    )
    assert opened.header.content_type == content.ContentType.PHOTO_REFERENCE
    ref = content.decode_photo_reference(opened.body)
    assert ref.thumbnail is not None and str(ref.thumbnail.attachment_id) == ids["thumb"]
    assert (
        attachment.decrypt_attachment(
            ref.thumbnail.file_key,
            bytes.fromhex(enc["thumb"]["record"]),
            expected_sha256=ref.thumbnail.ciphertext_sha256,
        )
        == thumb
    )
    assert (
        attachment.decrypt_attachment(
            ref.file_key,
            bytes.fromhex(enc["photo"]["record"]),
            expected_sha256=ref.ciphertext_sha256,
        )
        == photo
    )

    # Python writes; the browser port opens the envelope, reads the thumbnail and decrypts it.
    t_key = attachment.new_file_key()
    t_rec, t_sha = attachment.encrypt_attachment(t_key, thumb)
    p_key = attachment.new_file_key()
    p_rec, p_sha = attachment.encrypt_attachment(p_key, photo)
    py_ref = content.PhotoReference(
        attachment_id=uuid.uuid4(),
        file_key=p_key,
        ciphertext_sha256=p_sha,
        ciphertext_size=len(p_rec),
        media_type="image/jpeg",
        tag="close_up",
        body_site="back",
        caption="ruler",
        thumbnail=content.PhotoThumbnail(
            attachment_id=uuid.uuid4(),
            file_key=t_key,
            ciphertext_sha256=t_sha,
            ciphertext_size=len(t_rec),
        ),
    )
    rec = envelope.seal_message(
        content.encode_photo_reference(py_ref),
        case_key=ck,
        case_id=case_id,
        epoch=0,
        client_message_id=uuid.uuid4(),
        sender_user_id=sender_user,
        sender_signing_key=sender,
        content_type=content.ContentType.PHOTO_REFERENCE,
        previous_hash=envelope.GENESIS_HASH,
    )
    out = ts(
        "open_message",
        record=rec.hex(),
        case_key=ck.hex(),
        case_id=str(case_id),
        epoch=0,
        sender_signing_public_key=sender.public_key.hex(),
    )
    decoded = ts("decode_content", content_type=3, body=out["body"])["decoded"]
    assert py_ref.thumbnail is not None
    assert decoded["thumbnail"] == {
        "attachment_id": str(py_ref.thumbnail.attachment_id),
        "file_key": _b64(t_key),
        "ciphertext_sha256": t_sha.hex(),
        "ciphertext_size": len(t_rec),
    }
    t = decoded["thumbnail"]
    plain = ts(
        "decrypt_attachment",
        file_key=base64.urlsafe_b64decode(t["file_key"] + "=").hex(),
        record=t_rec.hex(),
        expected_sha256=t["ciphertext_sha256"],
    )
    assert plain["plaintext"] == thumb.hex()
    # Both refuse a thumbnail that reuses the photo's attachment id.
    same = {**decoded, "thumbnail": {**t, "attachment_id": decoded["attachment_id"]}}
    raw = json.dumps(same).encode()
    assert ts_error("decode_content", content_type=3, body=raw.hex()) == "ContentError"
    with pytest.raises(ContentError):
        content.decode_content(content.ContentType.PHOTO_REFERENCE, raw)


def test_attachments_both_ways() -> None:
    key = attachment.new_file_key()
    photo = rnd(3 * 16384 + 123)
    out = ts("encrypt_attachment", file_key=key.hex(), plaintext=photo.hex())
    rec = bytes.fromhex(out["record"])
    assert len(rec) == out["size"] == attachment.attachment_length(len(photo))
    assert (
        attachment.decrypt_attachment(key, rec, expected_sha256=bytes.fromhex(out["sha256"]))
        == photo
    )
    rec, digest = attachment.encrypt_attachment(key, photo)
    out = ts(
        "decrypt_attachment", file_key=key.hex(), record=rec.hex(), expected_sha256=digest.hex()
    )
    assert out["plaintext"] == photo.hex()


def test_primitives_both_ways() -> None:
    sk, pk = ecc.p256_derive_keypair(rnd(32))
    info, aad, msg = b"info", b"aad", rnd(100)
    out = ts("hpke_seal", pk_r=pk.hex(), info=info.hex(), aad=aad.hex(), plaintext=msg.hex())
    assert hpke.open_base(sk, bytes.fromhex(out["enc"]), info, aad, bytes.fromhex(out["ct"])) == msg
    enc, ct = hpke.seal_base(pk, info, aad, msg, ikm_e=rnd(32))
    out = ts("hpke_open", sk_r=sk.hex(), enc=enc.hex(), info=info.hex(), aad=aad.hex(), ct=ct.hex())
    assert out["plaintext"] == msg.hex()
    sig = bytes.fromhex(ts("ecdsa_sign", sk=sk.hex(), message=msg.hex())["signature"])
    ecc.p256_verify(pk, msg, sig)
    py_sig = ecc.p256_sign(sk, msg)
    assert ts("ecdsa_verify", pk=pk.hex(), message=msg.hex(), signature=py_sig.hex()) == {
        "valid": True
    }
    key, ctx = rnd(32), b"ctx"
    ct = bytes.fromhex(
        ts("chunked_encrypt", key=key.hex(), context=ctx.hex(), plaintext=msg.hex())["ciphertext"]
    )
    assert chunked.decrypt(key, ctx, ct) == msg
    ct = chunked.encrypt(key, ctx, msg, salt=rnd(24))
    out = ts("chunked_decrypt", key=key.hex(), context=ctx.hex(), ciphertext=ct.hex())
    assert out["plaintext"] == msg.hex()


def test_records_key_file_both_ways() -> None:
    pair = records_key.generate_records_key()
    out = ts("seal_records_key_file", private_key=pair.private_key.hex(), passphrase="Ofﬁce säfe 1")
    assert records_key.open_records_key_file(bytes.fromhex(out["record"]), "Ofﬁce säfe 1") == pair
    rec = records_key.seal_records_key_file(pair, "Ofﬁce säfe 1")
    out = ts("open_records_key_file", record=rec.hex(), passphrase="Ofﬁce säfe 1")
    assert out["private_key"] == pair.private_key.hex()
    assert ts_error("open_records_key_file", record=rec.hex(), passphrase="wrong") == (
        "RecordsKeyFileError"
    )


def test_server_side_signature_check_accepts_browser_envelopes() -> None:
    ck, case_id, sender = rnd(32), uuid.uuid4(), account.generate_key_pair()
    out = ts(
        "seal_message",
        body=content.encode_content(content.ContentType.TEXT, {"text": "hi"}).hex(),
        case_key=ck.hex(),
        case_id=str(case_id),
        epoch=1,
        client_message_id=str(uuid.uuid4()),
        sender_user_id=str(uuid.uuid4()),
        sender_signing_private_key=sender.private_key.hex(),
        content_type=1,
        previous_hash=envelope.GENESIS_HASH.hex(),
    )
    envelope.verify_message_signature(bytes.fromhex(out["record"]), sender.public_key)


# --- the transparency log, signed statements, invites (docs/protocol.md sections 18-20) ---


def _plain(value: object) -> object:
    """A parsed Python field in the interop's JSON shape (hex bytes, UUID strings, ints)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _fields(obj: object, *, drop: tuple[str, ...] = ("record", "entry")) -> dict[str, object]:
    assert dataclasses.is_dataclass(obj) and not isinstance(obj, type)
    return {
        f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name not in drop
    }


def _hexes(values: list[bytes]) -> list[str]:
    return [v.hex() for v in values]


def test_merkle_proofs_and_tree_heads_from_python_verify_in_the_port() -> None:
    entries = [rnd(1 + i) for i in range(13)]
    leaves = [merkle.leaf_hash(e) for e in entries]
    tree = merkle.MerkleTree(leaves)
    assert [ts("merkle_leaf_hash", entry=e.hex())["leaf_hash"] for e in entries] == _hexes(leaves)
    for size in (0, 1, 5, 8, 13):
        assert ts("merkle_root", leaf_hashes=_hexes(leaves[:size]))["root"] == tree.root(size).hex()
    for index in (0, 6, 12):
        proof = tree.inclusion_proof(index)
        good = {
            "leaf_hash": leaves[index].hex(),
            "index": index,
            "tree_size": 13,
            "proof": _hexes(proof),
            "root": tree.root().hex(),
        }
        assert ts("verify_inclusion", **good) == {"valid": True}
        bad = {**good, "index": (index + 1) % 13}
        assert ts_error("verify_inclusion", **bad) == "InclusionProofError"
    for old in (0, 1, 4, 5, 12, 13):
        proof = tree.consistency_proof(old)
        args = {
            "old_size": old,
            "new_size": 13,
            "old_root": tree.root(old).hex(),
            "new_root": tree.root().hex(),
            "proof": _hexes(proof),
        }
        assert ts("verify_consistency", **args) == {"valid": True}
        if proof:
            wrong = {**args, "proof": _hexes([*proof[:-1], rnd(32)])}
            assert ts_error("verify_consistency", **wrong) == "ConsistencyProofError"

    log_key, other_key = account.generate_key_pair(), account.generate_key_pair()
    old = tree_head.sign_tree_head(
        tree_size=5, timestamp_ms=1_790_000_000_000, root_hash=tree.root(5), log_key=log_key
    )
    new = tree_head.sign_tree_head(
        tree_size=13, timestamp_ms=1_790_000_001_000, root_hash=tree.root(), log_key=log_key
    )
    assert ts("verify_tree_head", record=new.hex(), log_public_key=log_key.public_key.hex()) == {
        "tree_size": 13,
        "timestamp_ms": 1_790_000_001_000,
        "root_hash": tree.root().hex(),
        "log_key_id": log_key.key_id.hex(),
    }
    assert (
        ts_error("verify_tree_head", record=new.hex(), log_public_key=other_key.public_key.hex())
        == "TreeHeadSignatureError"
    )
    extends = {
        "old_head": old.hex(),
        "new_head": new.hex(),
        "proof": _hexes(tree.consistency_proof(5)),
    }
    assert ts("verify_tree_head_extends", **extends) == {"valid": True}
    # A rewritten log: the same sizes, entry 2 replaced, signed by the same key.
    forged_leaves = list(leaves)
    forged_leaves[2] = merkle.leaf_hash(b"rewritten")
    forged = merkle.MerkleTree(forged_leaves)
    forged_new = tree_head.sign_tree_head(
        tree_size=13, timestamp_ms=1_790_000_001_000, root_hash=forged.root(), log_key=log_key
    )
    rewritten = {
        **extends,
        "new_head": forged_new.hex(),
        "proof": _hexes(forged.consistency_proof(5)),
    }
    assert ts_error("verify_tree_head_extends", **rewritten) == "ConsistencyProofError"
    assert ts(
        "verify_entry_included",
        entry=entries[7].hex(),
        index=7,
        tree_head=new.hex(),
        proof=_hexes(tree.inclusion_proof(7)),
    ) == {"valid": True}
    assert (
        ts_error(
            "verify_entry_included",
            entry=entries[8].hex(),
            index=7,
            tree_head=new.hex(),
            proof=_hexes(tree.inclusion_proof(7)),
        )
        == "InclusionProofError"
    )


def _directory() -> dict[str, Any]:
    """A practice made by Python: org key, a GP through an invite, three admins, records key."""
    org_id, org_key = uuid.uuid4(), account.generate_key_pair()
    org_statement = statement.make_organisation_key_statement(
        org_id=org_id,
        org_kind=statement.OrganisationKind.PRACTICE,
        name="Riverside Médical Practice",
        org_key=org_key,
        issued_at_ms=1_790_000_000_000,
    )
    secret, token = invite.generate_invite_secret(), base64.urlsafe_b64encode(rnd(32))
    token_text = token.rstrip(b"=").decode()
    invite_key = invite.derive_invite_key(secret)
    invite_statement = statement.make_invite_statement(
        org_id=org_id,
        role=statement.Role.GP,
        invite_public_key=invite_key.public_key,
        expires_at_ms=1_790_600_000_000,
        token_hash=statement.invite_token_hash(token_text),
        org_key=org_key,
        issued_at_ms=1_790_000_000_001,
    )
    gp_user, gp_sig, gp_enc = uuid.uuid4(), account.generate_key_pair(), account.generate_key_pair()
    gp_member = statement.make_member_statement(
        user_id=gp_user,
        org_id=org_id,
        role=statement.Role.GP,
        signing_public_key=gp_sig.public_key,
        encryption_public_key=gp_enc.public_key,
        invite_statement_hash=statement.statement_hash(invite_statement),
        signer=invite_key,
        issued_at_ms=1_790_000_000_002,
    )
    admins = []
    for _ in range(3):
        user, sig = uuid.uuid4(), account.generate_key_pair()
        member = statement.make_member_statement(
            user_id=user,
            org_id=org_id,
            role=statement.Role.ADMIN,
            signing_public_key=sig.public_key,
            encryption_public_key=account.generate_key_pair().public_key,
            invite_statement_hash=None,
            signer=org_key,
            issued_at_ms=1_790_000_000_003,
        )
        admins.append((user, sig, member))
    return {
        "org_id": org_id,
        "org_key": org_key,
        "org_statement": org_statement,
        "secret": secret,
        "token": token_text,
        "invite_key": invite_key,
        "invite_statement": invite_statement,
        "gp": (gp_user, gp_sig, gp_enc),
        "gp_member": gp_member,
        "admins": admins,
    }


def test_statements_made_by_python_verify_in_the_port() -> None:
    d = _directory()
    org_id, org_pk = str(d["org_id"]), d["org_key"].public_key.hex()
    for record in (d["org_statement"], d["invite_statement"], d["gp_member"]):
        assert ts("parse_statement", record=record.hex()) == _fields(
            statement.parse_statement(record)
        )
    out = ts("verify_organisation_key_statement", record=d["org_statement"].hex(), org_id=org_id)
    assert out["name"] == "Riverside Médical Practice" and out["org_public_key"] == org_pk
    out = ts(
        "verify_member_statement",
        record=d["gp_member"].hex(),
        org_id=org_id,
        org_public_key=org_pk,
        invite_statement=d["invite_statement"].hex(),
    )
    assert out["user_id"] == str(d["gp"][0]) and out["role"] == 1
    # The port refuses the member statement without its invite, or under another org key.
    assert (
        ts_error(
            "verify_member_statement",
            record=d["gp_member"].hex(),
            org_id=org_id,
            org_public_key=org_pk,
            invite_statement=None,
        )
        == "MemberStatementError"
    )
    assert (
        ts_error(
            "verify_member_statement",
            record=d["gp_member"].hex(),
            org_id=org_id,
            org_public_key=account.generate_key_pair().public_key.hex(),
            invite_statement=d["invite_statement"].hex(),
        )
        == "MemberStatementError"
    )
    # Log entries written by the server (Python) parse in the port.
    entry = log_entry.encode_statement_entry(d["gp_member"], appended_at_ms=1_790_000_000_100)
    assert ts("parse_log_entry", entry=entry.hex()) == {
        "entry_type": 1,
        "appended_at_ms": 1_790_000_000_100,
        "statement": d["gp_member"].hex(),
    }
    removal = log_entry.encode_removal_entry(
        user_id=d["gp"][0],
        org_id=d["org_id"],
        reason=log_entry.RemovalReason.ROLE_REMOVED,
        role=statement.Role.GP,
        appended_at_ms=1_790_000_000_200,
    )
    assert ts("parse_log_entry", entry=removal.hex()) == {
        "entry_type": 3,
        "appended_at_ms": 1_790_000_000_200,
        "user_id": str(d["gp"][0]),
        "org_id": org_id,
        "reason": 3,
        "role": 1,
    }


def test_statements_made_by_the_port_verify_in_python() -> None:
    d = _directory()
    org_id, org_key = d["org_id"], d["org_key"]
    # The port derives the same invite key from the secret, and the same token hash.
    assert ts("derive_invite_key", secret=d["secret"].hex())["public_key"] == (
        d["invite_key"].public_key.hex()
    )
    assert ts("invite_token_hash", token=d["token"])["token_hash"] == (
        statement.invite_token_hash(d["token"]).hex()
    )
    rec = bytes.fromhex(
        ts(
            "make_organisation_key_statement",
            org_id=str(org_id),
            org_kind=2,
            name="Cafe\u0301 Dermatology",
            org_private_key=org_key.private_key.hex(),
            issued_at_ms=1_790_000_000_000,
        )["record"]
    )
    org = statement.verify_organisation_key_statement(rec, org_id=org_id)
    assert org.name == "Café Dermatology" and org.org_kind is statement.OrganisationKind.SERVICE
    # An admin's browser invites a dermatologist; the invitee's browser signs its member
    # statement with the invite key from the link's secret.
    secret = invite.generate_invite_secret()
    invite_pk = invite.derive_invite_key(secret).public_key
    invite_rec = bytes.fromhex(
        ts(
            "make_invite_statement",
            org_id=str(org_id),
            role=2,
            invite_public_key=invite_pk.hex(),
            expires_at_ms=1_790_600_000_000,
            token_hash=statement.invite_token_hash(d["token"]).hex(),
            org_private_key=org_key.private_key.hex(),
            issued_at_ms=1_790_000_000_001,
        )["record"]
    )
    derm_user, derm_sig, derm_enc = (
        uuid.uuid4(),
        account.generate_key_pair(),
        account.generate_key_pair(),
    )
    invite_sk = ts("derive_invite_key", secret=secret.hex())["private_key"]
    member_rec = bytes.fromhex(
        ts(
            "make_member_statement",
            user_id=str(derm_user),
            org_id=str(org_id),
            role=2,
            signing_public_key=derm_sig.public_key.hex(),
            encryption_public_key=derm_enc.public_key.hex(),
            invite_statement_hash=statement.statement_hash(invite_rec).hex(),
            signer_private_key=invite_sk,
            issued_at_ms=1_790_000_000_002,
        )["record"]
    )
    member = statement.verify_member_statement(
        member_rec, org_id=org_id, org_public_key=org_key.public_key, invite_statement=invite_rec
    )
    assert member.user_id == derm_user and member.role is statement.Role.DERMATOLOGIST
    assert member.invite_statement_hash == statement.statement_hash(invite_rec)
    with pytest.raises(MemberStatementError):
        statement.verify_member_statement(
            member_rec,
            org_id=org_id,
            org_public_key=org_key.public_key,
            invite_statement=d["invite_statement"],
        )


def test_records_key_chain_made_by_both() -> None:
    """Sequence 0 by Python, a rollover by the port, a two-person change by Python approved
    by two administrators in the port; each side verifies the whole chain."""
    d = _directory()
    org_id, org_key = d["org_id"], d["org_key"]
    records = [records_key.generate_records_key() for _ in range(3)]
    rsk = [records_key.derive_records_signing_key(r.private_key) for r in records]
    assert [
        ts("derive_records_signing_key", records_private_key=r.private_key.hex())["public_key"]
        for r in records
    ] == [k.public_key.hex() for k in rsk]
    s0 = statement.make_records_key_statement(
        org_id=org_id,
        sequence=0,
        records_public_key=records[0].public_key,
        records_signing_public_key=rsk[0].public_key,
        previous_records_key_id=None,
        signer=org_key,
        issued_at_ms=1_790_000_000_000,
    )
    s1 = bytes.fromhex(
        ts(
            "make_records_key_statement",
            org_id=str(org_id),
            sequence=1,
            records_public_key=records[1].public_key.hex(),
            records_signing_public_key=rsk[1].public_key.hex(),
            previous_records_key_id=records[0].key_id.hex(),
            signer_private_key=rsk[0].private_key.hex(),
            issued_at_ms=1_790_000_000_001,
        )["record"]
    )
    s2 = statement.make_records_key_statement(
        org_id=org_id,
        sequence=2,
        records_public_key=records[2].public_key,
        records_signing_public_key=rsk[2].public_key,
        previous_records_key_id=records[1].key_id,
        signer=org_key,
        issued_at_ms=1_790_000_000_002,
    )
    approvals = [
        bytes.fromhex(
            ts(
                "make_approval_statement",
                approved_statement_hash=statement.statement_hash(s2).hex(),
                approver_user_id=str(user),
                approver_signing_private_key=sig.private_key.hex(),
                issued_at_ms=1_790_000_000_003,
            )["record"]
        )
        for user, sig, _member in d["admins"][:2]
    ]
    admins = [statement.CertifiedMember(m) for _u, _s, m in d["admins"]]
    changes = [
        statement.RecordsKeyChange(s0),
        statement.RecordsKeyChange(s1),
        statement.RecordsKeyChange(s2, tuple(approvals)),
    ]
    newest = statement.verify_records_key_chain(
        changes, org_id=org_id, org_public_key=org_key.public_key, admins=admins
    )
    assert newest.sequence == 2 and newest.records_public_key == records[2].public_key
    chain_args: dict[str, Any] = {
        "changes": [
            {"statement": c.statement.hex(), "approvals": _hexes(list(c.approvals))}
            for c in changes
        ],
        "org_id": str(org_id),
        "org_public_key": org_key.public_key.hex(),
        "admins": [{"statement": a.statement.hex(), "invite_statement": None} for a in admins],
        "pin": {"sequence": 1, "records_public_key": records[1].public_key.hex()},
    }
    assert ts("verify_records_key_chain", **chain_args) == _fields(newest)
    # One approval is not two persons; a pin the chain does not hold is refused.
    one = {**chain_args, "changes": [*chain_args["changes"][:2], {**chain_args["changes"][2]}]}
    one["changes"][2]["approvals"] = one["changes"][2]["approvals"][:1]
    assert ts_error("verify_records_key_chain", **one) == "RecordsKeyChainError"
    with pytest.raises(RecordsKeyChainError):
        statement.verify_records_key_chain(
            [*changes[:2], statement.RecordsKeyChange(s2, tuple(approvals[:1]))],
            org_id=org_id,
            org_public_key=org_key.public_key,
            admins=admins,
        )
    repinned = {
        **chain_args,
        "pin": {"sequence": 1, "records_public_key": records[2].public_key.hex()},
    }
    assert ts_error("verify_records_key_chain", **repinned) == "RecordsKeyChainError"


def test_invite_fragments_both_ways() -> None:
    token = base64.urlsafe_b64encode(rnd(32)).rstrip(b"=").decode()
    secret, kid = rnd(32), rnd(16)
    text = invite.format_invite_fragment(token, secret, kid)
    assert ts("format_invite_fragment", token=token, secret=secret.hex(), org_key_id=kid.hex()) == {
        "text": text
    }
    assert ts("parse_invite_fragment", text=text) == {
        "token": token,
        "secret": secret.hex(),
        "org_key_id": kid.hex(),
        "certified": True,
    }
    assert ts("parse_invite_fragment", text=token)["certified"] is False
    parsed = invite.parse_invite_fragment(ts("format_invite_fragment", token=token)["text"])
    assert parsed.secret is None and parsed.token == token
    for bad in (text + ".", text[:-1], token[:-1] + "B", f"{token}.{text.split('.')[1]}"):
        assert ts_error("parse_invite_fragment", text=bad) == "InviteLinkFormatError"
        with pytest.raises(InviteLinkFormatError):
            invite.parse_invite_fragment(bad)


def test_org_key_wraps_and_handovers_both_ways() -> None:
    org_id, org_key = uuid.uuid4(), account.generate_key_pair()
    admin, wrapper, wrapper_user = (
        account.generate_key_pair(),
        account.generate_key_pair(),
        uuid.uuid4(),
    )
    # The port wraps the organisation key to an administrator; Python opens it.
    rec = bytes.fromhex(
        ts(
            "wrap_org_key",
            org_private_key=org_key.private_key.hex(),
            org_id=str(org_id),
            recipient_public_key=admin.public_key.hex(),
            wrapper_user_id=str(wrapper_user),
            wrapper_signing_private_key=wrapper.private_key.hex(),
        )["record"]
    )
    opened = org_key_custody.open_org_key_wrap(
        rec,
        org_id=org_id,
        org_key_id=org_key.key_id,
        recipient=admin,
        wrapper_signing_public_key=wrapper.public_key,
        wrapper_user_id=wrapper_user,
    )
    assert opened == org_key
    header = org_key_custody.parse_org_key_wrap_header(rec)
    assert ts("parse_org_key_wrap_header", record=rec.hex()) == _fields(header)
    # Python wraps; the port opens, and refuses it for another administrator.
    rec = org_key_custody.wrap_org_key(
        org_key,
        org_id=org_id,
        recipient_public_key=admin.public_key,
        wrapper_user_id=wrapper_user,
        wrapper_signing_key=wrapper,
    )
    args = {
        "record": rec.hex(),
        "org_id": str(org_id),
        "org_key_id": org_key.key_id.hex(),
        "recipient_private_key": admin.private_key.hex(),
        "wrapper_signing_public_key": wrapper.public_key.hex(),
        "wrapper_user_id": str(wrapper_user),
    }
    assert ts("open_org_key_wrap", **args)["private_key"] == org_key.private_key.hex()
    other = {**args, "recipient_private_key": account.generate_key_pair().private_key.hex()}
    assert ts_error("open_org_key_wrap", **other) == "OrgKeyUnwrapError"
    # The handover in an administrator's invite, both ways.
    secret = invite.generate_invite_secret()
    rec = bytes.fromhex(
        ts(
            "seal_org_key_handover",
            org_private_key=org_key.private_key.hex(),
            org_id=str(org_id),
            invite_secret=secret.hex(),
        )["record"]
    )
    assert (
        org_key_custody.open_org_key_handover(
            rec, org_id=org_id, invite_secret=secret, org_key_id=org_key.key_id
        )
        == org_key
    )
    rec = org_key_custody.seal_org_key_handover(org_key, org_id=org_id, invite_secret=secret)
    handover = {
        "record": rec.hex(),
        "org_id": str(org_id),
        "invite_secret": secret.hex(),
        "org_key_id": org_key.key_id.hex(),
    }
    assert ts("open_org_key_handover", **handover)["public_key"] == org_key.public_key.hex()
    wrong = {**handover, "invite_secret": invite.generate_invite_secret().hex()}
    assert ts_error("open_org_key_handover", **wrong) == "OrgKeyHandoverError"


@pytest.mark.parametrize("size", [0, 255, 256, 1000])
def test_committed_padded_envelopes_both_ways(size: int) -> None:
    case_id, ck, other_ck = uuid.uuid4(), rnd(32), rnd(32)
    sender, sender_user = account.generate_key_pair(), uuid.uuid4()
    body = rnd(size)
    commitment = case_key.case_key_commitment(ck, case_id=case_id, epoch=2)
    common = {
        "case_id": str(case_id),
        "epoch": 2,
        "client_message_id": str(uuid.uuid4()),
        "sender_user_id": str(sender_user),
        "content_type": 1,
        "previous_hash": envelope.GENESIS_HASH.hex(),
    }
    out = ts(
        "seal_message",
        body=body.hex(),
        case_key=ck.hex(),
        sender_signing_private_key=sender.private_key.hex(),
        **common,
    )
    rec = bytes.fromhex(out["record"])
    assert rec[2] == 0x0E and (len(rec) - 160 - 16 - 64) % 256 == 0
    opened = envelope.open_message(
        rec,
        case_key=ck,
        case_id=case_id,
        epoch=2,
        sender_signing_public_key=sender.public_key,
        sender_user_id=sender_user,
    )
    assert opened.body == body and opened.header.commitment == commitment
    with pytest.raises(MessageOpenError):
        envelope.open_message(
            rec,
            case_key=other_ck,
            case_id=case_id,
            epoch=2,
            sender_signing_public_key=sender.public_key,
        )
    rec = envelope.seal_message(
        body,
        case_key=ck,
        case_id=case_id,
        epoch=2,
        client_message_id=uuid.uuid4(),
        sender_user_id=sender_user,
        sender_signing_key=sender,
        content_type=content.ContentType.TEXT,
        previous_hash=envelope.message_hash(rec),
    )
    args = {
        "record": rec.hex(),
        "case_key": ck.hex(),
        "case_id": str(case_id),
        "epoch": 2,
        "sender_signing_public_key": sender.public_key.hex(),
        "sender_user_id": str(sender_user),
    }
    out = ts("open_message", **args)
    assert out["body"] == body.hex() and out["commitment"] == commitment.hex()
    assert ts("parse_message_header", record=rec.hex())["commitment"] == commitment.hex()
    assert ts_error("open_message", **{**args, "case_key": other_ck.hex()}) == "MessageOpenError"
    assert ts_error("open_message", **{**args, "sender_user_id": str(uuid.uuid4())}) == (
        "MessageOpenError"
    )


def test_legacy_envelopes_still_open_both_ways() -> None:
    case_id, ck, sender = uuid.uuid4(), rnd(32), account.generate_key_pair()
    body = content.encode_content(content.ContentType.TEXT, {"text": "old app"})
    out = ts(
        "seal_message",
        legacy=True,
        body=body.hex(),
        case_key=ck.hex(),
        case_id=str(case_id),
        epoch=0,
        client_message_id=str(uuid.uuid4()),
        sender_user_id=str(uuid.uuid4()),
        sender_signing_private_key=sender.private_key.hex(),
        content_type=1,
        previous_hash=envelope.GENESIS_HASH.hex(),
    )
    rec = bytes.fromhex(out["record"])
    assert rec[2] == 0x07
    opened = envelope.open_message(
        rec, case_key=ck, case_id=case_id, epoch=0, sender_signing_public_key=sender.public_key
    )
    assert opened.body == body and opened.header.commitment is None
    rec = envelope.seal_legacy_message_from_parts(
        body,
        case_key=ck,
        case_id=case_id,
        epoch=0,
        client_message_id=uuid.uuid4(),
        sender_user_id=uuid.uuid4(),
        sender_signing_key=sender,
        content_type=content.ContentType.TEXT,
        timestamp_ms=1_790_000_000_000,
        previous_hash=envelope.message_hash(rec),
        nonce=rnd(12),
    )
    out = ts(
        "open_message",
        record=rec.hex(),
        case_key=ck.hex(),
        case_id=str(case_id),
        epoch=0,
        sender_signing_public_key=sender.public_key.hex(),
    )
    assert out["body"] == body.hex() and out["commitment"] is None


def test_transcripts_agree_on_threads_made_by_both() -> None:
    """A thread written alternately by the port and by Python; both readers draw the same
    conclusions from it and from its dropped, reordered and replayed versions."""
    case_id, ck = uuid.uuid4(), rnd(32)
    gp, derm = account.generate_key_pair(), account.generate_key_pair()
    gp_user, derm_user = uuid.uuid4(), uuid.uuid4()
    thread: list[bytes] = []
    previous = envelope.GENESIS_HASH
    for i in range(6):
        body = content.encode_content(content.ContentType.TEXT, {"text": f"message {i}"})
        if i % 2 == 0:
            rec = bytes.fromhex(
                ts(
                    "seal_message",
                    body=body.hex(),
                    case_key=ck.hex(),
                    case_id=str(case_id),
                    epoch=0,
                    client_message_id=str(uuid.uuid4()),
                    sender_user_id=str(gp_user),
                    sender_signing_private_key=gp.private_key.hex(),
                    content_type=1,
                    previous_hash=previous.hex(),
                )["record"]
            )
        else:
            rec = envelope.seal_message(
                body,
                case_key=ck,
                case_id=case_id,
                epoch=0,
                client_message_id=uuid.uuid4(),
                sender_user_id=derm_user,
                sender_signing_key=derm,
                content_type=content.ContentType.TEXT,
                previous_hash=previous,
            )
        thread.append(rec)
        previous = envelope.message_hash(rec)
    views = {
        "as sent": thread,
        "dropped": [thread[0], thread[1], thread[3], thread[4], thread[5]],
        "reordered": [thread[0], thread[2], thread[1], *thread[3:]],
        "replayed": [*thread[:3], thread[1], *thread[3:]],
        "first withheld": thread[1:],
        "fork": [*thread[:2], thread[3]],
    }
    for name, view in views.items():
        expected = [
            [str(f) for f in found]
            for found in transcript.check_transcript(
                [transcript.entry_from_record(i + 1, r) for i, r in enumerate(view)]
            )
        ]
        got = ts("check_transcript", records=_hexes(view))["findings"]
        assert got == expected, name
        assert (name == "as sent") == all(not f for f in got), name
