"""The client's key-log checks (client_py.keylog) against a fake API that serves heads,
consistency proofs and directory answers from a log built with the crypto makers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from client_py.errors import (
    KeyChangedError,
    LogRewrittenError,
    NotInLogError,
    OrgKeyChangedError,
    RecordsKeyChangedError,
    RemovedPersonError,
    StaleLogError,
)
from client_py.keylog import KeyLog
from client_py.pins import PinStore
from crypto.account import generate_key_pair
from crypto.statement import Role
from tests.client_py.logfixture import FakeLog, Org, b64


class FakeApi:
    """What the server's transparency and directory routes answer, from ``log``."""

    def __init__(self, log: FakeLog, orgs: list[Org]) -> None:
        self.log = log
        self.orgs = {str(o.org_id): o for o in orgs}
        self.head_size: int | None = None  # serve an older head when set
        self.hide: int | None = None  # serve no entries from this index on

    async def get(self, path: str, **params: Any) -> Any:
        if path == "/api/v1/transparency/head":
            return {
                "tree_head": b64(self.log.head()),
                "log_public_key": b64(self.log.key.public_key),
            }
        if path == "/api/v1/transparency/entries":
            end = min(params["end"], len(self.log.entries))
            if self.hide is not None:
                end = min(end, self.hide)
            return {
                "entries": [
                    {"index": i, "entry": b64(self.log.entries[i])}
                    for i in range(params["start"], end)
                ]
            }
        if path == "/api/v1/transparency/inclusion":
            proof = self.log.tree.inclusion_proof(params["index"], params["size"])
            return {"proof": [b64(p) for p in proof]}
        if path == "/api/v1/transparency/consistency":
            proof = self.log.tree.consistency_proof(params["from"], params["to"])
            return {"from": params["from"], "to": params["to"], "proof": [b64(p) for p in proof]}
        org_id = path.split("/")[4]
        answer = self.orgs[org_id].directory()
        if self.head_size is not None:
            answer["tree_head"] = b64(self.log.head(self.head_size))
        return answer


def keylog(api: FakeApi, tmp_path: Path, **kw: Any) -> KeyLog:
    return KeyLog(api, PinStore(tmp_path / "pins.json"), **kw)  # type: ignore[arg-type]


@pytest.fixture
def org() -> Org:
    o = Org(FakeLog())
    o.publish_org_key()
    return o


async def test_heads_are_pinned_and_must_extend_the_pin(org: Org, tmp_path: Path) -> None:
    api = FakeApi(org.log, [org])
    kl = keylog(api, tmp_path)
    await kl.accept_head(b64(org.log.head()))
    assert kl.pins.log_public_key == org.log.key.public_key
    assert kl.pins.tree_head == org.log.head()
    org.person("Dr Gee", Role.GP)
    org.person("Dr Hay", Role.GP)
    head = await kl.accept_head(b64(org.log.head()))
    assert head.tree_size == len(org.log.entries) and kl.pins.tree_head == org.log.head()
    await kl.accept_head(b64(org.log.head()))  # the same head again: fine
    # Reopened from the file, the pins still hold the newest head.
    assert PinStore(tmp_path / "pins.json").tree_head == org.log.head()


async def test_a_rewritten_log_is_a_hard_stop(org: Org, tmp_path: Path) -> None:
    kl = keylog(FakeApi(org.log, [org]), tmp_path)
    org.person("Dr Gee", Role.GP)
    await kl.accept_head(b64(org.log.head()))
    # The same log key signs heads over another history (a longer one, and one as long).
    other = FakeLog(org.log.key)
    for entry in org.log.entries[:-1]:
        other.append(entry)
    other.append(b"\x03" + bytes(8) + bytes(34))
    other.append(org.log.entries[-1])
    kl.api = FakeApi(other, [org])  # type: ignore[assignment]
    with pytest.raises(LogRewrittenError) as stop:
        await kl.accept_head(b64(other.head()))
    assert stop.value.code == "log_rewritten"
    with pytest.raises(LogRewrittenError):
        await kl.accept_head(b64(other.head(len(org.log.entries))))
    # A head signed by another key.
    with pytest.raises(LogRewrittenError):
        await kl.accept_head(b64(FakeLog().head()))


async def test_an_older_head_is_refused_as_stale(org: Org, tmp_path: Path) -> None:
    api = FakeApi(org.log, [org])
    kl = keylog(api, tmp_path)
    size = len(org.log.entries)
    org.person("Dr Gee", Role.GP)
    await kl.accept_head(b64(org.log.head()))
    with pytest.raises(StaleLogError):
        await kl.accept_head(b64(org.log.head(size)))


async def test_a_log_key_given_out_of_band(org: Org, tmp_path: Path) -> None:
    kl = keylog(FakeApi(org.log, [org]), tmp_path, log_public_key=generate_key_pair().public_key)
    with pytest.raises(LogRewrittenError):
        await kl.accept_head(b64(org.log.head()))
    kl = keylog(FakeApi(org.log, [org]), tmp_path / "b", log_public_key=org.log.key.public_key)
    await kl.accept_head(b64(org.log.head()))
    kl._given_log_key = generate_key_pair().public_key
    with pytest.raises(LogRewrittenError):
        await kl.accept_head(b64(org.log.head()))


