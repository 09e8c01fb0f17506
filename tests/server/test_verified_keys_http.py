"""Verified keys over HTTP (docs/api.md "Transparency log", "Directory", "Organisation key",
"Invites", "Records keys"; docs/protocol.md sections 18 to 21): the log's routes, the
directory's log references, the organisation key and its wraps, certifications, certified
invites with the handover, and the records-key chain with the two-person rule, each with
the refusals a client or a malicious administrator could provoke.

Every statement here is made with the real crypto recipes, as a client makes it, and
every answer is checked the way a client checks it (signed heads, inclusion proofs,
consistency between heads, the trust functions of crypto.statement)."""

from __future__ import annotations

import datetime
import hashlib
import secrets
import urllib.parse
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from client_py.api import ApiError, b64d, b64e
from client_py.identity import enrol
from crypto import statement as st
from crypto.account import KeyPair, generate_key_pair
from crypto.invite import derive_invite_key, generate_invite_secret
from crypto.log_entry import (
    StatementEntry,
    UncertifiedMemberEntry,
    parse_log_entry,
)
from crypto.org_key import open_org_key_handover, open_org_key_wrap, wrap_org_key
from crypto.records_key import derive_records_signing_key
from crypto.tree_head import (
    TreeHead,
    parse_tree_head,
    verify_entry_included,
    verify_tree_head,
    verify_tree_head_extends,
)
from tests.server.harness import PASSWORD, Live, Person, World, live_server, make_world

V1 = "/api/v1"


async def refused(call: Awaitable[Any]) -> tuple[int, str]:
    with pytest.raises(ApiError) as err:
        await call
    return err.value.status, err.value.code


def ms(live: Live, seconds: float = 0) -> int:
    return int(live.clock.now().timestamp() * 1000 + seconds * 1000)


class Verifier:
    """What a client keeps: the pinned log key and the last head it accepted."""

    def __init__(self, log_key: bytes) -> None:
        self.log_key = log_key
        self.head: TreeHead | None = None

    async def accept(self, person: Person, record: str) -> TreeHead:
        head = verify_tree_head(b64d(record), self.log_key)
        if self.head is not None:
            answer = await person.client.api.get(
                f"{V1}/transparency/consistency",
                **{"from": self.head.tree_size, "to": head.tree_size},
            )
            verify_tree_head_extends(self.head, head, [b64d(p) for p in answer["proof"]])
        self.head = head
        return head


def included(ref: dict[str, Any], head: TreeHead) -> bytes:
    """The entry of a log reference after checking its proof; its bytes."""
    entry = b64d(ref["entry"])
    verify_entry_included(
        entry, index=ref["index"], tree_head=head, proof=[b64d(p) for p in ref["proof"]]
    )
    return entry


def statement_of(ref: dict[str, Any], head: TreeHead) -> st.Statement:
    parsed = parse_log_entry(included(ref, head))
    assert isinstance(parsed, StatementEntry)
    return parsed.statement


async def head_of(p: Person) -> tuple[dict[str, Any], TreeHead]:
    answer = await p.client.api.get(f"{V1}/transparency/head")
    return answer, parse_tree_head(b64d(answer["tree_head"]))


# ---------------------------------------------------------------- the log


