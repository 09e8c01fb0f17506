"""What administrators and records officers do with the organisation key and the records key
(docs/protocol.md sections 20 and 21; routes in docs/api.md "Organisation key", "Invites",
"Records keys"), and accepting a certified invite link.

* :func:`setup_org_key` - an administrator makes the organisation key (OK), publishes its
  self-signed statement, wraps the private key (0x0f) to every administrator whose keys the
  log and the pins vouch for, and certifies themself.
* :func:`org_private_key` - an administrator's own wrap of OK, opened only if the wrapper is
  themself or a certified administrator and the key is the pinned one.
* :func:`certify` - OK signs a member statement for a colleague whose safety number the
  administrator compared (``keys verify``) and whose keys the log shows.
* :func:`certified_invite` - a fresh invite secret ``s``, the invite statement signed by OK
  and, for an administrator, the handover of OK sealed under ``s``; returns the link whose
  fragment carries ``s`` and OK's key id.
* :func:`accept_certified` - derive the invite key from ``s``, check the organisation key
  against the link's key id and the invite statement against it, sign the member statement
  with the invite key, pin OK; an administrator's handover is opened and re-wrapped to
  themself after sign-in.
* :func:`records_key_statement`, :func:`approve_records_key` - the records-key chain: a
  rollover signed by the current records key, a certification of the first key or a change
  signed by OK (pending two approvals), and an approval.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from client_py.api import b64d, b64e
from client_py.directory import included, verify_org_key
from client_py.errors import NotInLogError, NotVerifiedError, TrustError
from client_py.keylog import KeyLog
from client_py.pins import PinStore
from crypto.account import KeyPair, generate_key_pair
from crypto.errors import (
    InviteLinkFormatError,
    InviteStatementError,
    OrgKeyHandoverError,
    OrgKeyUnwrapError,
    StatementError,
)
from crypto.fingerprint import key_id
from crypto.invite import (
    InviteLink,
    derive_invite_key,
    format_invite_fragment,
    generate_invite_secret,
    parse_invite_fragment,
)
from crypto.log_entry import StatementEntry
from crypto.org_key import (
    open_org_key_handover,
    open_org_key_wrap,
    seal_org_key_handover,
    wrap_org_key,
)
from crypto.records_key import derive_records_signing_key
from crypto.statement import (
    OrganisationKind,
    RecordsKeyStatement,
    Role,
    invite_token_hash,
    make_approval_statement,
    make_invite_statement,
    make_member_statement,
    make_organisation_key_statement,
    make_records_key_statement,
    verify_invite_statement,
    verify_statement,
)

if TYPE_CHECKING:
    from client_py.client import DermlineClient
    from client_py.identity import Enrolment

__all__ = [
    "InviteLinkMismatchError",
    "PendingHandover",
    "accept_certified",
    "approve_records_key",
    "certified_invite",
    "certify",
    "org_private_key",
    "parse_link",
    "records_key_statement",
    "setup_org_key",
    "wrap_handover",
]

V1 = "/api/v1"
#: A certified invite's lifetime: a little under the server's default (7 days) so that the
#: server, which refuses an expiry beyond its lifetime, accepts it despite clock skew.
INVITE_LIFETIME_MS = (7 * 24 - 1) * 3600 * 1000


class InviteLinkMismatchError(TrustError):
    """The invite the server shows is not the one the link's fragment vouches for."""

    code = "invite_mismatch"

    def __init__(self) -> None:
        super().__init__(
            "This invite link does not match what the server shows for it (another "
            "organisation key, or an invite the organisation did not sign). Do not use it; "
            "ask the person who sent it."
        )


@dataclass
class PendingHandover:
    """An administrator's invite carried OK: re-wrap it to them once they are signed in."""

    org_id: str
    org_key: KeyPair = field(repr=False)


def parse_link(text: str) -> InviteLink | None:
    """An invite link, its fragment or a bare token; None if it is none of these (then the
    caller sends it as a token and the server answers)."""
    fragment = text.split("#/invite/", 1)[-1]
    try:
        return parse_invite_fragment(fragment)
    except InviteLinkFormatError:
        return None


