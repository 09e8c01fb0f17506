"""What the client refuses to do because it cannot trust what the server said.

Each error has a stable ``code`` (the command line prints it) and a ``message`` in plain
words for the person: fixed text that may name a colleague or an organisation (display
names, never keys, codes or patient data). docs/protocol.md section 18 says when each one
is raised; docs/threat-model.md lists the attacks behind them.
"""

from __future__ import annotations

__all__ = [
    "KeyChangedError",
    "LogRewrittenError",
    "NoKeyLogError",
    "NoPendingChangeError",
    "NoRecordsKeyError",
    "NotInLogError",
    "NotVerifiedError",
    "OrgKeyChangedError",
    "RecordsKeyChangedError",
    "RemovedPersonError",
    "StaleLogError",
    "TrustError",
    "UnknownPersonError",
    "UnknownRecordsKeyError",
    "VerifiedKeyChangedError",
]


class TrustError(Exception):
    """The client will not go on: what the server showed does not match what it trusts."""

    code = "trust_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyChangedError(TrustError):
    """An unverified colleague's keys differ from the pinned ones: encrypting to them (or
    trusting their signatures) is blocked until the user accepts the change."""

    code = "key_changed"

    def __init__(self, user_id: str, name: str) -> None:
        super().__init__(
            f"{name}'s security keys have changed. Nothing is encrypted to them until you "
            f"compare the safety number with them (dermline-client keys safety-number "
            f"{user_id}) and accept the change (dermline-client keys accept {user_id})."
        )
        self.user_id = user_id
        self.name = name


class VerifiedKeyChangedError(TrustError):
    """A colleague whose safety number was compared now shows other keys: a hard stop."""

    code = "verified_key_changed"

    def __init__(self, user_id: str, name: str) -> None:
        super().__init__(
            f"{name}'s security keys have changed although you verified them. Do not send "
            f"them anything until you have compared the new safety number in person "
            f"(dermline-client keys safety-number {user_id}, then keys verify {user_id})."
        )
        self.user_id = user_id
        self.name = name


class NoPendingChangeError(TrustError):
    code = "no_change"

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}'s keys have not changed: there is nothing to accept.")


class UnknownPersonError(TrustError):
    code = "unknown_person"

    def __init__(self) -> None:
        super().__init__("No one with that user id is in your directory or your pins.")


class RecordsKeyChangedError(TrustError):
    """The organisation's records key is not the pinned one and no valid chain leads to it."""

    code = "records_key_changed"

    def __init__(self, org_name: str) -> None:
        super().__init__(
            f"The records key of {org_name} has changed without a valid signed change. "
            f"Nothing is encrypted to it; ask the practice's administrators what happened."
        )


class OrgKeyChangedError(TrustError):
    """A pinned organisation now shows another organisation key: a hard stop."""

    code = "org_key_changed"

    def __init__(self, org_name: str) -> None:
        super().__init__(
            f"The organisation key of {org_name} is not the one you pinned. Nothing is "
            f"encrypted to its members until an administrator has checked it out of band."
        )


class LogRewrittenError(TrustError):
    """A tree head that does not verify or does not extend the pinned one: a hard stop."""

    code = "log_rewritten"

    def __init__(self) -> None:
        super().__init__(
            "The server's key log has been rewritten: its new signed state does not extend "
            "the one you saw before. Stop and tell your administrator; the two signed heads "
            "are the evidence."
        )


class NotInLogError(TrustError):
    """A key or statement the server showed is not proven to be in its key log."""

    code = "not_in_log"

    def __init__(self, what: str) -> None:
        super().__init__(
            f"The server showed {what} without proof that it is in its public key log. "
            f"Nothing is encrypted to it."
        )


class StaleLogError(TrustError):
    """A tree head older than the pinned one (though consistent with it): the server is
    holding back newer entries, such as a removal or a key change."""

    code = "stale_log"

    def __init__(self) -> None:
        super().__init__(
            "The server showed an older state of its key log than you saw before: it may be "
            "hiding a change (a removal or a new key). Nothing is encrypted until it shows "
            "the current state."
        )


class RemovedPersonError(TrustError):
    """The key log records a removal of this person that the server's answer ignores."""

    code = "removed_person"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The key log records that {name} was removed, but the server still lists them. "
            f"Nothing is encrypted to them."
        )


class NoRecordsKeyError(TrustError):
    code = "no_records_key"

    def __init__(self, org_name: str) -> None:
        super().__init__(f"{org_name} has no records key yet: a case cannot be opened.")


class UnknownRecordsKeyError(TrustError):
    """A new epoch must be wrapped to the practice's records key, and the server showed this
    device none it can check (only members of the practice see it without the key log)."""

    code = "records_key_unknown"

    def __init__(self) -> None:
        super().__init__(
            "This device cannot check the practice's records key, so it cannot start the "
            "case's new key epoch; another participant (the referring GP) will."
        )


class NotVerifiedError(TrustError):
    """Certifying someone vouches for their keys to the whole organisation: compare first."""

    code = "not_verified"

    def __init__(self, user_id: str, name: str) -> None:
        super().__init__(
            f"Compare the safety number with {name} first (dermline-client keys "
            f"safety-number {user_id}, then keys verify {user_id}); only then certify them."
        )


class NoKeyLogError(TrustError):
    """A directory or case answer without its tree head: nothing in it can be checked."""

    code = "no_key_log"

    def __init__(self) -> None:
        super().__init__(
            "The server answered without its key log, so none of the keys in the answer can "
            "be checked. Nothing is encrypted with them; tell your administrator."
        )