async def test_log_routes_proofs_and_refusals(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        api = w.gp.client.api
        first = await api.get(f"{V1}/transparency/head")
        log_key = b64d(first["log_public_key"])
        assert len(log_key) == 65
        head = verify_tree_head(b64d(first["tree_head"]), log_key)
        # the world's changes are in: first admin, their two organisations, gp, derm
        assert head.tree_size == 5
        page = await api.get(f"{V1}/transparency/entries", start=0, end=100)
        assert page["tree_head"] == first["tree_head"]
        assert [e["index"] for e in page["entries"]] == list(range(5))
        for e in page["entries"]:
            entry = b64d(e["entry"])
            assert isinstance(parse_log_entry(entry), UncertifiedMemberEntry)
            proof = await api.get(f"{V1}/transparency/inclusion", index=e["index"], size=5)
            assert (proof["index"], proof["size"]) == (e["index"], 5)
            verify_entry_included(
                entry, index=e["index"], tree_head=head, proof=[b64d(p) for p in proof["proof"]]
            )
        gp_entry = parse_log_entry(b64d(page["entries"][3]["entry"]))
        assert isinstance(gp_entry, UncertifiedMemberEntry)
        assert str(gp_entry.user_id) == w.gp.user_id
        assert gp_entry.signing_public_key == w.gp.client.identity.signing.public_key  # type: ignore[union-attr]
        # a signed size is required as the target of a proof
        await w.admin.client.invite(w.practice_id, "gp")  # no entry: uncertified invite
        gp2 = await live.person(
            await w.admin.client.invite(w.practice_id, "gp"), "gp2@example.org", "Dr Two"
        )
        later = await gp2.client.api.get(f"{V1}/transparency/head")
        new = verify_tree_head(b64d(later["tree_head"]), log_key)
        assert new.tree_size == 6
        proof = await api.get(f"{V1}/transparency/consistency", **{"from": 5, "to": 6})
        assert (proof["from"], proof["to"]) == (5, 6)
        verify_tree_head_extends(head, new, [b64d(p) for p in proof["proof"]])
        for params, status in [
            ({"from": 2, "to": 3}, 404),  # 3 was never signed
            ({"from": 6, "to": 5}, 400),
            ({"from": -1, "to": 5}, 400),
            ({"from": "x", "to": 5}, 400),
            ({"to": 5}, 400),
        ]:
            assert (await refused(api.get(f"{V1}/transparency/consistency", **params)))[0] == (
                status
            )
        assert await refused(api.get(f"{V1}/transparency/inclusion", index=5, size=5)) == (
            400,
            "bad_request",
        )
        assert (await refused(api.get(f"{V1}/transparency/inclusion", index=0, size=4)))[0] == 404
        assert (await refused(api.get(f"{V1}/transparency/entries", start=3, end=2)))[0] == 400
        assert (await refused(api.get(f"{V1}/transparency/entries", start=0, end=1001)))[0] == 400
        # entries beyond the head are cut at the head's size
        tail = await api.get(f"{V1}/transparency/entries", start=4, end=50)
        assert [e["index"] for e in tail["entries"]] == [4, 5]
        anonymous = live.client()
        assert (await refused(anonymous.api.get(f"{V1}/transparency/head")))[0] == 401


# ---------------------------------------------------------------- organisation keys


@dataclass
class Org:
    org_id: str
    key: KeyPair
    records: KeyPair | None = None


async def set_org_key(
    live: Live, admin: Person, org_id: str, kind: st.OrganisationKind, name: str
) -> tuple[Org, dict[str, Any]]:
    key = generate_key_pair()
    statement = st.make_organisation_key_statement(
        org_id=uuid.UUID(org_id), org_kind=kind, name=name, org_key=key, issued_at_ms=ms(live)
    )
    me = admin.client.identity
    assert me is not None
    wrap = wrap_org_key(
        key,
        org_id=uuid.UUID(org_id),
        recipient_public_key=me.encryption.public_key,
        wrapper_user_id=uuid.UUID(me.user_id),
        wrapper_signing_key=me.signing,
    )
    answer = await admin.client.api.post(
        f"{V1}/orgs/{org_id}/org-key", {"statement": b64e(statement), "wraps": [b64e(wrap)]}
    )
    return Org(org_id, key), answer


def member_statement(
    org: Org, p: Person, role: st.Role, *, signer: KeyPair | None = None, at: int = 1
) -> bytes:
    me = p.client.identity
    assert me is not None
    return st.make_member_statement(
        user_id=uuid.UUID(me.user_id),
        org_id=uuid.UUID(org.org_id),
        role=role,
        signing_public_key=me.signing.public_key,
        encryption_public_key=me.encryption.public_key,
        invite_statement_hash=None,
        signer=signer or org.key,
        issued_at_ms=at,
    )


async def test_organisation_key_wraps_and_certification(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        admin = w.admin.client
        me = admin.identity
        assert me is not None
        base = f"{V1}/orgs/{w.practice_id}"
        practice = uuid.UUID(w.practice_id)
        key = generate_key_pair()
        good = st.make_organisation_key_statement(
            org_id=practice,
            org_kind=st.OrganisationKind.PRACTICE,
            name="Elm Surgery",
            org_key=key,
            issued_at_ms=1,
        )

        def wrap_to(recipient: bytes, by: Any = me, ok: KeyPair = key) -> str:
            return b64e(
                wrap_org_key(
                    ok,
                    org_id=practice,
                    recipient_public_key=recipient,
                    wrapper_user_id=uuid.UUID(by.user_id),
                    wrapper_signing_key=by.signing,
                )
            )

        own = wrap_to(me.encryption.public_key)
        other_key = generate_key_pair()
        bad_statements = [
            # another organisation's id
            st.make_organisation_key_statement(
                org_id=uuid.UUID(w.service_id),
                org_kind=st.OrganisationKind.PRACTICE,
                name="Elm Surgery",
                org_key=key,
                issued_at_ms=1,
            ),
            # another name or kind than the organisation's
            st.make_organisation_key_statement(
                org_id=practice,
                org_kind=st.OrganisationKind.PRACTICE,
                name="Evil Surgery",
                org_key=key,
                issued_at_ms=1,
            ),
            st.make_organisation_key_statement(
                org_id=practice,
                org_kind=st.OrganisationKind.SERVICE,
                name="Elm Surgery",
                org_key=key,
                issued_at_ms=1,
            ),
            good[:-1] + bytes([good[-1] ^ 1]),  # signature broken
            b"\x01\x01\x0c",  # malformed
        ]
        for bad in bad_statements:
            assert await refused(
                admin.api.post(f"{base}/org-key", {"statement": b64e(bad), "wraps": [own]})
            ) == (422, "statement_invalid")
        gp_keys = w.gp.client.identity
        assert gp_keys is not None
        for wraps in (
            [wrap_to(gp_keys.encryption.public_key)],  # to a non-admin (and none to me)
            [wrap_to(me.encryption.public_key, ok=other_key)],  # of another key
            [wrap_to(me.encryption.public_key, by=gp_keys)],  # wrapper is not the caller
            [own[:-3]],  # malformed
        ):
            assert await refused(
                admin.api.post(f"{base}/org-key", {"statement": b64e(good), "wraps": wraps})
            ) == (422, "wrap_invalid")
        assert await refused(
            w.gp.client.api.post(f"{base}/org-key", {"statement": b64e(good), "wraps": [own]})
        ) == (403, "forbidden")
        assert await refused(
            w.derm.client.api.post(f"{base}/org-key", {"statement": b64e(good), "wraps": [own]})
        ) == (404, "not_found")
        assert (await refused(admin.api.get(f"{base}/org-key/wrap")))[0] == 404

        answer = await admin.api.post(f"{base}/org-key", {"statement": b64e(good), "wraps": [own]})
        head = parse_tree_head(b64d(answer["tree_head"]))
        assert statement_of(answer["org_key"], head).record == good
        assert await refused(
            admin.api.post(f"{base}/org-key", {"statement": b64e(good), "wraps": [own]})
        ) == (409, "org_key_exists")
        mine = await admin.api.get(f"{base}/org-key/wrap")
        assert mine["wrapper_user_id"] == me.user_id
        opened = open_org_key_wrap(
            b64d(mine["wrap"]),
            org_id=practice,
            org_key_id=key.key_id,
            recipient=me.encryption,
            wrapper_signing_public_key=b64d(mine["wrapper_signing_public_key"]),
            wrapper_user_id=uuid.UUID(mine["wrapper_user_id"]),
        )
        assert opened.private_key == key.private_key
        orgs = {o["org_id"]: o for o in (await admin.api.get(f"{V1}/orgs"))["organisations"]}
        assert orgs[w.practice_id]["org_key_id"] == key.key_id.hex()
        assert orgs[w.service_id]["org_key_id"] is None
        # wraps to other administrators only (the GP is none)
        assert await refused(
            admin.api.post(
                f"{base}/org-key/wraps", {"wraps": [wrap_to(gp_keys.encryption.public_key)]}
            )
        ) == (422, "wrap_invalid")
        await admin.api.post(f"{base}/org-key/wraps", {"wraps": [own]})

        # certification: exactly the member as the server holds them
        gp = Org(w.practice_id, key)
        for bad in (
            member_statement(gp, w.gp, st.Role.ADMIN),  # a role they do not hold
            member_statement(gp, w.gp, st.Role.GP, signer=other_key),  # wrong signer
            member_statement(gp, w.derm, st.Role.GP),  # not a member here
            b"junk",
        ):
            assert await refused(
                admin.api.post(f"{base}/certifications", {"statement": b64e(bad)})
            ) == (422, "statement_invalid")
        assert (
            await refused(
                w.gp.client.api.post(
                    f"{base}/certifications",
                    {"statement": b64e(member_statement(gp, w.gp, st.Role.GP))},
                )
            )
        )[0] == 403
        certified = await admin.api.post(
            f"{base}/certifications", {"statement": b64e(member_statement(gp, w.gp, st.Role.GP))}
        )
        assert certified["certification"]["invite"] is None
        head = parse_tree_head(b64d(certified["tree_head"]))
        member = statement_of(certified["certification"]["member"], head)
        assert isinstance(member, st.MemberStatement) and str(member.user_id) == w.gp.user_id

        # the directory shows the key and the certification, proved against its head
        d = await w.gp.client.api.get(f"{base}/directory")
        head = verify_tree_head(b64d(d["tree_head"]), await log_key(w))
        ok = statement_of(d["org"]["org_key"], head)
        assert isinstance(ok, st.OrganisationKeyStatement) and ok.org_public_key == key.public_key
        assert d["org"]["org_key_id"] == key.key_id.hex()
        by_id = {m["user_id"]: m for m in d["members"]}
        gp_row = by_id[w.gp.user_id]
        assert gp_row["uncertified"] is None
        st.verify_member_statement(
            statement_of(gp_row["certification"]["member"], head).record,
            org_id=practice,
            org_public_key=key.public_key,
            invite_statement=None,
        )
        admin_row = by_id[me.user_id]
        assert admin_row["certification"] is None
        entry = parse_log_entry(included(admin_row["uncertified"], head))
        assert isinstance(entry, UncertifiedMemberEntry)
        assert entry.signing_public_key == b64d(admin_row["signing_public_key"])
        assert d["removals"] == []


async def log_key(w: World) -> bytes:
    return b64d((await w.gp.client.api.get(f"{V1}/transparency/head"))["log_public_key"])


# ---------------------------------------------------------------- certified invites


async def certified_invite(
    live: Live,
    admin: Person,
    org: Org,
    statement_role: st.Role,
    *,
    handover: bool = False,
    **kw: Any,
) -> tuple[str, bytes, bytes]:
    """An invite made as an administrator's client makes it: token, statement, secret."""
    from crypto.org_key import seal_org_key_handover

    secret = generate_invite_secret()
    invite_key = derive_invite_key(secret)
    token = secrets.token_urlsafe(32)
    statement = st.make_invite_statement(
        org_id=uuid.UUID(org.org_id),
        role=statement_role,
        invite_public_key=invite_key.public_key,
        expires_at_ms=kw.pop("expires_at_ms", ms(live, 3600)),
        token_hash=hashlib.sha256(token.encode()).digest(),
        org_key=org.key,
        issued_at_ms=ms(live),
    )
    body: dict[str, Any] = {
        "role": statement_role.name.lower(),
        "token": token,
        "invite_statement": b64e(statement),
    }
    if handover:
        body["handover"] = b64e(
            seal_org_key_handover(org.key, org_id=uuid.UUID(org.org_id), invite_secret=secret)
        )
    body.update(kw)
    answer = await admin.client.api.post(f"{V1}/orgs/{org.org_id}/invites", body)
    assert answer["token"] == token
    return token, statement, secret


async def accept_certified(
    live: Live,
    token: str,
    login: str,
    org: Org,
    role: st.Role,
    secret: bytes,
    invite_statement: bytes,
    **overrides: Any,
) -> Person:
    enrolment = enrol(PASSWORD)
    member = st.make_member_statement(
        user_id=uuid.UUID(enrolment.identity.user_id),
        org_id=uuid.UUID(org.org_id),
        role=role,
        signing_public_key=enrolment.identity.signing.public_key,
        encryption_public_key=enrolment.identity.encryption.public_key,
        invite_statement_hash=st.statement_hash(invite_statement),
        signer=derive_invite_key(secret),
        issued_at_ms=ms(live),
    )
    body: dict[str, Any] = {
        k: (v if isinstance(v, str) else b64e(v)) for k, v in enrolment.request.items()
    }
    body.update(token=token, login_name=login, display_name=login, member_statement=b64e(member))
    body.update(overrides)
    c = live.client()
    await c.api.post(f"{V1}/invites/accept", {k: v for k, v in body.items() if v is not None})
    assert await c.login(login, PASSWORD) == "enrol"
    enrolment_answer = await c.begin_totp_enrolment()
    secret_totp = urllib.parse.parse_qs(
        urllib.parse.urlparse(enrolment_answer["otpauth_uri"]).query
    )["secret"][0]
    codes = await c.confirm_totp(live.code(secret_totp))
    return Person(c, login, secret_totp, codes)


async def test_certified_invites_inspect_accept_and_refusals(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        admin = w.admin.client
        org, _ = await set_org_key(
            live, w.admin, w.practice_id, st.OrganisationKind.PRACTICE, "Elm Surgery"
        )
        base = f"{V1}/orgs/{w.practice_id}/invites"
        # over HTTP an organisation with a key only makes certified invites
        assert await refused(admin.api.post(base, {"role": "gp"})) == (422, "statement_required")
        token, statement, secret = await certified_invite(
            live, w.admin, org, st.Role.ADMIN, handover=True
        )
        # refusals: no token, wrong token, wrong role, expiry beyond the lifetime, a handover
        # for a non-admin, another key
        assert await refused(
            admin.api.post(base, {"role": "admin", "invite_statement": b64e(statement)})
        ) == (422, "bad_request")
        for kw, role in [
            ({"token": secrets.token_urlsafe(32)}, st.Role.ADMIN),
            ({"role": "gp"}, st.Role.ADMIN),
            ({"expires_at_ms": ms(live, 8 * 24 * 3600)}, st.Role.GP),
            ({"expires_at_ms": ms(live, -1)}, st.Role.GP),
        ]:
            assert await refused(certified_invite(live, w.admin, org, role, **kw)) == (
                422,
                "statement_invalid",
            )
        assert await refused(
            certified_invite(live, w.admin, Org(org.org_id, generate_key_pair()), st.Role.GP)
        ) == (422, "statement_invalid")
        assert await refused(certified_invite(live, w.admin, org, st.Role.GP, handover=True)) == (
            422,
            "statement_invalid",
        )

        # inspection: the statement and the organisation key from the log, and the log key
        newcomer = live.client()
        seen = await newcomer.api.post(f"{V1}/invites/inspect", {"token": token})
        log_key = b64d(seen["log_public_key"])
        head = verify_tree_head(b64d(seen["tree_head"]), log_key)
        ok = statement_of(seen["org_key"], head)
        assert isinstance(ok, st.OrganisationKeyStatement)
        assert ok.org_public_key == org.key.public_key
        invite = statement_of(seen["invite_statement"], head)
        assert invite.record == statement
        st.verify_invite_statement(
            statement, org_id=uuid.UUID(w.practice_id), org_public_key=org.key.public_key
        )
        handed = open_org_key_handover(
            b64d(seen["handover"]),
            org_id=uuid.UUID(w.practice_id),
            invite_secret=secret,
            org_key_id=org.key.key_id,
        )
        assert handed.private_key == org.key.private_key
        # the invite expires exactly at the statement's expiry (to the millisecond)
        assert isinstance(invite, st.InviteStatement)
        expires = datetime.datetime.fromisoformat(seen["expires_at"].replace("Z", "+00:00"))
        assert int(expires.timestamp() * 1000) == invite.expires_at_ms
        assert expires.microsecond % 1000 == 0

        # acceptance: the member statement is required and must say exactly the request
        assert await refused(
            accept_certified(
                live,
                token,
                "x@example.org",
                org,
                st.Role.ADMIN,
                secret,
                statement,
                member_statement=None,
            )
        ) == (422, "statement_required")
        assert await refused(
            accept_certified(live, token, "x@example.org", org, st.Role.GP, secret, statement)
        ) == (422, "statement_invalid")
        assert await refused(
            accept_certified(
                live,
                token,
                "x@example.org",
                org,
                st.Role.ADMIN,
                generate_invite_secret(),
                statement,
            )
        ) == (422, "statement_invalid")
        other = enrol(PASSWORD)
        assert await refused(
            accept_certified(
                live,
                token,
                "x@example.org",
                org,
                st.Role.ADMIN,
                secret,
                statement,
                signing_public_key=b64e(other.identity.signing.public_key),
            )
        ) == (422, "statement_invalid")
        admin2 = await accept_certified(
            live, token, "admin2@example.org", org, st.Role.ADMIN, secret, statement
        )
        d = await admin2.client.api.get(f"{V1}/orgs/{w.practice_id}/directory")
        head = verify_tree_head(b64d(d["tree_head"]), log_key)
        row = {m["user_id"]: m for m in d["members"]}[admin2.user_id]
        member = statement_of(row["certification"]["member"], head)
        assert statement_of(row["certification"]["invite"], head).record == statement
        st.verify_member_statement(
            member.record,
            org_id=uuid.UUID(w.practice_id),
            org_public_key=org.key.public_key,
            invite_statement=statement,
        )
        # a member statement for an uncertified invite is refused; the CLI still makes them
        plain, _invite = await live.services.organisations.invite(
            None, w.practice_id, st_role("gp")
        )
        assert await refused(
            accept_certified(live, plain, "y@example.org", org, st.Role.GP, secret, statement)
        ) == (422, "statement_invalid")


def st_role(name: str) -> Any:
    from server.domain.records import Role

    return Role(name)


# ---------------------------------------------------------------- records keys


def records_statement(
    org: Org, sequence: int, new: KeyPair, *, previous: KeyPair | None, signer: KeyPair
) -> bytes:
    return st.make_records_key_statement(
        org_id=uuid.UUID(org.org_id),
        sequence=sequence,
        records_public_key=new.public_key,
        records_signing_public_key=derive_records_signing_key(new.private_key).public_key,
        previous_records_key_id=None if previous is None else previous.key_id,
        signer=signer,
        issued_at_ms=sequence,
    )


def approval(p: Person, statement: bytes) -> str:
    me = p.client.identity
    assert me is not None
    return b64e(
        st.make_approval_statement(
            approved_statement_hash=st.statement_hash(statement),
            approver_user_id=uuid.UUID(me.user_id),
            approver_signing_key=me.signing,
            issued_at_ms=1,
        )
    )


async def test_records_key_chain_and_two_person_rule(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        admin = w.admin.client
        base = f"{V1}/orgs/{w.practice_id}/records-key"
        # the legacy first key was set at creation: a raw key is refused from now on
        other = generate_key_pair()
        assert await refused(
            admin.api.put(base, {"records_public_key": b64e(other.public_key)})
        ) == (
            409,
            "statement_required",
        )
        assert (await refused(admin.api.put(base, {})))[0] == 422
        org, _ = await set_org_key(
            live, w.admin, w.practice_id, st.OrganisationKind.PRACTICE, "Elm Surgery"
        )
        # a second administrator, certified through an invite with the handover
        token, statement, secret = await certified_invite(
            live, w.admin, org, st.Role.ADMIN, handover=True
        )
        admin2 = await accept_certified(
            live, token, "admin2@example.org", org, st.Role.ADMIN, secret, statement
        )
        # a third administrator, not certified (made by the operator's command line)
        plain, _ = await live.services.organisations.invite(None, w.practice_id, st_role("admin"))
        admin3 = await live.person(plain, "admin3@example.org", "Ann Three")

        rk0 = w.records_key
        # sequence 0 must certify the legacy key, be signed by the OK, and come from an admin
        wrong = records_statement(org, 0, generate_key_pair(), previous=None, signer=org.key)
        assert await refused(admin.api.put(base, {"statement": b64e(wrong)})) == (
            422,
            "statement_invalid",
        )
        forged = records_statement(org, 0, rk0, previous=None, signer=generate_key_pair())
        assert await refused(admin.api.put(base, {"statement": b64e(forged)})) == (
            422,
            "statement_invalid",
        )
        seq0 = records_statement(org, 0, rk0, previous=None, signer=org.key)
        assert await refused(w.gp.client.api.put(base, {"statement": b64e(seq0)})) == (
            403,
            "forbidden",
        )
        skip = records_statement(org, 1, generate_key_pair(), previous=rk0, signer=org.key)
        assert await refused(admin.api.put(base, {"statement": b64e(skip)})) == (
            409,
            "records_key_sequence",
        )
        answer = await admin.api.put(base, {"statement": b64e(seq0)})
        assert answer["pending"] is None and b64d(answer["records_public_key"]) == rk0.public_key
        # the admin now certifies themselves (so that they can approve later)
        await admin.api.post(
            f"{V1}/orgs/{w.practice_id}/certifications",
            {"statement": b64e(member_statement(org, w.admin, st.Role.ADMIN))},
        )

        # rollover: signed by the records signing key of sequence 0, current at once
        rk1 = generate_key_pair()
        seq1 = records_statement(
            org, 1, rk1, previous=rk0, signer=derive_records_signing_key(rk0.private_key)
        )
        answer = await admin.api.put(base, {"statement": b64e(seq1)})
        assert b64d(answer["records_public_key"]) == rk1.public_key
        assert await refused(admin.api.put(base, {"statement": b64e(seq1)})) == (
            409,
            "records_key_sequence",
        )

        # a change signed by the organisation key waits for two certified administrators
        rk2 = generate_key_pair()
        seq2 = records_statement(org, 2, rk2, previous=rk1, signer=org.key)
        status_answer = await admin.api.request("PUT", base, {"statement": b64e(seq2)})
        pending = status_answer["pending"]
        assert pending["statement_hash"] == st.statement_hash(seq2).hex()
        assert b64d(status_answer["records_public_key"]) == rk1.public_key  # not yet
        listed = await w.gp.client.api.get(f"{base}/pending")
        assert [p["statement_hash"] for p in listed["pending"]] == [pending["statement_hash"]]
        approvals = f"{base}/approvals"
        # refusals: a GP, an uncertified admin, someone else's approval, an unknown change,
        # a malformed one
        assert (await refused(w.gp.client.api.post(approvals, {"approval": approval(w.gp, seq2)})))[
            0
        ] == 403
        assert await refused(
            admin3.client.api.post(approvals, {"approval": approval(admin3, seq2)})
        ) == (403, "forbidden")
        assert await refused(admin.api.post(approvals, {"approval": approval(admin2, seq2)})) == (
            422,
            "statement_invalid",
        )
        assert await refused(admin.api.post(approvals, {"approval": approval(w.admin, seq1)})) == (
            404,
            "not_found",
        )
        assert await refused(admin.api.post(approvals, {"approval": b64e(b"junk")})) == (
            422,
            "statement_invalid",
        )
        first = await admin.api.post(approvals, {"approval": approval(w.admin, seq2)})
        assert first["current_sequence"] == 1
        assert len(first["pending"]["approvals"]) == 1
        # the same administrator twice counts once
        assert (await refused(admin.api.post(approvals, {"approval": approval(w.admin, seq2)})))[
            0
        ] == 409
        done = await admin2.client.api.post(approvals, {"approval": approval(admin2, seq2)})
        assert done == {"pending": None, "current_sequence": 2}
        assert (await w.gp.client.api.get(f"{base}/pending"))["pending"] == []

        # every member sees the chain, which verifies with the clients' own function
        d = await w.gp.client.api.get(f"{V1}/orgs/{w.practice_id}/directory")
        head = verify_tree_head(b64d(d["tree_head"]), await log_key(w))
        assert b64d(d["org"]["records_public_key"]) == rk2.public_key
        chain = [
            st.RecordsKeyChange(
                statement_of(link["statement"], head).record,
                tuple(statement_of(a, head).record for a in link["approvals"]),
            )
            for link in d["org"]["records_keys"]
        ]
        assert [c.statement for c in chain] == [seq0, seq1, seq2]
        admins = []
        for m in d["members"]:
            cert = m["certification"]
            if cert is not None:
                admins.append(
                    st.CertifiedMember(
                        statement_of(cert["member"], head).record,
                        None
                        if cert["invite"] is None
                        else statement_of(cert["invite"], head).record,
                    )
                )
        newest = st.verify_records_key_chain(
            chain,
            org_id=uuid.UUID(w.practice_id),
            org_public_key=org.key.public_key,
            admins=admins,
            pin=st.RecordsKeyPin(0, rk0.public_key),
        )
        assert newest.records_public_key == rk2.public_key


async def test_every_directory_change_extends_the_log(tmp_path: Path) -> None:
    """After each kind of directory change the new signed head extends the previous one,
    and the change is in the log."""
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        v = Verifier(await log_key(w))
        await v.accept(w.gp, (await head_of(w.gp))[0]["tree_head"])
        sizes = [v.head.tree_size if v.head else 0]

        async def step() -> None:
            answer, _ = await head_of(w.gp)
            head = await v.accept(w.gp, answer["tree_head"])
            sizes.append(head.tree_size)

        await w.admin.client.create_organisation("practice", "Oak Surgery")
        await step()
        org, _ = await set_org_key(
            live, w.admin, w.practice_id, st.OrganisationKind.PRACTICE, "Elm Surgery"
        )
        await step()
        await w.admin.client.api.post(
            f"{V1}/orgs/{w.practice_id}/certifications",
            {"statement": b64e(member_statement(org, w.gp, st.Role.GP))},
        )
        await step()
        token, statement, secret = await certified_invite(live, w.admin, org, st.Role.GP)
        await step()
        await accept_certified(live, token, "gp3@example.org", org, st.Role.GP, secret, statement)
        await step()
        seq0 = records_statement(org, 0, w.records_key, previous=None, signer=org.key)
        await w.admin.client.api.put(
            f"{V1}/orgs/{w.practice_id}/records-key", {"statement": b64e(seq0)}
        )
        await step()
        assert sizes == [5, 6, 7, 8, 9, 10, 11]


async def test_removals_are_in_the_log_and_the_directory(tmp_path: Path) -> None:
    """Disabling an account and removing a role each append a removal entry (0x03) with the
    change; members see them in the directory, outsiders of a service only those about its
    dermatologists."""
    from crypto.log_entry import RemovalEntry, RemovalReason

    async with live_server(tmp_path) as live:
        w = await make_world(live)
        key = await log_key(w)
        before, _ = await head_of(w.gp)
        gp2 = await live.person(
            await w.admin.client.invite(w.practice_id, "gp"), "gp2@example.org", "Dr Two"
        )
        derm2 = await live.person(
            await w.admin.client.invite(w.service_id, "dermatologist"), "d2@example.org", "Dr D"
        )
        ro = await live.person(
            await w.admin.client.invite(w.service_id, "records_officer"), "ro@example.org", "Rec"
        )
        await w.admin.client.api.post(f"{V1}/users/{gp2.user_id}/disable")
        await w.admin.client.api.post(
            f"{V1}/orgs/{w.service_id}/users/{derm2.user_id}/remove-role",
            {"role": "dermatologist"},
        )
        await w.admin.client.api.post(
            f"{V1}/orgs/{w.service_id}/users/{ro.user_id}/remove-role",
            {"role": "records_officer"},
        )
        v = Verifier(key)
        await v.accept(w.gp, before["tree_head"])
        d = await w.gp.client.api.get(f"{V1}/orgs/{w.practice_id}/directory")
        head = await v.accept(w.gp, d["tree_head"])
        gone = [parse_log_entry(included(r, head)) for r in d["removals"]]
        assert len(gone) == 1 and isinstance(gone[0], RemovalEntry)
        assert str(gone[0].user_id) == gp2.user_id
        assert gone[0].reason is RemovalReason.ACCOUNT_DISABLED and gone[0].org_id is None
        assert gp2.user_id not in {m["user_id"] for m in d["members"]}
        # the GP is outside the service: the dermatologist's removal only
        d = await w.gp.client.api.get(f"{V1}/orgs/{w.service_id}/directory")
        head = await v.accept(w.gp, d["tree_head"])
        gone = [parse_log_entry(included(r, head)) for r in d["removals"]]
        assert [(str(g.user_id), g.reason, g.role) for g in gone] == [  # type: ignore[attr-defined]
            (derm2.user_id, RemovalReason.ROLE_REMOVED, st.Role.DERMATOLOGIST)
        ]
        # a member of the service sees both
        d = await w.derm.client.api.get(f"{V1}/orgs/{w.service_id}/directory")
        assert len(d["removals"]) == 2
        # an id that is not a UUID is simply not found
        assert (
            await refused(
                w.admin.client.api.post(
                    f"{V1}/orgs/{w.service_id}/users/nobody/remove-role", {"role": "auditor"}
                )
            )
        )[0] == 404


async def test_case_detail_is_self_contained_for_a_reader(tmp_path: Path) -> None:
    """GET /cases/{id}: one head; each participant's organisation and newest entry; the
    practice's and the service's organisation key and records-key chain; the log entry of
    a removal that was a directory change."""
    from crypto.log_entry import RemovalEntry, RemovalReason
    from tests.samples import HISTORY

    async with live_server(tmp_path) as live:
        w = await make_world(live)
        org, _ = await set_org_key(
            live, w.admin, w.practice_id, st.OrganisationKind.PRACTICE, "Elm Surgery"
        )
        await w.admin.client.api.post(
            f"{V1}/orgs/{w.practice_id}/certifications",
            {"statement": b64e(member_statement(org, w.gp, st.Role.GP))},
        )
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        d = await w.gp.client.api.get(f"{V1}/cases/{case_id}")
        head = verify_tree_head(b64d(d["tree_head"]), await log_key(w))
        people = {p["user_id"]: p for p in d["participants"]}
        gp_row, derm_row = people[w.gp.user_id], people[w.derm.user_id]
        assert (gp_row["org_id"], derm_row["org_id"]) == (w.practice_id, w.service_id)
        member = statement_of(gp_row["certification"]["member"], head)
        assert isinstance(member, st.MemberStatement)
        assert member.signing_public_key == b64d(gp_row["signing_public_key"])
        assert gp_row["uncertified"] is None
        entry = parse_log_entry(included(derm_row["uncertified"], head))
        assert isinstance(entry, UncertifiedMemberEntry)
        assert entry.encryption_public_key == b64d(derm_row["encryption_public_key"])
        orgs = {o["org_id"]: o for o in d["orgs"]}
        assert set(orgs) == {w.practice_id, w.service_id}
        ok = statement_of(orgs[w.practice_id]["org_key"], head)
        assert isinstance(ok, st.OrganisationKeyStatement)
        assert ok.org_public_key == org.key.public_key
        assert orgs[w.service_id]["org_key"] is None
        assert orgs[w.practice_id]["records_keys"] == []
        # the legacy records key is reachable from the case (a dermatologist rotating it
        # wraps to it, and sees no practice directory)
        assert b64d(orgs[w.practice_id]["records_public_key"]) == w.records_key.public_key
        assert orgs[w.practice_id]["org_key_id"] == org.key.key_id.hex()
        d_derm = await w.derm.client.api.get(f"{V1}/cases/{case_id}")
        assert {o["org_id"]: o["records_public_key"] for o in d_derm["orgs"]} == {
            w.practice_id: b64e(w.records_key.public_key),
            w.service_id: None,
        }

        await w.admin.client.api.post(f"{V1}/users/{w.derm.user_id}/disable")
        d = await w.gp.client.api.get(f"{V1}/cases/{case_id}")
        head = verify_tree_head(b64d(d["tree_head"]), await log_key(w))
        [removed] = d["removed"]
        assert removed["user_id"] == w.derm.user_id
        gone = parse_log_entry(included(removed["log"], head))
        assert isinstance(gone, RemovalEntry) and gone.reason is RemovalReason.ACCOUNT_DISABLED
