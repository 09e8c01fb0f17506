"""A GP and a dermatologist exchange a case key, messages and a photo through a fake server.

The server only stores and returns bytes. Where the real server reads clear headers (to
route messages and to refuse a case not wrapped to the records key) this one does the same
through the public parse functions, and nothing else. At the end a records officer opens the
whole case with the practice records key alone, and the stored bytes are checked to contain
no plaintext.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import pytest

from crypto import account, attachment, case_key, content, envelope, password, usk
from crypto.content import ContentType, PhotoReference
from crypto.errors import MessageOpenError
from crypto.fingerprint import key_id
from tests import samples

ITERATIONS = 1000  # the real 600,000 is tested in test_password.py


class ChainBrokenError(Exception):
    """The previous-message hashes do not link the thread as stored."""


@dataclass
class FakeServer:
    """Stores bytes. Knows public keys (a directory), never a private one."""

    kdf: dict[str, bytes] = field(default_factory=dict)
    vault: dict[uuid.UUID, dict[str, bytes]] = field(default_factory=dict)
    directory: dict[uuid.UUID, tuple[bytes, bytes]] = field(default_factory=dict)
    records_key: bytes = b""
    wraps: dict[tuple[uuid.UUID, int, bytes], bytes] = field(default_factory=dict)
    messages: dict[uuid.UUID, list[bytes]] = field(default_factory=dict)
    seen_message_ids: set[uuid.UUID] = field(default_factory=set)
    blobs: dict[uuid.UUID, bytes] = field(default_factory=dict)

    def store_case_wraps(self, records: list[bytes]) -> None:
        headers = [case_key.parse_case_key_wrap_header(r) for r in records]
        # The rule the server enforces without any key: every epoch is wrapped to the
        # practice records key, so records are never lost.
        if not any(h.recipient_key_id == key_id(self.records_key) for h in headers):
            raise PermissionError("case is not wrapped to the records key")
        for h, r in zip(headers, records, strict=True):
            self.wraps[(h.case_id, h.epoch, h.recipient_key_id)] = r

    def post_message(self, record: bytes) -> int:
        header = envelope.parse_message_header(record)
        if header.client_message_id in self.seen_message_ids:  # retry: de-duplicated
            return self.messages[header.case_id].index(record)
        self.seen_message_ids.add(header.client_message_id)
        self.messages.setdefault(header.case_id, []).append(record)
        return len(self.messages[header.case_id]) - 1


@dataclass
class Client:
    user_id: uuid.UUID
    login: str
    secret: str
    keys: account.AccountKeys | None = None
    case_keys: dict[tuple[uuid.UUID, int], bytes] = field(default_factory=dict)

    def enrol(self, server: FakeServer, org_public_key: bytes) -> None:
        salt = password.new_salt()
        server.kdf[self.login] = password.encode_kdf_params(salt)
        login_keys = password.derive_login_keys(self.secret, salt, iterations=ITERATIONS)
        the_usk = usk.generate_usk()
        keys = account.generate_account_keys()
        server.vault[self.user_id] = {
            "usk": usk.wrap_usk_with_kek(the_usk, login_keys.kek, self.user_id),
            "usk_org": usk.wrap_usk_for_org(the_usk, org_public_key, self.user_id),
            "enc": account.seal_private_key(
                keys.encryption, account.KeyPurpose.ENCRYPTION, the_usk, self.user_id
            ),
            "sig": account.seal_private_key(
                keys.signing, account.KeyPurpose.SIGNING, the_usk, self.user_id
            ),
        }
        server.directory[self.user_id] = (keys.signing.public_key, keys.encryption.public_key)

    def unlock(self, server: FakeServer) -> None:
        """A new session on a new device: only the password and the server's bytes."""
        params = password.parse_kdf_params(server.kdf[self.login])
        login_keys = password.derive_login_keys(self.secret, params.salt, iterations=ITERATIONS)
        vault = server.vault[self.user_id]
        the_usk = usk.unwrap_usk_with_kek(vault["usk"], login_keys.kek, self.user_id)
        self.keys = account.AccountKeys(
            encryption=account.unseal_private_key(
                vault["enc"], account.KeyPurpose.ENCRYPTION, the_usk, self.user_id
            ),
            signing=account.unseal_private_key(
                vault["sig"], account.KeyPurpose.SIGNING, the_usk, self.user_id
            ),
        )
        assert server.directory[self.user_id] == (
            self.keys.signing.public_key,
            self.keys.encryption.public_key,
        )

    def case_key_for(self, server: FakeServer, case_id: uuid.UUID, epoch: int) -> bytes:
        assert self.keys is not None
        if (case_id, epoch) not in self.case_keys:
            record = server.wraps[(case_id, epoch, self.keys.encryption.key_id)]
            wrapper = case_key.parse_case_key_wrap_header(record).wrapper_user_id
            self.case_keys[(case_id, epoch)] = case_key.open_case_key_wrap(
                record,
                case_id=case_id,
                epoch=epoch,
                recipient=self.keys.encryption,
                wrapper_signing_public_key=server.directory[wrapper][0],
                wrapper_user_id=wrapper,
            )
        return self.case_keys[(case_id, epoch)]

    def send(
        self, server: FakeServer, case_id: uuid.UUID, ctype: ContentType, body: bytes
    ) -> bytes:
        assert self.keys is not None
        thread = server.messages.get(case_id, [])
        previous = envelope.message_hash(thread[-1]) if thread else envelope.GENESIS_HASH
        record = envelope.seal_message(
            body,
            case_key=self.case_key_for(server, case_id, 0),
            case_id=case_id,
            epoch=0,
            client_message_id=uuid.uuid4(),
            sender_user_id=self.user_id,
            sender_signing_key=self.keys.signing,
            content_type=ctype,
            previous_hash=previous,
        )
        server.post_message(record)
        return record

    def read(
        self, server: FakeServer, case_id: uuid.UUID
    ) -> list[tuple[ContentType, dict[str, object]]]:
        out = []
        previous = envelope.GENESIS_HASH
        for record in server.messages[case_id]:
            header = envelope.parse_message_header(record)
            opened = envelope.open_message(
                record,
                case_key=self.case_key_for(server, case_id, header.epoch),
                case_id=case_id,
                epoch=header.epoch,
                sender_signing_public_key=server.directory[header.sender_user_id][0],
                sender_user_id=header.sender_user_id,
            )
            if opened.header.previous_hash != previous:  # the thread must be complete, in order
                raise ChainBrokenError
            previous = envelope.message_hash(record)
            out.append(
                (
                    opened.header.content_type,
                    content.decode_content(opened.header.content_type, opened.body),
                )
            )
        return out


