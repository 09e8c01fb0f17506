"""The WebAuthn checks of one registration or assertion, over py_webauthn (``webauthn``).

Rules
-----
* Each refusal is :class:`server.errors.PasskeyInvalid` with one fixed reason code
  (``docs/api.md``, "Passkeys"): the checks a test must be able to tell apart (origin,
  relying party, user verification, counter, signature) run here first, in the order of
  WebAuthn Level 3 sections 7.1 and 7.2, each with its own reason; then py_webauthn runs
  the whole verification again (attestation statement, algorithm, signature), so nothing
  is accepted that the library refuses.
* User verification is required (a biometric or the device PIN): with it a passkey is a
  multi-factor cryptographic authenticator (NIST SP 800-63B section 5.1.9), which is what
  lets it replace the TOTP code and, for a discoverable passkey, the password too
  (``docs/architecture.md``, "Passkeys").
* The signature counter must grow, unless the authenticator keeps none (both zero, as
  synced passkeys do): a counter that does not grow may be a cloned authenticator.
* Input is hostile: any exception while reading it is ``malformed``; the library's own
  messages (which quote values) never leave this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import (
    base64url_to_bytes,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorData,
    ClientDataType,
    CredentialDeviceType,
)

from server.errors import PasskeyInvalid

__all__ = [
    "ALGORITHMS",
    "Assertion",
    "Registration",
    "challenge_of",
    "check_assertion",
    "check_registration",
    "credential_id_of",
]

#: COSE algorithms accepted at registration: ES256 (every platform authenticator), EdDSA,
#: RS256 (Windows Hello).
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]


@dataclass(frozen=True)
class Registration:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: tuple[str, ...]
    backup_eligible: bool
    backed_up: bool


@dataclass(frozen=True)
class Assertion:
    credential_id: bytes
    sign_count: int
    backed_up: bool
    user_handle: bytes | None


def _client_data(raw: bytes, kind: ClientDataType, origins: tuple[str, ...]) -> bytes:
    """Check type and origin; return the challenge (compared by the caller's lookup)."""
    try:
        data = parse_client_data_json(raw)
    except Exception:
        raise PasskeyInvalid("malformed") from None
    if data.type != kind:
        raise PasskeyInvalid("malformed")
    if data.origin not in origins:
        raise PasskeyInvalid("origin")
    if data.cross_origin:
        # Dermline is never framed (CSP frame-ancestors 'none'): an answer made in a frame
        # was made for another top-level site.
        raise PasskeyInvalid("origin")
    return data.challenge


def _authenticator(data: AuthenticatorData, rp_id: str) -> None:
    if data.rp_id_hash != hashlib.sha256(rp_id.encode("utf-8")).digest():
        raise PasskeyInvalid("rp_id")
    if not data.flags.up or not data.flags.uv:
        raise PasskeyInvalid("user_verification")


def challenge_of(credential: Any) -> bytes:
    """The challenge an answer claims to answer (to find it in storage). Malformed input is
    ``malformed``; whether the challenge is ours is for the lookup to say."""
    try:
        raw = credential["response"]["clientDataJSON"]
        if not isinstance(raw, str):
            raise TypeError
        challenge = parse_client_data_json(base64url_to_bytes(raw)).challenge
    except Exception:
        raise PasskeyInvalid("malformed") from None
    if not 16 <= len(challenge) <= 64:
        raise PasskeyInvalid("challenge")
    return challenge


def credential_id_of(credential: Any) -> bytes:
    try:
        parsed = parse_authentication_credential_json(credential)
    except Exception:
        raise PasskeyInvalid("malformed") from None
    if not 1 <= len(parsed.raw_id) <= 1023:
        raise PasskeyInvalid("malformed")
    return parsed.raw_id


def check_registration(
    credential: Any, *, challenge: bytes, rp_id: str, origins: tuple[str, ...]
) -> Registration:
    """Verify the answer to ``navigator.credentials.create()`` ("none" attestation asked;
    any attestation statement the library can verify is accepted, none is required)."""
    try:
        parsed = parse_registration_credential_json(credential)
        attestation = parse_attestation_object(parsed.response.attestation_object)
    except Exception:
        raise PasskeyInvalid("malformed") from None
    got = _client_data(parsed.response.client_data_json, ClientDataType.WEBAUTHN_CREATE, origins)
    if got != challenge:
        raise PasskeyInvalid("challenge")
    _authenticator(attestation.auth_data, rp_id)
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=list(origins),
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyInvalid("signature") from None
    transports = tuple(str(t.value) for t in parsed.response.transports or ())[:8]
    return Registration(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        transports=transports,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
    )


def check_assertion(
    credential: Any,
    *,
    challenge: bytes,
    rp_id: str,
    origins: tuple[str, ...],
    public_key: bytes,
    sign_count: int,
) -> Assertion:
    """Verify the answer to ``navigator.credentials.get()`` against the stored credential."""
    try:
        parsed = parse_authentication_credential_json(credential)
        auth_data = parse_authenticator_data(parsed.response.authenticator_data)
    except Exception:
        raise PasskeyInvalid("malformed") from None
    got = _client_data(parsed.response.client_data_json, ClientDataType.WEBAUTHN_GET, origins)
    if got != challenge:
        raise PasskeyInvalid("challenge")
    _authenticator(auth_data, rp_id)
    if (auth_data.sign_count > 0 or sign_count > 0) and auth_data.sign_count <= sign_count:
        raise PasskeyInvalid("counter")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=list(origins),
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyInvalid("signature") from None
    return Assertion(
        credential_id=verified.credential_id,
        sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up,
        user_handle=parsed.response.user_handle,
    )