def _fingerprint(public_key: bytes) -> str:
    digits = key_id(public_key).hex()
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _roles_in(member: dict[str, Any], org_id: str) -> list[Role]:
    return [Role[m["role"].upper()] for m in member.get("memberships", []) if m["org_id"] == org_id]


async def setup_org_key(client: DermlineClient, org_id: str) -> str:
    """Make and publish the organisation key; returns its fingerprint for out-of-band checks."""
    me = client._me()
    directory = await client.keylog.directory(org_id)
    org = directory.org
    ok = generate_key_pair()
    statement = make_organisation_key_statement(
        org_id=uuid.UUID(org_id),
        org_kind=OrganisationKind[org["kind"].upper()],
        name=org["name"],
        org_key=ok,
        issued_at_ms=client.clock_ms(),
    )
    recipients = {me.user_id: me.encryption.public_key}
    for user, member in directory.members.items():
        if Role.ADMIN in _roles_in(directory.raw_members[user], org_id):
            recipients[user] = member.encryption_public_key
    wraps = [
        b64e(
            wrap_org_key(
                ok,
                org_id=uuid.UUID(org_id),
                recipient_public_key=public_key,
                wrapper_user_id=uuid.UUID(me.user_id),
                wrapper_signing_key=me.signing,
            )
        )
        for public_key in recipients.values()
    ]
    answer = await client.api.post(
        f"{V1}/orgs/{org_id}/org-key", {"statement": b64e(statement), "wraps": wraps}
    )
    head = await client.keylog.accept_head(answer["tree_head"])
    published = verify_org_key({**org, "org_key": answer["org_key"]}, head)
    if published is None or published.org_public_key != ok.public_key:
        raise NotInLogError(f"the organisation key of {org['name']}")
    client.pins.pin_org_key(org_id, org["name"], ok.public_key)
    await certify(client, org_id, me.user_id, org_key=ok)
    return _fingerprint(ok.public_key)


async def org_private_key(client: DermlineClient, org_id: str) -> KeyPair:
    """The organisation key from this administrator's wrap (0x0f)."""
    me = client._me()
    directory = await client.keylog.directory(org_id)
    if directory.org_public_key is None:
        raise NotInLogError(f"the organisation key of {directory.org['name']}")
    answer = await client.api.get(f"{V1}/orgs/{org_id}/org-key/wrap")
    wrapper = answer["wrapper_user_id"]
    if wrapper == me.user_id:
        signing = me.signing.public_key
    else:
        # The server's convenience key is ignored: the wrapper must be a certified
        # administrator whose keys the log and the pins vouch for.
        member = directory.members.get(wrapper)
        if member is None or not member.certified or member.role is not Role.ADMIN:
            raise NotInLogError("the administrator who wrapped the organisation key")
        signing = member.signing_public_key
    try:
        return open_org_key_wrap(
            b64d(answer["wrap"]),
            org_id=uuid.UUID(org_id),
            org_key_id=key_id(directory.org_public_key),
            recipient=me.encryption,
            wrapper_signing_public_key=signing,
            wrapper_user_id=uuid.UUID(wrapper),
        )
    except OrgKeyUnwrapError:
        raise NotInLogError(f"the organisation key of {directory.org['name']}") from None


async def certify(
    client: DermlineClient, org_id: str, user_id: str, *, org_key: KeyPair | None = None
) -> list[Role]:
    """Certify a member's keys with OK (one member statement per role they hold there).

    Someone else must have been verified on this device first (``keys verify``: the safety
    number compared), and the keys certified are the ones the log shows and the pins hold.
    """
    me = client._me()
    ok = org_key or await org_private_key(client, org_id)
    directory = await client.keylog.directory(org_id)
    if user_id == me.user_id:
        signing, encryption = me.signing.public_key, me.encryption.public_key
    else:
        if user_id in directory.refused:
            raise directory.refused[user_id]
        member = directory.members.get(user_id)
        pin = client.pins.people.get(user_id)
        if member is None or pin is None:
            raise NotInLogError("that person's security keys")
        if not pin.verified:
            raise NotVerifiedError(user_id, pin.name)
        signing, encryption = member.signing_public_key, member.encryption_public_key
    roles = _roles_in(directory.raw_members.get(user_id, {}), org_id)
    for role in roles:
        statement = make_member_statement(
            user_id=uuid.UUID(user_id),
            org_id=uuid.UUID(org_id),
            role=role,
            signing_public_key=signing,
            encryption_public_key=encryption,
            invite_statement_hash=None,
            signer=ok,
            issued_at_ms=client.clock_ms(),
        )
        await client.api.post(f"{V1}/orgs/{org_id}/certifications", {"statement": b64e(statement)})
    return roles


