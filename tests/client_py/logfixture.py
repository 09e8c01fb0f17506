"""A key log made with the crypto makers, and directory answers over it, for the client's
pure checks (client_py.directory): what an honest server would answer, which a test then
edits the way a dishonest one would."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from typing import Any

from crypto.account import KeyPair, generate_key_pair
from crypto.fingerprint import key_id
from crypto.invite import derive_invite_key, generate_invite_secret
from crypto.log_entry import (
    RemovalReason,
    encode_removal_entry,
    encode_statement_entry,
    encode_uncertified_member_entry,
)
from crypto.merkle import MerkleTree
from crypto.records_key import derive_records_signing_key, generate_records_key
from crypto.statement import (
    OrganisationKind,
    Role,
    invite_token_hash,
    make_approval_statement,
    make_invite_statement,
    make_member_statement,
    make_organisation_key_statement,
    make_records_key_statement,
    statement_hash,
)
from crypto.tree_head import sign_tree_head

T = 1_760_000_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class FakeLog:
    """An append-only log with a log key; refs and heads for any size it reached."""

    def __init__(self, log_key: KeyPair | None = None) -> None:
        self.key = log_key or generate_key_pair()
        self.tree = MerkleTree()
        self.entries: list[bytes] = []

    def append(self, entry: bytes) -> int:
        self.entries.append(entry)
        return self.tree.append_entry(entry)

    def append_statement(self, record: bytes) -> int:
        return self.append(encode_statement_entry(record, appended_at_ms=T))

    def head(self, size: int | None = None) -> bytes:
        size = len(self.entries) if size is None else size
        return sign_tree_head(
            tree_size=size, timestamp_ms=T + size, root_hash=self.tree.root(size), log_key=self.key
        )

    def ref(self, index: int, size: int | None = None) -> dict[str, Any]:
        size = len(self.entries) if size is None else size
        return {
            "index": index,
            "entry": b64(self.entries[index]),
            "proof": [b64(p) for p in self.tree.inclusion_proof(index, size)],
        }


@dataclasses.dataclass
class Person:
    user_id: uuid.UUID
    name: str
    role: Role
    signing: KeyPair
    encryption: KeyPair
    #: log indices: member statement and invite statement, or the uncertified entry
    member: int | None = None
    invite: int | None = None
    uncertified: int | None = None

    def wire(self, log: FakeLog, org_id: uuid.UUID) -> dict[str, Any]:
        out: dict[str, Any] = {
            "user_id": str(self.user_id),
            "display_name": self.name,
            "memberships": [{"org_id": str(org_id), "role": self.role.name.lower()}],
            "signing_public_key": b64(self.signing.public_key),
            "encryption_public_key": b64(self.encryption.public_key),
            "totp_enrolled": True,
            "certification": None,
            "uncertified": None,
        }
        if self.member is not None:
            out["certification"] = {
                "member": log.ref(self.member),
                "invite": None if self.invite is None else log.ref(self.invite),
            }
        if self.uncertified is not None:
            out["uncertified"] = log.ref(self.uncertified)
        return out


@dataclasses.dataclass
class Org:
    """An organisation with an organisation key, members and a records-key chain."""

    log: FakeLog
    org_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    name: str = "Elm Surgery"
    kind: OrganisationKind = OrganisationKind.PRACTICE
    org_key: KeyPair | None = dataclasses.field(default_factory=generate_key_pair)
    org_key_index: int | None = None
    people: list[Person] = dataclasses.field(default_factory=list)
    records: list[tuple[KeyPair, int, list[int]]] = dataclasses.field(default_factory=list)
    legacy_records_key: bytes | None = None
    removals: list[int] = dataclasses.field(default_factory=list)

    def publish_org_key(self) -> None:
        assert self.org_key is not None
        record = make_organisation_key_statement(
            org_id=self.org_id,
            org_kind=self.kind,
            name=self.name,
            org_key=self.org_key,
            issued_at_ms=T,
        )
        self.org_key_index = self.log.append_statement(record)

    def person(
        self, name: str, role: Role, how: str = "invite", user_id: uuid.UUID | None = None
    ) -> Person:
        """A member enrolled ``how``: "invite" (certified invite), "direct" (OK-signed) or
        "uncertified" (a server-made invite); ``user_id`` to enrol someone again."""
        p = Person(user_id or uuid.uuid4(), name, role, generate_key_pair(), generate_key_pair())
        self.people.append(p)
        if how == "uncertified":
            p.uncertified = self.log.append(
                encode_uncertified_member_entry(
                    user_id=p.user_id,
                    org_id=self.org_id,
                    role=role,
                    signing_public_key=p.signing.public_key,
                    encryption_public_key=p.encryption.public_key,
                    appended_at_ms=T,
                )
            )
            return p
        assert self.org_key is not None
        invite_hash = None
        signer = self.org_key
        if how == "invite":
            secret = generate_invite_secret()
            invite_key = derive_invite_key(secret)
            invite = make_invite_statement(
                org_id=self.org_id,
                role=role,
                invite_public_key=invite_key.public_key,
                expires_at_ms=T + 10**9,
                token_hash=invite_token_hash("t" * 43),
                org_key=self.org_key,
                issued_at_ms=T,
            )
            p.invite = self.log.append_statement(invite)
            invite_hash, signer = statement_hash(invite), invite_key
        record = make_member_statement(
            user_id=p.user_id,
            org_id=self.org_id,
            role=role,
            signing_public_key=p.signing.public_key,
            encryption_public_key=p.encryption.public_key,
            invite_statement_hash=invite_hash,
            signer=signer,
            issued_at_ms=T,
        )
        p.member = self.log.append_statement(record)
        return p

    def records_key(self, *, signer: str = "org", approvers: list[Person] | None = None) -> KeyPair:
        """Publish the next records key: ``signer`` "org" (sequence 0, or a change that
        ``approvers`` approve) or "rollover" (the previous records signing key)."""
        assert self.org_key is not None
        pair = generate_records_key()
        sequence = len(self.records)
        previous = None if not self.records else self.records[-1][0]
        key = (
            derive_records_signing_key(previous.private_key)
            if signer == "rollover" and previous is not None
            else self.org_key
        )
        record = make_records_key_statement(
            org_id=self.org_id,
            sequence=sequence,
            records_public_key=pair.public_key,
            records_signing_public_key=derive_records_signing_key(pair.private_key).public_key,
            previous_records_key_id=None if previous is None else key_id(previous.public_key),
            signer=key,
            issued_at_ms=T,
        )
        index = self.log.append_statement(record)
        approvals = [
            self.log.append_statement(
                make_approval_statement(
                    approved_statement_hash=statement_hash(record),
                    approver_user_id=a.user_id,
                    approver_signing_key=a.signing,
                    issued_at_ms=T,
                )
            )
            for a in approvers or []
        ]
        self.records.append((pair, index, approvals))
        return pair

    def remove(self, person: Person) -> int:
        index = self.log.append(
            encode_removal_entry(
                user_id=person.user_id,
                org_id=self.org_id,
                reason=RemovalReason.REMOVED_FROM_ORGANISATION,
                role=None,
                appended_at_ms=T,
            )
        )
        self.removals.append(index)
        return index

    def org_wire(self) -> dict[str, Any]:
        records_public_key = (
            self.records[-1][0].public_key if self.records else self.legacy_records_key
        )
        return {
            "org_id": str(self.org_id),
            "kind": self.kind.name.lower(),
            "name": self.name,
            "records_public_key": None if records_public_key is None else b64(records_public_key),
            "org_key_id": None if self.org_key is None else key_id(self.org_key.public_key).hex(),
            "org_key": None if self.org_key_index is None else self.log.ref(self.org_key_index),
            "records_keys": [
                {"statement": self.log.ref(i), "approvals": [self.log.ref(a) for a in approvals]}
                for _pair, i, approvals in self.records
            ],
        }

    def directory(self) -> dict[str, Any]:
        return {
            "tree_head": b64(self.log.head()),
            "org": self.org_wire(),
            "members": [p.wire(self.log, self.org_id) for p in self.people],
            "removals": [self.log.ref(i) for i in self.removals],
        }