async def test_directory_members_checked_and_removals_honoured(org: Org, tmp_path: Path) -> None:
    gee = org.person("Dr Gee", Role.GP)
    hay = org.person("Dr Hay", Role.GP, "uncertified")
    api = FakeApi(org.log, [org])
    kl = keylog(api, tmp_path)
    directory = await kl.directory(str(org.org_id))
    assert set(directory.members) == {str(gee.user_id), str(hay.user_id)}
    assert kl.pins.people[str(gee.user_id)].certified
    assert not kl.pins.people[str(hay.user_id)].certified
    # The server removed Dr Gee in the log but still lists them.
    org.remove(gee)
    directory = await kl.directory(str(org.org_id))
    assert isinstance(directory.refused[str(gee.user_id)], RemovedPersonError)
    assert str(gee.user_id) not in directory.members
    # A listed key that is not the log's.
    answer = org.directory()
    answer["members"][1]["signing_public_key"] = b64(generate_key_pair().public_key)
    directory = await kl.directory(str(org.org_id), answer)
    assert isinstance(directory.refused[str(hay.user_id)], NotInLogError)
    # A re-enrolment with new keys, in the log: a key change for the pins.
    org.people.remove(hay)
    org.person("Dr Hay", Role.GP, "uncertified", user_id=hay.user_id)
    directory = await kl.directory(str(org.org_id))
    assert isinstance(directory.refused[str(hay.user_id)], KeyChangedError)


async def test_organisation_key_replaced_or_withheld(org: Org, tmp_path: Path) -> None:
    kl = keylog(FakeApi(org.log, [org]), tmp_path)
    await kl.directory(str(org.org_id))
    # The server publishes another organisation key for the same organisation.
    org.org_key = generate_key_pair()
    org.publish_org_key()
    with pytest.raises(OrgKeyChangedError, match="Elm Surgery"):
        await kl.directory(str(org.org_id))
    # Or answers as if the organisation had none.
    answer = org.directory()
    answer["org"]["org_key"] = None
    with pytest.raises(OrgKeyChangedError):
        await kl.directory(str(org.org_id), answer)


async def test_records_key_rollover_moves_the_pin_with_a_notice(org: Org, tmp_path: Path) -> None:
    admin = org.person("Ada Admin", Role.ADMIN)
    org.records_key()
    kl = keylog(FakeApi(org.log, [org]), tmp_path)

    async def records_key() -> bytes | None:
        d = await kl.directory(str(org.org_id))
        return kl.records_key(d.org, d.head, d.org_public_key, d.admins())

    assert await records_key() == org.records[0][0].public_key
    assert kl.notices == []
    second = org.records_key(signer="rollover")
    assert await records_key() == second.public_key
    assert kl.pins.orgs[str(org.org_id)].records_sequence == 1
    assert kl.notices and "Elm Surgery" in kl.notices[0]
    # An OK-signed change with one approval only: refused, the pin stays.
    org.records_key(approvers=[admin])
    with pytest.raises(RecordsKeyChangedError):
        await records_key()
    assert kl.pins.orgs[str(org.org_id)].records_public_key == second.public_key
    # A legacy organisation: its uncertified key pinned on first use.
    legacy = Org(org.log, name="Oak Practice")
    legacy.legacy_records_key = generate_key_pair().public_key
    kl.api = FakeApi(org.log, [legacy])  # type: ignore[assignment]
    d = await kl.directory(str(legacy.org_id))
    assert kl.records_key(d.org, d.head, d.org_public_key, d.admins()) == legacy.legacy_records_key


async def test_a_removal_the_answer_leaves_out_is_found_in_the_log(
    org: Org, tmp_path: Path
) -> None:
    gee = org.person("Dr Gee", Role.GP)
    hay = org.person("Dr Hay", Role.GP, "uncertified")
    org.remove(gee)
    org.removals.clear()  # the server keeps quiet about it in its answers
    api = FakeApi(org.log, [org])
    kl = keylog(api, tmp_path)
    directory = await kl.directory(str(org.org_id))
    assert str(gee.user_id) in directory.members  # the answer alone does not tell
    found = await kl.removal_after(
        directory.members[str(gee.user_id)], str(org.org_id), directory.head
    )
    assert found is not None and found.user_id == gee.user_id
    assert (
        await kl.removal_after(directory.members[str(hay.user_id)], str(org.org_id), directory.head)
        is None
    )
    # Entries are read once: proven at an index, they stay proven.
    assert len(org.log.entries) - 1 in kl._entries
    # Entries held back from a reader: refused, not taken as "no removal".
    api.hide = len(org.log.entries) - 1
    kl = keylog(api, tmp_path / "fresh")
    directory = await kl.directory(str(org.org_id))
    with pytest.raises(NotInLogError):
        await kl.removal_after(directory.members[str(gee.user_id)], str(org.org_id), directory.head)
