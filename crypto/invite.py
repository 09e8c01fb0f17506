"""Invite secrets, the invite key and the invite link fragment (docs/protocol.md section 20).

An administrator's client makes an invite with 32 random bytes ``s``; the link carries ``s``
and the organisation key's id in its fragment, which browsers never send to a server::

    invite key pair = DeriveKeyPair(HKDF-SHA256(s, salt = "", info = "dermline/v1/invite-key", 32))
    link            = <origin>/#/invite/<token>.<b64url s>.<b64url OK key id>

``token`` is the server's invite token exactly as today (43 base64url characters, its
SHA-256 is what the server keeps and what the invite statement names); ``s`` takes 43
characters and the key id 22, all base64url without padding and with zero spare bits. A
fragment of the token alone is a server-made (uncertified) invite and is still valid.

The invite key certifies the invitee's member statement (crypto.statement); whoever opens the
link derives it once, and nobody keeps it.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from typing import Final

from crypto._wire import LABEL_PREFIX, check_bytes
from crypto.account import KeyPair, key_pair_from_seed
from crypto.errors import InviteLinkFormatError
from crypto.fingerprint import KEY_ID_LENGTH
from crypto.primitives.kdf import hkdf_sha256

__all__ = [
    "INVITE_SECRET_LENGTH",
    "InviteLink",
    "derive_invite_key",
    "format_invite_fragment",
    "generate_invite_secret",
    "parse_invite_fragment",
]

INVITE_SECRET_LENGTH: Final = 32
_INFO: Final = LABEL_PREFIX + b"invite-key"
# 32 bytes are 43 characters whose last carries 2 spare bits; 16 bytes are 22 characters
# whose last carries 4. Spare bits must be zero so that every value has one spelling.
_B64_32: Final = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")
_B64_16: Final = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")


@dataclass(frozen=True)
class InviteLink:
    """A parsed fragment. ``secret`` and ``org_key_id`` are both None for a server-made
    invite, both set for one an administrator's client made. ``repr`` hides the secrets."""

    token: str = field(repr=False)
    secret: bytes | None = field(repr=False)
    org_key_id: bytes | None

    @property
    def certified(self) -> bool:
        return self.secret is not None


def generate_invite_secret() -> bytes:
    """A fresh invite secret ``s``."""
    return os.urandom(INVITE_SECRET_LENGTH)


def derive_invite_key(secret: bytes) -> KeyPair:
    """The invite key pair of an invite secret (RFC 9180 DeriveKeyPair over an HKDF output)."""
    secret = check_bytes("secret", secret, INVITE_SECRET_LENGTH)
    return key_pair_from_seed(hkdf_sha256(secret, salt=b"", info=_INFO, length=32))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def format_invite_fragment(
    token: str, secret: bytes | None = None, org_key_id: bytes | None = None
) -> str:
    """The text after ``#/invite/``: the token alone, or ``token.s.key id``."""
    if not isinstance(token, str) or _B64_32.fullmatch(token) is None:
        raise ValueError("token must be 43 canonical base64url characters")
    if (secret is None) != (org_key_id is None):
        raise ValueError("secret and org_key_id go together")
    if secret is None or org_key_id is None:
        return token
    secret = check_bytes("secret", secret, INVITE_SECRET_LENGTH)
    org_key_id = check_bytes("org_key_id", org_key_id, KEY_ID_LENGTH)
    return f"{token}.{_b64(secret)}.{_b64(org_key_id)}"


def parse_invite_fragment(text: str) -> InviteLink:
    """Parse the text after ``#/invite/``; :class:`InviteLinkFormatError` unless it is a token
    alone or ``token.s.key id``, each in its one canonical spelling."""
    if not isinstance(text, str):
        raise TypeError("text must be str")
    parts = text.split(".")
    if _B64_32.fullmatch(parts[0]) is None:
        raise InviteLinkFormatError
    if len(parts) == 1:
        return InviteLink(token=parts[0], secret=None, org_key_id=None)
    if (
        len(parts) != 3
        or _B64_32.fullmatch(parts[1]) is None
        or _B64_16.fullmatch(parts[2]) is None
    ):
        raise InviteLinkFormatError
    return InviteLink(
        token=parts[0],
        secret=base64.urlsafe_b64decode(parts[1] + "="),
        org_key_id=base64.urlsafe_b64decode(parts[2] + "=="),
    )
