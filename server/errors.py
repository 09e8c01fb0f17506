"""Stable error codes and the exceptions that carry them to the wire.

Every refusal of the server has its class here, whichever module raises it: the domain
services (``server/domain/``) and the transports' own edge checks (a media type, a
header). Domain code raises :class:`DomainError` subclasses (no aiohttp here); the one
HTTP error mapper (``server.api.middleware``) and the Socket.IO handlers turn them into
``{"error": {"code": ..., "message": ...}}``. Codes are part of the public API
(``docs/api.md``): never rename one. Messages are fixed strings chosen here, never built
from user input, so no patient data or secret can reach a response or a log line through
them (STYLE "Errors"; Synapse ``api/errors.py`` ``Codes``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AddressLocked",
    "AuthError",
    "BadRequest",
    "CaseKeyMismatch",
    "Conflict",
    "CsrfFailed",
    "DomainError",
    "EmptyUpload",
    "EnvelopeOutdated",
    "EpochConflict",
    "ErrorCode",
    "Forbidden",
    "HashMismatch",
    "InvalidCredentials",
    "InvalidHeader",
    "InvalidInput",
    "InvalidTotp",
    "InvalidTransition",
    "InviteInvalid",
    "KeyRotationRequired",
    "LengthRequired",
    "LinkInvalid",
    "Locked",
    "MfaRequired",
    "NotFound",
    "OrgKeyExists",
    "PasskeyInvalid",
    "PasskeyRequired",
    "PayloadTooLarge",
    "RateLimited",
    "RecordsKeySequence",
    "RequestTimeout",
    "SignInDelayed",
    "SignatureInvalid",
    "StaleEpoch",
    "StatementInvalid",
    "StatementRequired",
    "Unavailable",
    "UnsupportedMediaType",
    "UploadIncomplete",
    "WrapInvalid",
    "WrapOutdated",
    "WrapRecipients",
]


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    VALIDATION_FAILED = "validation_failed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    LENGTH_REQUIRED = "length_required"
    EMPTY_UPLOAD = "empty_upload"
    HASH_MISMATCH = "hash_mismatch"
    INVALID_HEADER = "invalid_header"
    UPLOAD_INCOMPLETE = "upload_incomplete"
    REQUEST_TIMEOUT = "request_timeout"
    CASE_KEY_MISMATCH = "case_key_mismatch"
    SIGNATURE_INVALID = "signature_invalid"
    ENVELOPE_OUTDATED = "envelope_outdated"
    WRAP_OUTDATED = "wrap_outdated"
    WRAP_RECIPIENTS = "wrap_recipients"
    KEY_ROTATION_REQUIRED = "key_rotation_required"
    STALE_EPOCH = "stale_epoch"
    EPOCH_CONFLICT = "epoch_conflict"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_CREDENTIALS = "invalid_credentials"
    MFA_REQUIRED = "mfa_required"
    INVALID_TOTP = "invalid_totp"
    PASSKEY_INVALID = "passkey_invalid"
    PASSKEY_REQUIRED = "passkey_required"
    ACCOUNT_LOCKED = "account_locked"
    ADDRESS_LOCKED = "address_locked"
    SIGNIN_DELAYED = "signin_delayed"
    CSRF_FAILED = "csrf_failed"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    INVALID_TRANSITION = "invalid_transition"
    INVITE_INVALID = "invite_invalid"
    LINK_INVALID = "link_invalid"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_SOCKETS = "too_many_sockets"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    # verified keys (docs/api.md, "Transparency log", "Organisation key", "Records keys")
    STATEMENT_INVALID = "statement_invalid"
    STATEMENT_REQUIRED = "statement_required"
    WRAP_INVALID = "wrap_invalid"
    ORG_KEY_EXISTS = "org_key_exists"
    RECORDS_KEY_SEQUENCE = "records_key_sequence"


#: HTTP status of each code; the Socket.IO layer sends the code alone.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.VALIDATION_FAILED: 422,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.LENGTH_REQUIRED: 411,
    ErrorCode.EMPTY_UPLOAD: 422,
    ErrorCode.HASH_MISMATCH: 422,
    ErrorCode.INVALID_HEADER: 400,
    ErrorCode.UPLOAD_INCOMPLETE: 400,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.CASE_KEY_MISMATCH: 422,
    ErrorCode.SIGNATURE_INVALID: 422,
    ErrorCode.ENVELOPE_OUTDATED: 422,
    ErrorCode.WRAP_OUTDATED: 422,
    ErrorCode.WRAP_RECIPIENTS: 422,
    ErrorCode.KEY_ROTATION_REQUIRED: 409,
    ErrorCode.STALE_EPOCH: 409,
    ErrorCode.EPOCH_CONFLICT: 409,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.MFA_REQUIRED: 401,
    ErrorCode.INVALID_TOTP: 401,
    ErrorCode.PASSKEY_INVALID: 401,
    ErrorCode.PASSKEY_REQUIRED: 403,
    ErrorCode.ACCOUNT_LOCKED: 423,
    ErrorCode.ADDRESS_LOCKED: 429,
    ErrorCode.SIGNIN_DELAYED: 429,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.INVITE_INVALID: 410,
    ErrorCode.LINK_INVALID: 410,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.TOO_MANY_SOCKETS: 429,  # a Socket.IO connect refusal; no HTTP route answers it
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
    ErrorCode.STATEMENT_INVALID: 422,
    ErrorCode.STATEMENT_REQUIRED: 422,  # 409 where a raw records key meets a chain
    ErrorCode.WRAP_INVALID: 422,
    ErrorCode.ORG_KEY_EXISTS: 409,
    ErrorCode.RECORDS_KEY_SEQUENCE: 409,
}


class DomainError(Exception):
    """Base class: an expected refusal with a stable code and a fixed, data-free message."""

    code: ErrorCode = ErrorCode.BAD_REQUEST
    message: str = "the request was refused"
    #: the HTTP status when it is not the code's usual one (``HTTP_STATUS``)
    status: int | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int | None = None,
        status: int | None = None,
    ) -> None:
        if message is not None:
            self.message = message
        self.retry_after = retry_after
        if status is not None:
            self.status = status
        #: Extra fields of the error object beside ``code`` and ``message`` (numbers only,
        #: e.g. the case's key epoch); both transports send them.
        self.fields: dict[str, int] = {}
        super().__init__(self.message)


class InvalidInput(DomainError):
    code = ErrorCode.VALIDATION_FAILED
    message = "the request body is not valid"


class AuthError(DomainError):
    code = ErrorCode.UNAUTHENTICATED
    message = "sign in first"


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN
    message = "you may not do this"


class NotFound(DomainError):
    """Also what another organisation's case answers, so existence is never revealed."""

    code = ErrorCode.NOT_FOUND
    message = "not found"


