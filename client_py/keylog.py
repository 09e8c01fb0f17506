"""The client's view of the server's key log: tree heads checked against the pin, directory
answers turned into keys this device may use (docs/protocol.md sections 18 and 19).

* Every tree head must verify under the pinned log key (pinned on first contact, or given
  out of band) and be consistent with the pinned head: a newer head must extend it (a
  consistency proof from the server), a head of the same size must be the same head. A head
  that fails either is :class:`~client_py.errors.LogRewrittenError` (a hard stop); an older
  head that the pinned one extends is :class:`~client_py.errors.StaleLogError` (the server
  is holding back newer entries: a removal, a key change).
* A directory answer's organisation key must be in the log and, for a pinned organisation,
  the pinned key (a withheld key is a change too); each member's keys must be proven by a
  certification or an uncertified entry; the records key is the newest of a verified chain
  that extends the pin, or the legacy uncertified key on first use only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from client_py.api import HttpApi, b64d
from client_py.directory import (
    LogRef,
    VerifiedMember,
    included,
    removals,
    removed_since,
    verify_member,
    verify_org_key,
    verify_records_key,
)
from client_py.errors import (
    LogRewrittenError,
    NoKeyLogError,
    NotInLogError,
    OrgKeyChangedError,
    RemovedPersonError,
    StaleLogError,
    TrustError,
)
from client_py.pins import PinStore
from crypto.errors import ConsistencyProofError, TreeHeadError, TreeHeadSignatureError
from crypto.log_entry import LogEntry, RemovalEntry
from crypto.statement import CertifiedMember, Role
from crypto.tree_head import (
    TreeHead,
    parse_tree_head,
    verify_tree_head,
    verify_tree_head_extends,
)

__all__ = ["Directory", "KeyLog"]

V1 = "/api/v1"


@dataclass
class Directory:
    """One organisation's directory answer, checked: the members whose keys the log proves
    (and, apart, those it does not, with the reason), the organisation key (None when the
    organisation has none) and the removals listed."""

    org: dict[str, Any]
    head: TreeHead
    org_public_key: bytes | None
    members: dict[str, VerifiedMember]
    refused: dict[str, TrustError] = field(default_factory=dict)
    removals: list[tuple[int, RemovalEntry]] = field(default_factory=list)
    raw_members: dict[str, dict[str, Any]] = field(default_factory=dict)

    def admins(self) -> list[CertifiedMember]:
        """The certified administrators (they may approve a records-key change)."""
        return [
            m.certification
            for m in self.members.values()
            if m.certification is not None and m.role is Role.ADMIN
        ]


class KeyLog:
    """Tree heads and directory answers for one signed-in user, with their pins."""

    def __init__(
        self, api: HttpApi, pins: PinStore, *, log_public_key: bytes | None = None
    ) -> None:
        self.api = api
        self.pins = pins
        self._given_log_key = log_public_key
        #: what the person should be told (a records key that changed with a valid chain)
        self.notices: list[str] = []
        #: the log's entries this client has read, each proven against an accepted head
        self._entries: dict[int, LogEntry] = {}

    async def _log_key(self) -> bytes:
        pinned = self.pins.log_public_key
        if pinned is not None:
            if self._given_log_key is not None and self._given_log_key != pinned:
                raise LogRewrittenError
            return pinned
        if self._given_log_key is not None:
            return self._given_log_key
        # First contact: trust on first use (docs/protocol.md section 18).
        answer = await self.api.get(f"{V1}/transparency/head")
        return b64d(answer["log_public_key"])

    async def accept_head(self, record_b64: str) -> TreeHead:
        """The answer's tree head, verified and consistent with the pin; pins it if newer."""
        log_key = await self._log_key()
        record = b64d(record_b64)
        try:
            head = verify_tree_head(record, log_key)
        except TreeHeadSignatureError:
            raise LogRewrittenError from None
        if self.pins.tree_head is None:
            self.pins.pin_log(log_key, record)
            return head
        try:
            old = parse_tree_head(self.pins.tree_head)
        except TreeHeadError:  # pragma: no cover - the pin holds only verified heads
            raise LogRewrittenError from None
        small, big = (old, head) if old.tree_size <= head.tree_size else (head, old)
        proof: list[bytes] = []
        if small.tree_size != big.tree_size:
            answer = await self.api.get(
                f"{V1}/transparency/consistency", **{"from": small.tree_size, "to": big.tree_size}
            )
            proof = [b64d(p) for p in answer["proof"]]
        try:
            verify_tree_head_extends(small, big, proof)
        except ConsistencyProofError:
            raise LogRewrittenError from None
        if head.tree_size < old.tree_size:
            raise StaleLogError
        if head.tree_size > old.tree_size:
            self.pins.pin_log(log_key, record)
        return head

    async def removal_after(
        self, member: VerifiedMember, org_id: str, head: TreeHead
    ) -> RemovalEntry | None:
        """A removal of ``member`` from ``org_id`` later in the log than the entry that
        vouches for their keys, found by reading every later entry up to ``head`` (each
        checked against the head with its inclusion proof, so none can be left out or
        replaced). The server's own lists (directory ``removals``, the case's ``rotation``)
        are not trusted for this (docs/protocol.md section 24)."""
        await self._read_entries(member.index + 1, head)
        for index in range(member.index + 1, head.tree_size):
            entry = self._entries[index]
            if isinstance(entry, RemovalEntry) and removed_since(member, org_id, [(index, entry)]):
                return entry
        return None

    async def _read_entries(self, start: int, head: TreeHead) -> None:
        """Fetch and prove every entry from ``start`` up to ``head`` not read before. An
        entry proven at an index stays proven: every head this client accepts extends the
        ones before."""
        index = start
        while index < head.tree_size:
            if index in self._entries:
                index += 1
                continue
            end = min(index + 1000, head.tree_size)
            page = await self.api.get(f"{V1}/transparency/entries", start=index, end=end)
            got = {int(e["index"]): b64d(e["entry"]) for e in page["entries"]}
            if index not in got:
                raise NotInLogError("the key log's entries")
            while index in got and index < end:
                proof = await self.api.get(
                    f"{V1}/transparency/inclusion", index=index, size=head.tree_size
                )
                self._entries[index] = included(
                    LogRef(index, got[index], tuple(b64d(p) for p in proof["proof"])),
                    head,
                    "the key log's entries",
                )
                index += 1

    def org_key(self, org: Mapping[str, Any], head: TreeHead) -> bytes | None:
        """The organisation key the log shows for ``org``, pinned on first use; a different
        or a withheld key for a pinned organisation is a hard stop."""
        statement = verify_org_key(org, head)
        pin = self.pins.orgs.get(org["org_id"])
        if statement is None:
            if pin is not None and pin.org_public_key is not None:
                raise OrgKeyChangedError(pin.name)
            return None
        self.pins.pin_org_key(org["org_id"], org["name"], statement.org_public_key)
        return statement.org_public_key

    def members(
        self,
        people: list[dict[str, Any]],
        head: TreeHead,
        org_keys: Mapping[str, bytes | None],
        default_org: str | None = None,
    ) -> tuple[dict[str, VerifiedMember], dict[str, TrustError]]:
        """Each person's keys checked against the log, then against the pins (first contact
        pins; a change is noted and the person is refused here)."""
        good: dict[str, VerifiedMember] = {}
        bad: dict[str, TrustError] = {}
        for person in people:
            org_id = person.get("org_id") or default_org
            user = person["user_id"]
            try:
                if org_id is None or org_id not in org_keys:
                    raise NotInLogError(f"{person['display_name']}'s security keys")
                verified = verify_member(
                    person, org_id=org_id, org_public_key=org_keys[org_id], head=head
                )
                self.pins.require_person(
                    user,
                    verified.name,
                    verified.signing_public_key,
                    verified.encryption_public_key,
                    certified=verified.certified,
                )
            except TrustError as exc:
                bad[user] = exc
                continue
            good[user] = verified
        return good, bad

    async def directory(self, org_id: str, answer: Mapping[str, Any] | None = None) -> Directory:
        """``GET /orgs/{org_id}/directory`` (or that ``answer``), checked. A member whose
        keys the log does not prove, or whom a later removal in the log takes out, is in
        ``refused`` with the reason, never in ``members``."""
        if answer is None:
            answer = await self.api.get(f"{V1}/orgs/{org_id}/directory")
        if not isinstance(answer.get("tree_head"), str):
            raise NoKeyLogError
        head = await self.accept_head(answer["tree_head"])
        org = answer["org"]
        org_key = self.org_key(org, head)
        found = removals(answer.get("removals", []), head)
        good, bad = self.members(answer["members"], head, {org_id: org_key}, org_id)
        for user, member in list(good.items()):
            if removed_since(member, org_id, found):
                bad[user] = RemovedPersonError(member.name)
                del good[user]
        return Directory(
            dict(org), head, org_key, good, bad, found, {m["user_id"]: m for m in answer["members"]}
        )

    def records_key(
        self,
        org: Mapping[str, Any],
        head: TreeHead,
        org_key: bytes | None,
        admins: list[CertifiedMember],
    ) -> bytes | None:
        """The records key to encrypt to for ``org`` (None if it has none), checked against
        the log and the pin; a newer key reached by a valid chain moves the pin and leaves
        a notice for the person."""
        org_id, name = org["org_id"], org["name"]
        pin = self.pins.orgs.get(org_id)
        found = verify_records_key(
            org,
            org_public_key=org_key,
            admins=admins,
            head=head,
            pinned_sequence=None if pin is None else pin.records_sequence,
            pinned_key=None if pin is None else pin.records_public_key,
        )
        if found is None:
            return None
        key, sequence = found
        if sequence is None:
            self.pins.check_records_key(org_id, name, key, None)
            return key
        changed = pin is not None and pin.records_public_key not in (None, key)
        self.pins.advance_records_key(org_id, name, key, sequence)
        if changed:
            self.notices.append(
                f"The records key of {name} changed (now number {sequence}); the change is "
                f"signed as the rules require (docs/protocol.md section 20)."
            )
        return key