async def certified_invite(
    client: DermlineClient, org_id: str, role: str, login_name: str | None = None
) -> str:
    """Make a certified invite; returns the link (the fragment after ``#`` never reaches the
    server: it carries ``s`` and the organisation key's id)."""
    ok = await org_private_key(client, org_id)
    token = b64e(secrets.token_bytes(32))
    secret = generate_invite_secret()
    invite_key = derive_invite_key(secret)
    now = client.clock_ms()
    statement = make_invite_statement(
        org_id=uuid.UUID(org_id),
        role=Role[role.upper()],
        invite_public_key=invite_key.public_key,
        expires_at_ms=now + INVITE_LIFETIME_MS,
        token_hash=invite_token_hash(token),
        org_key=ok,
        issued_at_ms=now,
    )
    body: dict[str, Any] = {"role": role, "token": token, "invite_statement": b64e(statement)}
    if login_name:
        body["login_name"] = login_name
    if role == "admin":
        body["handover"] = b64e(
            seal_org_key_handover(ok, org_id=uuid.UUID(org_id), invite_secret=secret)
        )
    await client.api.post(f"{V1}/orgs/{org_id}/invites", body)
    fragment = format_invite_fragment(token, secret, key_id(ok.public_key))
    return f"{client.base_url}/#/invite/{fragment}"


async def accept_certified(
    client: DermlineClient, link: InviteLink, enrolment: Enrolment, pins: PinStore
) -> tuple[bytes, PendingHandover | None]:
    """Check a certified invite against its link and return (the member statement to send,
    the handover to re-wrap after sign-in, if any). ``pins`` are the newcomer's: the log key
    comes from the inspect answer on first contact (or was given out of band), and the
    organisation key is pinned from the link's key id."""
    assert link.secret is not None and link.org_key_id is not None
    inspect = await client.api.post(f"{V1}/invites/inspect", {"token": link.token})
    log_key = pins.log_public_key or client._log_public_key or b64d(inspect["log_public_key"])
    keylog = KeyLog(client.api, pins, log_public_key=log_key)
    org_id = inspect["org_id"]
    head = await keylog.accept_head(inspect["tree_head"])
    org = {"org_id": org_id, "name": inspect["org_name"], "org_key": inspect.get("org_key")}
    statement = verify_org_key(org, head)
    if statement is None or key_id(statement.org_public_key) != link.org_key_id:
        raise InviteLinkMismatchError
    ok = statement.org_public_key
    if inspect.get("invite_statement") is None:
        raise InviteLinkMismatchError
    entry = included(inspect["invite_statement"], head, "the invite")
    invite_key = derive_invite_key(link.secret)
    try:
        if not isinstance(entry, StatementEntry):
            raise InviteStatementError
        invite = verify_invite_statement(
            entry.statement.record, org_id=uuid.UUID(org_id), org_public_key=ok
        )
    except InviteStatementError:
        raise InviteLinkMismatchError from None
    if (
        invite.token_hash != invite_token_hash(link.token)
        or invite.invite_public_key != invite_key.public_key
    ):
        raise InviteLinkMismatchError
    identity = enrolment.identity
    member = make_member_statement(
        user_id=uuid.UUID(identity.user_id),
        org_id=uuid.UUID(org_id),
        role=invite.role,
        signing_public_key=identity.signing.public_key,
        encryption_public_key=identity.encryption.public_key,
        invite_statement_hash=invite.hash,
        signer=invite_key,
        issued_at_ms=client.clock_ms(),
    )
    keylog.pins.pin_org_key(org_id, inspect["org_name"], ok)
    handover = None
    if inspect.get("handover"):
        try:
            org_key = open_org_key_handover(
                b64d(inspect["handover"]),
                org_id=uuid.UUID(org_id),
                invite_secret=link.secret,
                org_key_id=link.org_key_id,
            )
        except OrgKeyHandoverError:
            raise InviteLinkMismatchError from None
        handover = PendingHandover(org_id, org_key)
    return member, handover