class Conflict(DomainError):
    code = ErrorCode.CONFLICT
    message = "the resource changed or already exists"


class InvalidCredentials(DomainError):
    """A wrong login name or password (auth key): one answer for both."""

    code = ErrorCode.INVALID_CREDENTIALS
    message = "the name or password is not right"


class MfaRequired(DomainError):
    """A password-verified session that has not passed the second factor yet."""

    code = ErrorCode.MFA_REQUIRED
    message = "finish signing in with your authenticator code"


class InvalidTotp(DomainError):
    """A TOTP or recovery code that is wrong, reused or malformed: one answer for all."""

    code = ErrorCode.INVALID_TOTP
    message = "the code is not valid"


class PasskeyInvalid(DomainError):
    """A passkey answer (WebAuthn registration or assertion) that was refused. ``reason`` is
    one of :attr:`REASONS` (stable codes, ``docs/api.md`` "Passkeys"); the message is that
    reason's fixed text."""

    code = ErrorCode.PASSKEY_INVALID
    message = "the passkey was not accepted"
    REASONS: dict[str, str] = {
        "malformed": "the passkey's answer could not be read",
        "challenge": "the passkey answered a request that is unknown or was used already",
        "expired": "the passkey request has expired; start again",
        "origin": "the passkey answered for another website",
        "rp_id": "the passkey belongs to another website",
        "user_verification": "the passkey did not verify you (fingerprint, face or PIN)",
        "counter": "the passkey's counter went backwards; it may have been copied",
        "unknown_credential": "this passkey is not registered to this account",
        "signature": "the passkey's signature or attestation is not valid",
    }

    def __init__(self, reason: str) -> None:
        self.reason = reason if reason in self.REASONS else "malformed"
        super().__init__(self.REASONS[self.reason])