class RecoveryRefusedError(Exception):
    """The recovered key pair is not the one the user's contacts know."""


def recover_signing_key(
    server: FakeServer, user_id: uuid.UUID, org: account.KeyPair, pinned_key_id: bytes
) -> account.KeyPair:
    """Admin-assisted recovery as section 5 requires it: unwrap, unseal, check the key id."""
    the_usk = usk.unwrap_usk_for_org(server.vault[user_id]["usk_org"], org.private_key, user_id)
    pair = account.unseal_private_key(
        server.vault[user_id]["sig"], account.KeyPurpose.SIGNING, the_usk, user_id
    )
    if pair.key_id != pinned_key_id:
        raise RecoveryRefusedError
    return pair


def test_gp_and_dermatologist_exchange_a_case() -> None:
    records_officer = account.generate_key_pair()
    org_recovery = account.generate_key_pair()
    server = FakeServer(records_key=records_officer.public_key)
    gp = Client(uuid.uuid4(), "gp@practice.nhs.uk", "gp password \u00e9")
    derm = Client(uuid.uuid4(), "derm@hospital.nhs.uk", "derm password")
    for person in (gp, derm):
        person.enrol(server, org_recovery.public_key)
        person.unlock(server)
    assert gp.keys is not None and derm.keys is not None

    # The GP opens a case: one case key, wrapped to the GP, the dermatologist and the records key.
    case_id = uuid.uuid4()
    ck = case_key.generate_case_key()
    wraps = [
        case_key.wrap_case_key(
            ck,
            case_id=case_id,
            epoch=0,
            recipient_public_key=pk,
            wrapper_user_id=gp.user_id,
            wrapper_signing_key=gp.keys.signing,
        )
        for pk in (
            gp.keys.encryption.public_key,
            derm.keys.encryption.public_key,
            records_officer.public_key,
        )
    ]
    with pytest.raises(PermissionError):
        server.store_case_wraps(wraps[:2])
    server.store_case_wraps(wraps)

    history = samples.history(question="SCC?")
    gp.send(
        server,
        case_id,
        ContentType.CLINICAL_HISTORY,
        content.encode_content(ContentType.CLINICAL_HISTORY, history),
    )

    # The photo: streamed encryption, the blob goes to the server, the key goes in a message.
    photo = os.urandom(3 * 1024 * 1024 + 17)
    file_key = attachment.new_file_key()
    enc = attachment.AttachmentEncryptor(file_key, salt=os.urandom(24))
    blob = b"".join(enc.update(photo[i : i + 65536]) for i in range(0, len(photo), 65536))
    blob += enc.finalize()
    attachment_id = uuid.uuid4()
    server.blobs[attachment_id] = blob
    ref = PhotoReference(
        attachment_id=attachment_id,
        file_key=file_key,
        ciphertext_sha256=enc.sha256,
        ciphertext_size=enc.size,
        media_type="image/jpeg",
        tag="dermoscopic",
        body_site="left forearm",
    )
    sent = gp.send(
        server, case_id, ContentType.PHOTO_REFERENCE, content.encode_photo_reference(ref)
    )
    assert server.post_message(sent) == 1  # a retried send is de-duplicated by message id

    # The dermatologist reads the thread, fetches and decrypts the photo, and answers.
    thread = derm.read(server, case_id)
    assert [t for t, _ in thread] == [ContentType.CLINICAL_HISTORY, ContentType.PHOTO_REFERENCE]
    assert thread[0][1]["patient"] == history["patient"]
    received = content.decode_photo_reference(
        envelope.open_message(
            server.messages[case_id][1],
            case_key=derm.case_key_for(server, case_id, 0),
            case_id=case_id,
            epoch=0,
            sender_signing_public_key=gp.keys.signing.public_key,
        ).body
    )
    assert received == ref
    assert len(server.blobs[attachment_id]) == received.ciphertext_size
    assert (
        attachment.decrypt_attachment(
            received.file_key,
            server.blobs[attachment_id],
            expected_sha256=received.ciphertext_sha256,
        )
        == photo
    )
    derm.send(
        server,
        case_id,
        ContentType.OUTCOME,
        content.encode_content(
            ContentType.OUTCOME,
            {
                "category": "referral",
                "summary": "Suspected SCC",
                "details": {"urgency": "two_week_wait", "destination": "skin_surgery"},
            },
        ),
    )
    assert gp.read(server, case_id)[-1][1]["category"] == "referral"

    # The records officer reads the case with the records key alone.
    officer_ck = case_key.open_case_key_wrap(
        server.wraps[(case_id, 0, records_officer.key_id)],
        case_id=case_id,
        epoch=0,
        recipient=records_officer,
        wrapper_signing_public_key=gp.keys.signing.public_key,
    )
    assert officer_ck == ck

    # A lost password: admin-assisted recovery with the organisation key gives back the USK,
    # and the recovered keys are checked against the key ids the GP's contacts know
    # (docs/protocol.md section 5).
    pinned = gp.keys.signing.key_id
    recovered_pair = recover_signing_key(server, gp.user_id, org_recovery, pinned)
    assert recovered_pair == gp.keys.signing

    # Nothing the server holds contains the plaintexts.
    stored = b"".join(server.messages[case_id]) + blob + b"".join(server.wraps.values())
    name = history["patient"]["name"].encode()
    for secret in (name, b"9434765919", b"Suspected SCC", photo[:64], ck, file_key):
        assert secret not in stored


