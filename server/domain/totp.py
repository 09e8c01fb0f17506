"""TOTP (RFC 6238) checks, enrolment material and recovery codes.

Rules
-----
* Codes are 6 digits, 30 s steps, HMAC-SHA1 (what every authenticator app supports).
* A code is accepted for the current step and one step either side (pyotp
  ``valid_window=1``: clock drift and typing time), and only if its step is *newer* than
  the last accepted step for that user. The caller stores the step with a compare-and-set
  (``Storage.use_totp_timecode``), so no code works twice, not even in two racing requests.
* Comparisons are constant time (``hmac.compare_digest``) over every candidate step.
* Recovery codes are 10 single-use codes of 50 random bits each, shown once and stored as
  HMAC-SHA256 under a server secret (deterministic, so storage can find and delete the
  exact one; they are high-entropy, so a slow hash adds nothing).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

import pyotp
import segno

from server.errors import InvalidTotp

__all__ = [
    "RECOVERY_CODE_COUNT",
    "generate_recovery_codes",
    "hash_recovery_code",
    "matching_timecode",
    "new_totp_secret",
    "provisioning_uri",
    "qr_svg",
]

DIGITS = 6
INTERVAL = 30
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud safely


def new_totp_secret() -> bytes:
    """160 random bits (RFC 4226 section 4 recommends at least 128, 160 advised)."""
    return secrets.token_bytes(20)


def _b32(secret: bytes) -> str:
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def matching_timecode(
    secret: bytes,
    code: str,
    at: dt.datetime,
    *,
    digits: int = DIGITS,
    digest: Callable[..., Any] = hashlib.sha1,
    valid_window: int = VALID_WINDOW,
) -> int:
    """The newest RFC 6238 time step in the window whose code equals ``code``;
    :class:`server.errors.InvalidTotp` otherwise.

    The newest, because the caller refuses a step not newer than the last one used (replay):
    when two steps of the window happen to share a code (one pair in 10^6), the person typed
    the current code, and answering with the older step would refuse it as a replay.
    Every candidate step in the window is computed and compared, so the time taken does not
    depend on which step (if any) matched.
    """
    candidate = code.strip().replace(" ", "") if isinstance(code, str) else ""
    if len(candidate) != digits or not candidate.isdigit():
        raise InvalidTotp()
    totp = pyotp.TOTP(_b32(secret), digits=digits, digest=digest, interval=INTERVAL)
    now_step = totp.timecode(at)
    found: int | None = None
    for step in range(now_step - valid_window, now_step + valid_window + 1):
        if hmac.compare_digest(totp.generate_otp(step), candidate):
            found = step
    if found is None:
        raise InvalidTotp()
    return found


def provisioning_uri(secret: bytes, account: str, issuer: str = "Dermline") -> str:
    """The ``otpauth://totp/...`` URI an authenticator app imports."""
    return pyotp.TOTP(_b32(secret), digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code (error correction M), without XML declaration."""
    qr = segno.make(uri, error="m", micro=False)
    return str(qr.svg_inline(scale=4, border=2))


def generate_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` codes like ``k7m2q-xh9rt`` (10 symbols of a 31-letter alphabet: 49.5 bits)."""
    out = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        out.append(f"{raw[:5]}-{raw[5:]}")
    return out


def hash_recovery_code(server_secret: bytes, code: str) -> str:
    """Deterministic keyed hash of a recovery code, ignoring case, spaces and dashes."""
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    mac = hmac.new(server_secret, b"dermline/v1/recovery-code\x00" + normal.encode(), "sha256")
    return mac.hexdigest()
