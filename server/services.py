"""The object graph the transports use, built once per app from the settings (no globals).

The transports (``server/api``, ``server/realtime``) reach the domain services only; the
store stays inside them (``Services`` has no ``store``), so every use of the data goes
through a domain operation that checks who may do it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import storage
from server.domain.accounts import (
    AccountSettings,
    AdministrationService,
    AuthKeyHasher,
    LoginThrottle,
    OrganisationService,
    PasskeyPolicyService,
    PasskeyService,
    PasskeySettings,
    SecondFactorService,
    SessionService,
    SignInService,
)
from server.domain.cases import CaseService, NullPublisher, Publisher
from server.domain.clock import Clock
from server.domain.directory import DirectoryService
from server.domain.notifications import (
    InPageNotifier,
    Mailer,
    NotificationService,
    NotifyingPublisher,
    PushGateway,
    PushSettings,
)
from server.domain.org_keys import OrgKeyService
from server.domain.patient_links import PatientLinkService
from server.domain.retention import RetentionService
from server.domain.transparency import TransparencyService
from server.keyfile import derive_key
from server.ratelimit import RateLimiter
from server.settings import Settings

__all__ = ["Services", "build_services"]


@dataclass
class Services:
    settings: Settings
    clock: Clock
    organisations: OrganisationService
    # Organisation keys, certifications, the records-key chain (docs/protocol.md 20-21).
    org_keys: OrgKeyService
    signin: SignInService
    second_factor: SecondFactorService
    passkeys: PasskeyService
    passkey_policy: PasskeyPolicyService
    sessions: SessionService
    administration: AdministrationService
    directory: DirectoryService
    cases: CaseService
    patient_links: PatientLinkService
    auth_limiter: RateLimiter
    # Records retention, legal holds, disposal (docs/operations.md, "Retention").
    retention: RetentionService
    # The key transparency log (docs/protocol.md section 19).
    transparency: TransparencyService
    # Web Push, e-mail notices, notification settings (docs/architecture.md).
    notifications: NotificationService


def build_services(
    settings: Settings,
    store: storage.Storage,
    clock: Clock,
    server_secret: bytes,
    publisher: Publisher | None = None,
    on_sessions_revoked: Callable[[str], Awaitable[None]] | None = None,
    observe_login: Callable[[str], None] = lambda _event: None,
    push_gateway: PushGateway | None = None,
    mailer: Mailer | None = None,
    in_page: InPageNotifier | None = None,
) -> Services:
    account_settings = AccountSettings(
        session_ttl=settings.session_ttl,
        session_idle_timeout=settings.session_idle_timeout,
        invite_ttl=settings.invite_ttl,
        login_max_failures=settings.login_max_failures,
        login_lockout=settings.login_lockout,
        login_account_limit=settings.login_account_limit,
        mfa_pending_ttl=settings.mfa_pending_ttl,
    )
    secret = derive_key(server_secret, "accounts")
    hasher = AuthKeyHasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    throttle = LoginThrottle(store, account_settings, clock, secret, observe_login)
    sessions = SessionService(store, account_settings, clock, on_sessions_revoked)
    passkey_policy = PasskeyPolicyService(store, clock, settings.mfa_pending_ttl)
    second_factor = SecondFactorService(store, clock, secret, throttle, sessions, passkey_policy)
    passkeys = PasskeyService(
        store,
        clock,
        PasskeySettings(
            rp_id=settings.webauthn_rp_id(),
            rp_name="Dermline",
            origins=settings.webauthn_origins(),
            challenge_ttl=settings.passkey_challenge_ttl,
        ),
        throttle,
        sessions,
        second_factor,
        passkey_policy,
    )
    notifications = NotificationService(
        store,
        clock,
        PushSettings(
            services=settings.push_services,
            contact=settings.vapid_contact(),
            ttl=settings.push_ttl,
            coalesce=settings.notify_coalesce_ms / 1000,
            email_interval=settings.email_interval,
            app_url=settings.origins()[0] + "/",
        ),
        push_gateway,
        mailer,
        in_page=in_page,
    )
    # After each commit: the real-time layer, then the notifications (noted, sent later).
    cases = CaseService(
        store, clock, NotifyingPublisher(publisher or NullPublisher(), notifications)
    )
    transparency = TransparencyService(
        store, clock, min_interval=settings.tree_head_interval_ms / 1000
    )
    directory = DirectoryService(store, transparency)
    cases.prove = directory.case_proofs

    def now() -> float:
        return clock.now().timestamp()

    return Services(
        settings=settings,
        clock=clock,
        organisations=OrganisationService(store, account_settings, clock, hasher, transparency),
        org_keys=OrgKeyService(store, clock, transparency),
        signin=SignInService(store, clock, secret, hasher, throttle, sessions, passkey_policy),
        second_factor=second_factor,
        passkeys=passkeys,
        passkey_policy=passkey_policy,
        sessions=sessions,
        administration=AdministrationService(store, clock, sessions, cases.removed_from),
        directory=directory,
        cases=cases,
        patient_links=PatientLinkService(
            store,
            clock,
            cases,
            # Per address: as strict as sign-in (guessing a 256-bit token is hopeless, but
            # each guess costs a database lookup). Per link: a patient sending ten photos
            # makes about 22 requests; 60 a minute leaves room for retries.
            address_limiter=RateLimiter(per_minute=settings.auth_rate_per_minute, clock=now),
            link_limiter=RateLimiter(per_minute=60, clock=now),
        ),
        auth_limiter=RateLimiter(per_minute=settings.auth_rate_per_minute, clock=now),
        retention=RetentionService(store, clock),
        transparency=transparency,
        notifications=notifications,
    )
