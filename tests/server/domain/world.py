"""A small world for domain tests: the real domain services over a store and a fake clock,
people made through the invite service with real account keys, and cases made with real
case-key wraps. No network, no aiohttp, no HTTP client.

The clients' crypto runs here in a few lines (``crypto`` recipes), so a test can seal a
message or wrap a key exactly as a client would, and a bad one on purpose.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

import storage
from crypto.account import AccountKeys, KeyPair, generate_account_keys, generate_key_pair
from crypto.case_key import generate_case_key, wrap_case_key
from crypto.content import ContentType, encode_content
from crypto.envelope import GENESIS_HASH, seal_legacy_message_from_parts, seal_message
from crypto.password import encode_kdf_params, new_salt
from server.domain.accounts import InviteAcceptance, actor_of
from server.domain.cases import CaseChange, NewCaseRequest, WrapIn
from server.domain.clock import FakeClock
from server.domain.notifications import InPageNotifier, Mailer, PushGateway
from server.domain.policy import Actor
from server.services import Services, build_services
from server.settings import Settings, load_settings
from storage import OrgKind, Role
from tests.samples import HISTORY

__all__ = [
    "Clinic",
    "Enrolled",
    "Member",
    "RecordingPublisher",
    "World",
    "clinic",
    "domain_settings",
]

SECRET = b"\x07" * 32


def domain_settings(data_dir: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "allowed_origins": "http://dermline.test",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "auth_rate_per_minute": 1000,
        # tests make changes and read them back at once; one head per second is
        # checked by its own test (tests/server/domain/test_transparency.py)
        "tree_head_interval_ms": 0,
    }
    base.update(overrides)
    return load_settings(environ={}, overrides=base)


@dataclass
class RecordingPublisher:
    """Remembers what the case service published, in order."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    async def message_appended(self, case: storage.Case, message: storage.Message) -> None:
        self.events.append(("message", message))

    async def case_changed(self, change: CaseChange) -> None:
        self.events.append(("case", change))

    async def participants_removed(self, case_id: str, user_ids: Any) -> None:
        self.events.append(("removed", (case_id, tuple(user_ids))))

    def of(self, kind: str) -> list[Any]:
        return [item for k, item in self.events if k == kind]


@dataclass
class Member:
    """A person with an account: their stored user, key pairs and credentials."""

    user: storage.User
    keys: AccountKeys
    login_name: str
    auth_key: bytes

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @property
    def actor(self) -> Actor:
        return actor_of(self.user)


@dataclass(frozen=True)
class Enrolled:
    """A first sign-in: the full session's token, the TOTP secret, the recovery codes."""

    token: str
    secret: str
    recovery_codes: list[str]


