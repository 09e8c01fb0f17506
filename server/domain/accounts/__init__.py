"""Accounts: one service per job, each module opening with its rules.

* ``organisations``   organisations, invites (make, list, cancel, accept), the first admin
* ``signin``          pre-login, the password step, changing the password
* ``throttle``        one check at a time, backoff, lockout, unknown ("ghost") names
* ``second_factor``   TOTP enrolment and verification, recovery codes
* ``passkeys``        passkeys (WebAuthn): registration, the second factor, sign-in by passkey
* ``passkey_policy``  organisations' passkey requirements; which second step comes next
* ``sessions``        session tokens: create, authenticate, logout, revoke, list
* ``administration``  admins over people: list users, reset 2FA, revoke a user's sessions

``server.services.build_services`` wires them (one throttle, one Argon2 hasher and one
session service shared by the others). Every security-relevant action is audited (action
codes in ``docs/api.md``); the clock and the server secret are given, never global.
"""

from server.domain.accounts._common import AccountSettings, AuthKeyHasher, actor_of, hash_token
from server.domain.accounts.administration import AdministrationService
from server.domain.accounts.organisations import (
    CertifiedInvite,
    InviteAcceptance,
    InviteStatus,
    InviteSummary,
    OrganisationService,
    invite_status,
)
from server.domain.accounts.passkey_policy import PasskeyPolicy, PasskeyPolicyService
from server.domain.accounts.passkeys import PasskeyService, PasskeySettings, PasskeySignIn
from server.domain.accounts.second_factor import SecondFactorService
from server.domain.accounts.sessions import Authenticated, LoginStep, SessionService
from server.domain.accounts.signin import SignInService
from server.domain.accounts.throttle import LoginThrottle

__all__ = [
    "AccountSettings",
    "AdministrationService",
    "AuthKeyHasher",
    "Authenticated",
    "CertifiedInvite",
    "InviteAcceptance",
    "InviteStatus",
    "InviteSummary",
    "LoginStep",
    "LoginThrottle",
    "OrganisationService",
    "PasskeyPolicy",
    "PasskeyPolicyService",
    "PasskeyService",
    "PasskeySettings",
    "PasskeySignIn",
    "SecondFactorService",
    "SessionService",
    "SignInService",
    "actor_of",
    "hash_token",
    "invite_status",
]
