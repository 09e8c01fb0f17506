"""The organisation's monitor (client_py.monitor): every key published for its members is
listed; keys it did not certify or enrol, foreign organisation keys, broken records-key
chains and missing removals are flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from client_py.client import DermlineClient
from client_py.errors import LogRewrittenError
from client_py.keylog import KeyLog
from client_py.monitor import Expected, audit
from client_py.pins import PinStore
from crypto.account import generate_key_pair
from crypto.statement import Role, make_member_statement
from tests.client_py.logfixture import FakeLog, Org, b64


@pytest.fixture
def org() -> Org:
    o = Org(FakeLog())
    o.publish_org_key()
    return o


def run_audit(o: Org, expected: Expected | None = None, ok: bytes | None = None) -> Any:
    assert o.org_key is not None
    report, _ok = audit(
        o.log.entries,
        org_id=str(o.org_id),
        org_public_key=o.org_key.public_key if ok is None else ok,
        expected=expected,
    )
    return report


def test_an_organisation_that_certifies_everyone_has_no_flags(org: Org) -> None:
    admin = org.person("Ada Admin", Role.ADMIN, "direct")
    gp = org.person("Dr Gee", Role.GP)
    second_admin = org.person("Bea Admin", Role.ADMIN)
    org.records_key()
    org.records_key(signer="rollover")
    org.records_key(approvers=[admin, second_admin])
    other = Org(org.log, name="Other Surgery")
    other.publish_org_key()
    other.person("Dr Elsewhere", Role.GP, "uncertified")  # not this organisation's business
    # Enrolled through a server-made invite, certified later: not flagged any more.
    late = org.person("Dr Late", Role.GP, "uncertified")
    record = make_member_statement(
        user_id=late.user_id, org_id=org.org_id, role=Role.GP,
        signing_public_key=late.signing.public_key,
        encryption_public_key=late.encryption.public_key,
        invite_statement_hash=None, signer=org.org_key, issued_at_ms=1,
    )  # fmt: skip
    org.log.append_statement(record)
    org.remove(gp)
    expected = Expected(
        {str(p.user_id): (p.signing.public_key, p.encryption.public_key) for p in org.people},
        frozenset({str(gp.user_id)}),
    )
    report = run_audit(org, expected)
    assert report.flags == []
    assert [k["user_id"] for k in report.keys] == [
        *(str(p.user_id) for p in org.people),
        str(late.user_id),
    ]
    assert [k["certified"] for k in report.keys] == [True, True, True, False, True]
    # Without a pinned key the monitor takes the first published (trust on first use).
    report, ok = audit(org.log.entries, org_id=str(org.org_id), org_public_key=None)
    assert report.flags == [] and org.org_key is not None and ok == org.org_key.public_key


def test_everything_the_organisation_did_not_make_is_flagged(org: Org) -> None:
    gp = org.person("Dr Gee", Role.GP)
    org.records_key()
    stranger = org.person("Mallory", Role.GP, "uncertified")
    # A member statement signed by a key that is not the organisation key.
    real_ok = org.org_key
    org.org_key = generate_key_pair()
    forged = org.person("Eve", Role.ADMIN, "direct")
    org.publish_org_key()  # a second organisation key
    org.org_key = real_ok
    # A records key change without approvals, and a second statement for sequence 1.
    org.records_key(approvers=[])
    org.records.pop()
    org.records_key(signer="rollover")
    org.log.append(b"\x09junk")
    expected = Expected(
        {str(gp.user_id): (generate_key_pair().public_key, None)},
        frozenset({"0b7a3c43-0fd5-4a51-9a54-6d3bda0b8a11"}),
    )
    flags = run_audit(org, expected).flags
    text = "\n".join(flags)
    assert f"keys of {stranger.user_id} not certified" in text
    assert f"keys of {forged.user_id} that the organisation key does not certify" in text
    assert "an organisation key the organisation did not make" in text
    assert "a second records key for number 1" in text
    assert "records key chain does not verify" in text
    assert "does not parse" in text
    assert f"{stranger.user_id} has keys in the log but the organisation did not enrol" in text
    assert f"{gp.user_id} has keys in the log other than the ones" in text
    assert "log shows no removal" in text


def test_a_missing_link_of_the_records_chain_is_flagged(org: Org) -> None:
    org.records_key()
    org.records_key(signer="rollover")
    org.records_key(signer="rollover")
    del org.log.entries[org.records[1][1]]
    assert run_audit(org).flags == ["the records key chain has no number 1"]
    # Without any organisation key, a chain cannot verify.
    report, ok = audit(
        [org.log.entries[i] for _p, i, _a in org.records if i < len(org.log.entries)],
        org_id=str(org.org_id),
        org_public_key=None,
    )
    assert ok is None and report.flags


class MonitorApi:
    def __init__(self, log: FakeLog, entries: list[bytes] | None = None) -> None:
        self.log = log
        self.entries = log.entries if entries is None else entries

    async def get(self, path: str, **params: Any) -> Any:
        if path.endswith("/head"):
            return {
                "tree_head": b64(self.log.head()),
                "log_public_key": b64(self.log.key.public_key),
            }
        assert path.endswith("/entries")
        # Small pages, as a server may send; a withholding server stops short.
        end = min(params["end"], params["start"] + 2, len(self.entries))
        return {
            "entries": [
                {"index": i, "entry": b64(self.entries[i])} for i in range(params["start"], end)
            ],
            "tree_head": b64(self.log.head()),
        }


async def test_the_client_recomputes_the_tree_from_every_entry(
    org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org.person("Dr Gee", Role.GP)
    org.person("Mallory", Role.GP, "uncertified")
    client = DermlineClient("http://127.0.0.1:1")
    client._pins = PinStore(tmp_path / "pins.json")
    client._keylog = KeyLog(client.api, client._pins)

    def serve(api: MonitorApi) -> None:
        monkeypatch.setattr(client.api, "get", api.get)

    serve(MonitorApi(org.log))
    try:
        report = await client.monitor(str(org.org_id))
        assert len(report.keys) == 2 and len(report.flags) == 1
        assert client.pins.orgs[str(org.org_id)].org_public_key is not None
        # Entries that are not the head's: the log was rewritten.
        entries = list(org.log.entries)
        entries[1] = entries[1][:-1] + bytes([entries[1][-1] ^ 1])
        serve(MonitorApi(org.log, entries))
        with pytest.raises(LogRewrittenError):
            await client.monitor(str(org.org_id))
        serve(MonitorApi(org.log, entries[:1]))
        with pytest.raises(LogRewrittenError):
            await client.monitor(str(org.org_id))
    finally:
        await client.close()