def test_server_cannot_swap_or_reorder_messages() -> None:
    server = FakeServer(records_key=account.generate_key_pair().public_key)
    gp = Client(uuid.uuid4(), "gp", "pw")
    derm = Client(uuid.uuid4(), "derm", "pw")
    org = account.generate_key_pair()
    for person in (gp, derm):
        person.enrol(server, org.public_key)
        person.unlock(server)
    assert gp.keys is not None and derm.keys is not None
    case_id, other_case = uuid.uuid4(), uuid.uuid4()
    for cid in (case_id, other_case):
        ck = case_key.generate_case_key()
        server.store_case_wraps(
            [
                case_key.wrap_case_key(
                    ck,
                    case_id=cid,
                    epoch=0,
                    recipient_public_key=pk,
                    wrapper_user_id=gp.user_id,
                    wrapper_signing_key=gp.keys.signing,
                )
                for pk in (
                    gp.keys.encryption.public_key,
                    derm.keys.encryption.public_key,
                    server.records_key,
                )
            ]
        )
    for text in ("one", "two"):
        gp.send(
            server,
            case_id,
            ContentType.TEXT,
            content.encode_content(ContentType.TEXT, {"text": text}),
        )
    moved = gp.send(
        server,
        other_case,
        ContentType.TEXT,
        content.encode_content(ContentType.TEXT, {"text": "x"}),
    )

    # A message copied into another case does not open there.
    with pytest.raises(MessageOpenError):
        envelope.open_message(
            moved,
            case_key=derm.case_key_for(server, case_id, 0),
            case_id=case_id,
            epoch=0,
            sender_signing_public_key=gp.keys.signing.public_key,
        )
    # Reordering breaks the hash chain the reader checks.
    server.messages[case_id].reverse()
    with pytest.raises(ChainBrokenError):
        derm.read(server, case_id)


