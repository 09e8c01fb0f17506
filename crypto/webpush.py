"""Web Push message encryption (RFC 8291 over the aes128gcm coding of RFC 8188) and the
VAPID token of the application server (RFC 8292).

Encryption, RFC 8291 section 3, for one subscription (its public key ``ua_public``, a P-256
point the browser made, and its 16-byte ``auth_secret``):

* a fresh P-256 key pair per message (``as_private``, ``as_public``) and a fresh 16-byte
  ``salt``; ``ecdh_secret = ECDH(as_private, ua_public)``;
* ``IKM = HKDF(salt=auth_secret, ikm=ecdh_secret,
  info="WebPush: info" || 0x00 || ua_public || as_public, L=32)``;
* ``PRK = HKDF-Extract(salt, IKM)``; ``CEK = HKDF-Expand(PRK, "Content-Encoding: aes128gcm"
  || 0x00, 16)``; ``NONCE = HKDF-Expand(PRK, "Content-Encoding: nonce" || 0x00, 12)``;
* the body is the RFC 8188 header ``salt || rs (uint32) || idlen (65) || as_public`` and
  one record: ``AES-128-GCM(CEK, NONCE, plaintext || 0x02 || zero padding)`` (0x02: the
  last record; section 4 asks for a single record).

Padding to a fixed ``pad_to`` length hides the plaintext's length from the push service
(RFC 8291 section 4, RFC 8188 section 2).

VAPID, RFC 8292 section 2: ``Authorization: vapid t=<JWT>, k=<public key>``, the JWT signed
with ES256 over the push service's origin (``aud``), an expiry (``exp``, at most 24 hours
ahead) and a contact (``sub``, a ``mailto:`` or ``https:`` URI).
"""

from __future__ import annotations

import base64
import json
import os
import struct
from typing import Final

from crypto.errors import PrimitiveError, PushSubscriptionKeyError
from crypto.primitives._checks import require_bytes, require_len
from crypto.primitives.aead import aes128gcm_seal
from crypto.primitives.ecc import (
    P256_PUBLIC_LEN,
    p256_check_public,
    p256_derive_keypair,
    p256_ecdh,
    p256_public_key,
    p256_sign,
)
from crypto.primitives.kdf import hkdf_sha256, hkdf_sha256_expand, hkdf_sha256_extract

__all__ = [
    "AUTH_SECRET_LEN",
    "MAX_RECORD_SIZE",
    "VAPID_MAX_SECONDS",
    "check_subscription_keys",
    "encrypt",
    "encrypt_with",
    "new_vapid_key",
    "vapid_authorization",
    "vapid_public_key",
]

AUTH_SECRET_LEN: Final = 16
SALT_LEN: Final = 16
#: RFC 8291 section 4: a push service need not accept more than 4096 bytes of body.
MAX_RECORD_SIZE: Final = 4096
_TAG_LEN: Final = 16
_HEADER_LEN: Final = SALT_LEN + 4 + 1 + P256_PUBLIC_LEN
#: VAPID tokens live at most a day (RFC 8292 section 2); the caller picks ``expires``.
VAPID_MAX_SECONDS: Final = 24 * 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def check_subscription_keys(ua_public: bytes, auth_secret: bytes) -> None:
    """Validate a subscription's keys from a browser: a P-256 point (65 bytes, on the
    curve) and a 16-byte authentication secret. Raises :class:`PushSubscriptionKeyError`."""
    require_bytes("ua_public", ua_public)
    require_bytes("auth_secret", auth_secret)
    if len(auth_secret) != AUTH_SECRET_LEN:
        raise PushSubscriptionKeyError
    try:
        p256_check_public(ua_public)
    except PrimitiveError:
        raise PushSubscriptionKeyError from None


def encrypt_with(
    plaintext: bytes,
    ua_public: bytes,
    auth_secret: bytes,
    *,
    as_private: bytes,
    salt: bytes,
    pad_to: int = 0,
    record_size: int = MAX_RECORD_SIZE,
) -> bytes:
    """The aes128gcm body for ``plaintext`` with the sender key and salt given (the test
    vectors' entry; :func:`encrypt` draws both). ``pad_to``: the length the plaintext is
    padded to (0: no padding)."""
    require_bytes("plaintext", plaintext)
    require_len("salt", salt, SALT_LEN)
    check_subscription_keys(ua_public, auth_secret)
    padding = max(0, pad_to - len(plaintext))
    record = plaintext + b"\x02" + bytes(padding)
    if not 18 <= record_size <= MAX_RECORD_SIZE or len(record) + _TAG_LEN > record_size:
        raise ValueError("the plaintext does not fit one record")
    as_public = p256_public_key(as_private)
    ecdh_secret = p256_ecdh(as_private, ua_public)
    key_info = b"WebPush: info\x00" + ua_public + as_public
    ikm = hkdf_sha256(ecdh_secret, salt=auth_secret, info=key_info, length=32)
    prk = hkdf_sha256_extract(salt, ikm)
    cek = hkdf_sha256_expand(prk, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = hkdf_sha256_expand(prk, b"Content-Encoding: nonce\x00", 12)
    header = salt + struct.pack(">IB", record_size, len(as_public)) + as_public
    assert len(header) == _HEADER_LEN
    return header + aes128gcm_seal(cek, nonce, record, b"")


def encrypt(plaintext: bytes, ua_public: bytes, auth_secret: bytes, *, pad_to: int = 0) -> bytes:
    """Encrypt one push message to a subscription with a fresh sender key and salt."""
    as_private, _as_public = p256_derive_keypair(os.urandom(32))
    return encrypt_with(
        plaintext,
        ua_public,
        auth_secret,
        as_private=as_private,
        salt=os.urandom(SALT_LEN),
        pad_to=pad_to,
    )


def new_vapid_key() -> bytes:
    """A new VAPID signing key: a P-256 scalar (32 bytes)."""
    private, _public = p256_derive_keypair(os.urandom(32))
    return private


def vapid_public_key(private: bytes) -> str:
    """The ``applicationServerKey`` browsers subscribe with: the public point, base64url."""
    return _b64url(p256_public_key(private))


def vapid_authorization(private: bytes, audience: str, subject: str, expires: int) -> str:
    """The ``Authorization`` header value for one request to the push service at
    ``audience`` (its origin, ``https://host[:port]``), valid until ``expires`` (Unix
    seconds), naming ``subject`` (``mailto:`` or ``https:``) as the contact."""
    if not subject.startswith(("mailto:", "https:")):
        raise ValueError("the VAPID subject is a mailto: or https: URI")
    header = _b64url(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode())
    claims = {"aud": audience, "exp": int(expires), "sub": subject}
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode("ascii")
    # JWS ES256 (RFC 7518 section 3.4): the signature is r || s, 32 bytes each (P1363).
    token = f"{header}.{body}.{_b64url(p256_sign(private, signing_input))}"
    return f"vapid t={token}, k={vapid_public_key(private)}"