@dataclass
class World:
    services: Services
    store: storage.Storage
    clock: FakeClock
    publisher: RecordingPublisher
    #: user ids told "sessions revoked", in order
    revoked: list[str]
    #: case keys by case id (what the participants' clients hold)
    case_keys: dict[str, bytes] = field(default_factory=dict)
    #: keys of later epochs by (case id, epoch), and each case's newest epoch
    epoch_keys: dict[tuple[str, int], bytes] = field(default_factory=dict)
    case_epochs: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        store: storage.Storage,
        data_dir: Path,
        *,
        push_gateway: PushGateway | None = None,
        mailer: Mailer | None = None,
        in_page: InPageNotifier | None = None,
        **settings: Any,
    ) -> World:
        clock = FakeClock()
        publisher = RecordingPublisher()
        revoked: list[str] = []

        async def on_revoked(user_id: str) -> None:
            revoked.append(user_id)

        services = build_services(
            domain_settings(data_dir, **settings),
            store,
            clock,
            SECRET,
            publisher,
            on_revoked,
            push_gateway=push_gateway,
            mailer=mailer,
            in_page=in_page,
        )
        return cls(services, store, clock, publisher, revoked)

    async def org(
        self, kind: OrgKind, name: str, records_key: KeyPair | None = None
    ) -> storage.Organisation:
        return await self.services.organisations.create_organisation(
            kind,
            name,
            records_public_key=None if records_key is None else records_key.public_key,
            actor=None,
            client=None,
        )

    async def member(self, org_id: str, role: Role, name: str) -> Member:
        """A person invited (by the operator) and signed up with real key material."""
        token, _invite = await self.services.organisations.invite(None, org_id, role)
        keys = generate_account_keys()
        auth_key = os.urandom(32)
        login = f"{name}@example.org"
        user = await self.services.organisations.accept_invite(
            InviteAcceptance(
                token=token,
                user_id=str(uuid.uuid4()),
                login_name=login,
                display_name=name,
                kdf_params=encode_kdf_params(new_salt()),
                auth_key=auth_key,
                wrapped_usk=b"wrapped-usk",
                encryption_public_key=keys.encryption.public_key,
                signing_public_key=keys.signing.public_key,
                sealed_private_keys=b"sealed-private-keys",
            ),
            None,
        )
        return Member(user, keys, login, auth_key)

    def code(self, secret: str) -> str:
        """The TOTP code of the next time step (the clock moves on, so no code repeats)."""
        self.clock.advance(30)
        return pyotp.TOTP(secret).at(self.clock.now())

    async def enrol(self, member: Member) -> Enrolled:
        """Sign in for the first time: password, TOTP enrolment, confirmation."""
        step = await self.services.signin.login_password(
            member.login_name, member.auth_key, client="test"
        )
        assert step.next == "enrol"
        uri, _svg = await self.services.second_factor.begin_enrolment(step.token)
        secret = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]
        done, codes = await self.services.second_factor.confirm_enrolment(
            step.token, self.code(secret), client="test"
        )
        return Enrolled(done.token, secret, codes)

    async def sign_in(self, member: Member, secret: str) -> str:
        """Password and TOTP again; the full session's token."""
        step = await self.services.signin.login_password(
            member.login_name, member.auth_key, client="test"
        )
        assert step.next == "totp"
        done = await self.services.second_factor.verify(
            step.token, code=self.code(secret), recovery_code=None, client="test"
        )
        return done.token

    async def refresh(self, member: Member) -> Member:
        """The member with their stored user as it is now (memberships, lockout, TOTP)."""
        return dataclasses.replace(member, user=await self.store.get_user(member.user_id))

    def wrap(
        self, case_key: bytes, case_id: str, by: Member, to: bytes, *, epoch: int = 0
    ) -> bytes:
        return wrap_case_key(
            case_key,
            case_id=uuid.UUID(case_id),
            epoch=epoch,
            recipient_public_key=to,
            wrapper_user_id=uuid.UUID(by.user_id),
            wrapper_signing_key=by.keys.signing,
        )

    def case_request(
        self,
        gp: Member,
        practice: storage.Organisation,
        service: storage.Organisation,
        derms: list[Member],
        records_key: KeyPair,
        *,
        draft: bool = False,
    ) -> NewCaseRequest:
        """What ``gp``'s client sends to open a case addressed to ``derms``, every wrap right
        (tests replace a wrap to see it refused)."""
        case_id = str(uuid.uuid4())
        key = generate_case_key()
        self.case_keys[case_id] = key
        wraps = [
            WrapIn("user", m.user_id, self.wrap(key, case_id, gp, m.keys.encryption.public_key))
            for m in [gp, *derms]
        ]
        wraps.append(
            WrapIn(
                "organisation", practice.org_id, self.wrap(key, case_id, gp, records_key.public_key)
            )
        )
        return NewCaseRequest(
            case_id=case_id,
            practice_id=practice.org_id,
            service_id=service.org_id,
            priority="routine",
            participants=[gp.user_id, *(m.user_id for m in derms)],
            case_keys=wraps,
            draft=draft,
        )

    async def case(
        self,
        gp: Member,
        practice: storage.Organisation,
        service: storage.Organisation,
        derms: list[Member],
        records_key: KeyPair,
        *,
        draft: bool = False,
    ) -> storage.Case:
        """A case opened by ``gp`` and addressed to ``derms``, with every wrap right."""
        request = self.case_request(gp, practice, service, derms, records_key, draft=draft)
        return await self.services.cases.create(gp.actor, request, None)

    def seal(
        self,
        sender: Member,
        case_id: str,
        content_type: ContentType = ContentType.TEXT,
        body: dict[str, Any] | None = None,
        *,
        msg_id: str | None = None,
        for_case: str | None = None,
        epoch: int | None = None,
        signing_key: KeyPair | None = None,
        legacy: bool = False,
    ) -> tuple[str, bytes]:
        """(client message id, envelope) as the sender's client makes it; ``for_case``
        seals it naming another case, ``signing_key`` signs it with another key than the
        sender's, ``legacy`` makes the outdated 0x07 record (forgeries and old clients the
        server must refuse). ``epoch`` defaults to the newest key this world made for the
        case (``case_epochs``)."""
        msg_id = msg_id or str(uuid.uuid4())
        if body is None:
            body = HISTORY if content_type is ContentType.CLINICAL_HISTORY else {"text": "hello"}
        if epoch is None:
            epoch = self.case_epochs.get(case_id, 0)
        key = self.case_keys[case_id] if epoch == 0 else self.epoch_keys[(case_id, epoch)]
        parts: dict[str, Any] = {
            "case_key": key,
            "case_id": uuid.UUID(for_case or case_id),
            "epoch": epoch,
            "client_message_id": uuid.UUID(msg_id),
            "sender_user_id": uuid.UUID(sender.user_id),
            "sender_signing_key": (signing_key or sender.keys.signing),
            "content_type": content_type,
            "previous_hash": GENESIS_HASH,
        }
        if legacy:
            parts["nonce"] = os.urandom(12)
            parts["timestamp_ms"] = 1_700_000_000_000
            envelope = seal_legacy_message_from_parts(encode_content(content_type, body), **parts)
        else:
            envelope = seal_message(encode_content(content_type, body), **parts)
        return msg_id, envelope


@dataclass
class Clinic:
    """The usual cast: a practice (with a records key) and its GP, a service and two of
    its dermatologists (both addressed), and a practice and service of strangers."""

    world: World
    practice: storage.Organisation
    service: storage.Organisation
    records_key: KeyPair
    gp: Member
    derm: Member
    derm2: Member
    other_practice: storage.Organisation
    other_records_key: KeyPair
    stranger: Member

    def case_request(self) -> NewCaseRequest:
        return self.world.case_request(
            self.gp, self.practice, self.service, [self.derm, self.derm2], self.records_key
        )

    async def case(self, *, draft: bool = False) -> storage.Case:
        return await self.world.case(
            self.gp,
            self.practice,
            self.service,
            [self.derm, self.derm2],
            self.records_key,
            draft=draft,
        )


async def clinic(world: World) -> Clinic:
    records = generate_key_pair()
    practice = await world.org(OrgKind.PRACTICE, "Elm Surgery", records)
    service = await world.org(OrgKind.SERVICE, "Skin Service")
    other_records = generate_key_pair()
    other = await world.org(OrgKind.PRACTICE, "Oak Surgery", other_records)
    return Clinic(
        world,
        practice,
        service,
        records,
        await world.member(practice.org_id, Role.GP, "gp"),
        await world.member(service.org_id, Role.DERMATOLOGIST, "derm"),
        await world.member(service.org_id, Role.DERMATOLOGIST, "derm2"),
        other,
        other_records,
        await world.member(other.org_id, Role.GP, "stranger"),
    )