def _two_people_one_case() -> tuple[FakeServer, Client, Client, account.KeyPair, uuid.UUID]:
    org = account.generate_key_pair()
    server = FakeServer(records_key=account.generate_key_pair().public_key)
    gp = Client(uuid.uuid4(), "gp", "pw")
    derm = Client(uuid.uuid4(), "derm", "pw")
    for person in (gp, derm):
        person.enrol(server, org.public_key)
        person.unlock(server)
    assert gp.keys is not None
    case_id, ck = uuid.uuid4(), case_key.generate_case_key()
    server.store_case_wraps(
        [
            case_key.wrap_case_key(
                ck,
                case_id=case_id,
                epoch=0,
                recipient_public_key=pk,
                wrapper_user_id=gp.user_id,
                wrapper_signing_key=gp.keys.signing,
            )
            for pk in (*(server.directory[p.user_id][1] for p in (gp, derm)), server.records_key)
        ]
    )
    return server, gp, derm, org, case_id


def test_a_participant_cannot_send_in_another_participants_name() -> None:
    # The dermatologist signs (with its own key) a header that names the GP as sender. A
    # reader that looks the key up by the header's key id alone would accept it; passing the
    # directory's owner as sender_user_id refuses it (docs/protocol.md section 9).
    server, gp, derm, _, case_id = _two_people_one_case()
    assert derm.keys is not None
    forged = envelope.seal_message(
        content.encode_content(ContentType.TEXT, {"text": "stop the referral"}),
        case_key=derm.case_key_for(server, case_id, 0),
        case_id=case_id,
        epoch=0,
        client_message_id=uuid.uuid4(),
        sender_user_id=gp.user_id,
        sender_signing_key=derm.keys.signing,
        content_type=ContentType.TEXT,
        previous_hash=envelope.GENESIS_HASH,
    )
    kwargs = dict(
        case_key=gp.case_key_for(server, case_id, 0),
        case_id=case_id,
        epoch=0,
        sender_signing_public_key=derm.keys.signing.public_key,
    )
    assert envelope.open_message(forged, **kwargs).header.sender_user_id == gp.user_id  # type: ignore[arg-type]
    with pytest.raises(MessageOpenError):
        envelope.open_message(forged, sender_user_id=derm.user_id, **kwargs)  # type: ignore[arg-type]


def test_recovery_refuses_keys_substituted_by_the_server() -> None:
    # Records 0x04 and 0x05 are unsigned: a server can replace both with records built from a
    # USK and key pair of its own. Unwrapping and unsealing then succeed, and only the key-id
    # check against what the user's contacts know catches it (docs/protocol.md section 5).
    server, gp, _, org, _ = _two_people_one_case()
    assert gp.keys is not None
    pinned = gp.keys.signing.key_id
    server_usk, server_pair = usk.generate_usk(), account.generate_key_pair()
    server.vault[gp.user_id]["usk_org"] = usk.wrap_usk_for_org(
        server_usk, org.public_key, gp.user_id
    )
    server.vault[gp.user_id]["sig"] = account.seal_private_key(
        server_pair, account.KeyPurpose.SIGNING, server_usk, gp.user_id
    )
    with pytest.raises(RecoveryRefusedError):
        recover_signing_key(server, gp.user_id, org, pinned)