class PasskeyRequired(DomainError):
    """The person's organisation requires a passkey: the TOTP code is refused (a recovery
    code is still accepted; ``docs/architecture.md``, "Passkeys")."""

    code = ErrorCode.PASSKEY_REQUIRED
    message = "your organisation requires you to sign in with a passkey"


class InviteInvalid(DomainError):
    """An invite that is unknown, used, cancelled, expired or for another login name."""

    code = ErrorCode.INVITE_INVALID
    message = "this invitation is not valid any more"


class InvalidTransition(DomainError):
    code = ErrorCode.INVALID_TRANSITION
    message = "the case cannot make this move in its current state"


class LinkInvalid(DomainError):
    """A patient link that is unknown, used, revoked or expired: one answer for all."""

    code = ErrorCode.LINK_INVALID
    message = "this link cannot be used; ask your GP practice for a new one"


class Locked(DomainError):
    """The account refuses every address it has not signed in from (the account-wide cap
    of failures, NIST SP 800-63B 5.2.2; docs/architecture.md "Login attempts")."""

    code = ErrorCode.ACCOUNT_LOCKED
    message = "too many failed attempts on this account; try again later"


class AddressLocked(Locked):
    """This address made too many failed attempts on this account; other addresses (the
    real person's) are not affected."""

    code = ErrorCode.ADDRESS_LOCKED
    message = "too many failed attempts on this account from this address; try again later"


class RateLimited(DomainError):
    """A rate limit on a group of routes: per address (all accounts together), or per
    patient link."""

    code = ErrorCode.RATE_LIMITED
    message = "too many requests; slow down"


class SignInDelayed(RateLimited):
    """The growing wait between failed attempts on one account from one address (seconds,
    in Retry-After)."""

    code = ErrorCode.SIGNIN_DELAYED
    message = "wait a few seconds before the next attempt on this account"