async def wrap_handover(client: DermlineClient, handover: PendingHandover) -> None:
    """After sign-in: wrap the organisation key from an administrator's invite to
    themself, so they no longer depend on the link."""
    me = client._me()
    wrap = wrap_org_key(
        handover.org_key,
        org_id=uuid.UUID(handover.org_id),
        recipient_public_key=me.encryption.public_key,
        wrapper_user_id=uuid.UUID(me.user_id),
        wrapper_signing_key=me.signing,
    )
    await client.api.post(f"{V1}/orgs/{handover.org_id}/org-key/wraps", {"wraps": [b64e(wrap)]})


async def records_key_statement(
    client: DermlineClient, org_id: str, new: KeyPair, *, current: KeyPair | None = None
) -> dict[str, Any]:
    """Publish the records key pair ``new`` (from its file) as the next link of the chain.

    ``current``: the current records key pair (its file); its records signing key signs a
    rollover. Without it, OK signs: the first certified key (which must be the uncertified
    key already in use, if any) or a change that waits for two administrators' approvals.
    Returns the server's answer (a pending change is answered 202 with ``pending``).
    """
    directory = await client.keylog.directory(org_id)
    in_use = client.keylog.records_key(
        directory.org, directory.head, directory.org_public_key, directory.admins()
    )
    pin = client.pins.orgs.get(org_id)
    if pin is None or pin.records_sequence is None:
        sequence, previous = 0, None
        if in_use is not None and in_use != new.public_key:
            raise TrustError(
                "The first certified records key must be the one already in use: give its key file."
            )
    else:
        sequence, previous = pin.records_sequence + 1, pin.records_public_key
    if current is not None:
        if previous is None or current.public_key != previous:
            raise TrustError("That key file is not the organisation's current records key.")
        signer = derive_records_signing_key(current.private_key)
    else:
        signer = await org_private_key(client, org_id)
    statement = make_records_key_statement(
        org_id=uuid.UUID(org_id),
        sequence=sequence,
        records_public_key=new.public_key,
        records_signing_public_key=derive_records_signing_key(new.private_key).public_key,
        previous_records_key_id=None if previous is None else key_id(previous),
        signer=signer,
        issued_at_ms=client.clock_ms(),
    )
    answer = await client.api.put(f"{V1}/orgs/{org_id}/records-key", {"statement": b64e(statement)})
    return dict(answer or {})


async def approve_records_key(client: DermlineClient, org_id: str) -> dict[str, Any]:
    """Approve the pending records-key change after checking it: signed by the pinned OK,
    the next sequence, naming the current records key. Returns the server's answer."""
    me = client._me()
    directory = await client.keylog.directory(org_id)
    if directory.org_public_key is None:
        raise NotInLogError(f"the organisation key of {directory.org['name']}")
    # The current key as the log's chain proves it (this also moves the pin to it).
    client.keylog.records_key(
        directory.org, directory.head, directory.org_public_key, directory.admins()
    )
    answer = await client.api.get(f"{V1}/orgs/{org_id}/records-key/pending")
    if not answer["pending"]:
        raise TrustError("There is no pending records key change to approve.")
    record = b64d(answer["pending"][0]["statement"])
    try:
        change = verify_statement(record, directory.org_public_key)
    except StatementError:
        raise NotInLogError("the proposed records key") from None
    pin = client.pins.orgs.get(org_id)
    if (
        not isinstance(change, RecordsKeyStatement)
        or str(change.org_id) != org_id
        or pin is None
        or pin.records_public_key is None
        or change.previous_records_key_id != key_id(pin.records_public_key)
        or change.sequence != (pin.records_sequence or 0) + 1
    ):
        raise NotInLogError("the proposed records key")
    approval = make_approval_statement(
        approved_statement_hash=change.hash,
        approver_user_id=uuid.UUID(me.user_id),
        approver_signing_key=me.signing,
        issued_at_ms=client.clock_ms(),
    )
    return dict(
        await client.api.post(
            f"{V1}/orgs/{org_id}/records-key/approvals", {"approval": b64e(approval)}
        )
    )