class PayloadTooLarge(DomainError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    message = "the request body is too large"


class CsrfFailed(DomainError):
    code = ErrorCode.CSRF_FAILED
    message = "missing or wrong CSRF token"


class Unavailable(DomainError):
    """The database or disk failed; the request may be retried (503)."""

    code = ErrorCode.UNAVAILABLE
    message = "the service is briefly unavailable; try again"


class LengthRequired(DomainError):
    """An upload without ``Content-Length`` (chunked): photos are uploaded with a
    Content-Length (``docs/api.md``, "Photos"), so the cap is checked before any byte is
    read."""

    code = ErrorCode.LENGTH_REQUIRED
    message = "send the photo with a Content-Length header"


class EmptyUpload(DomainError):
    """A body too short to be an attachment record (never empty: header plus one tag)."""

    code = ErrorCode.EMPTY_UPLOAD
    message = "the upload is empty or too short to be an encrypted photo"


class HashMismatch(DomainError):
    code = ErrorCode.HASH_MISMATCH
    message = "the upload does not match its declared SHA-256"


class InvalidHeader(DomainError):
    """A malformed request header; the message names the header, never its value."""

    code = ErrorCode.INVALID_HEADER
    message = "a request header is malformed"


class UnsupportedMediaType(DomainError):
    """A JSON route called with another ``Content-Type`` (raised by the HTTP layer)."""

    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    message = "send application/json"


class UploadIncomplete(DomainError):
    """The client closed the connection before sending ``Content-Length`` bytes."""

    code = ErrorCode.UPLOAD_INCOMPLETE
    message = "the upload ended before its declared length"


class RequestTimeout(DomainError):
    """No byte of the request body arrived for ``DERMLINE_BODY_READ_TIMEOUT`` seconds."""

    code = ErrorCode.REQUEST_TIMEOUT
    message = "the request body stopped arriving"


class CaseKeyMismatch(DomainError):
    """The case key wraps of one epoch do not all commit to the same case key (their key
    commitments differ; docs/protocol.md section 8)."""

    code = ErrorCode.CASE_KEY_MISMATCH
    message = "the case key wraps do not all commit to the same case key"


class BadRequest(DomainError):
    """A query that cannot be answered as asked (a size beyond the log, start after end)."""

    code = ErrorCode.BAD_REQUEST
    message = "the request is malformed"


class StatementInvalid(DomainError):
    """A signed directory statement (docs/protocol.md section 20) that does not verify, is
    signed by the wrong key or says something other than the request and the directory."""

    code = ErrorCode.STATEMENT_INVALID
    message = "the signed statement is not valid for this request"


class StatementRequired(DomainError):
    """The organisation has an organisation key (or a certified records key): the change
    must come as a signed statement."""

    code = ErrorCode.STATEMENT_REQUIRED
    message = "this change needs a statement signed for the organisation"


class WrapInvalid(DomainError):
    """An organisation-key wrap (record 0x0f) whose header does not name this organisation,
    its key, an administrator's encryption key or the caller as wrapper."""

    code = ErrorCode.WRAP_INVALID
    message = "an organisation key wrap is not valid"


class OrgKeyExists(DomainError):
    code = ErrorCode.ORG_KEY_EXISTS
    message = "the organisation already has an organisation key"


class RecordsKeySequence(DomainError):
    code = ErrorCode.RECORDS_KEY_SEQUENCE
    message = "the records key statement is not the next in the chain"


class SignatureInvalid(DomainError):
    """A message whose signature does not verify with its sender's current signing key
    (docs/protocol.md section 23, "Server")."""

    code = ErrorCode.SIGNATURE_INVALID
    message = "the message signature does not verify with your signing key"


class EnvelopeOutdated(DomainError):
    """A new message in the legacy envelope (type 0x07, not bound to the epoch's case key
    commitment); new messages are type 0x0e (docs/protocol.md section 22)."""

    code = ErrorCode.ENVELOPE_OUTDATED
    message = "the message uses an outdated envelope; update the app"


class WrapOutdated(DomainError):
    """A legacy case key wrap (type 0x06, no key commitment); wraps are type 0x0b."""

    code = ErrorCode.WRAP_OUTDATED
    message = "case key wraps must carry a key commitment (type 0x0b); update the app"


class WrapRecipients(DomainError):
    """A new epoch's wraps do not cover exactly the remaining participants and records keys
    (one missing, one for a removed person or a stranger, or one twice)."""

    code = ErrorCode.WRAP_RECIPIENTS
    message = "the wraps must cover every remaining participant and records key, no one else"


class KeyRotationRequired(DomainError):
    """Someone was removed from the case: nothing more is accepted at the current epoch
    until a participant posts the next one (docs/protocol.md section 24)."""

    code = ErrorCode.KEY_ROTATION_REQUIRED
    message = "the case key must be changed first after a change of members"

    def __init__(self, key_epoch: int, next_epoch: int) -> None:
        super().__init__()
        self.fields = {"key_epoch": key_epoch, "next_epoch": next_epoch}


class StaleEpoch(DomainError):
    """A message sealed under an epoch older than the case's current one."""

    code = ErrorCode.STALE_EPOCH
    message = "the case key has changed; reload the case and send again"

    def __init__(self, key_epoch: int) -> None:
        super().__init__()
        self.fields = {"key_epoch": key_epoch}


class EpochConflict(DomainError):
    """A new epoch posted for a key epoch that is no longer the case's (another participant
    rotated first)."""

    code = ErrorCode.EPOCH_CONFLICT
    message = "the case key was changed meanwhile; reload the case"

    def __init__(self, key_epoch: int) -> None:
        super().__init__()
        self.fields = {"key_epoch": key_epoch}
