"""Invite secrets, invite keys and link fragments (crypto/invite.py)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import invite
from crypto.errors import InviteLinkFormatError

TOKEN = base64.urlsafe_b64encode(b"t" * 32).rstrip(b"=").decode()
SECRET = b"s" * 32
KEY_ID = b"k" * 16


def test_derivation_is_deterministic_and_distinct() -> None:
    a, b = invite.derive_invite_key(SECRET), invite.derive_invite_key(b"S" * 32)
    assert a == invite.derive_invite_key(SECRET) and a.public_key != b.public_key
    assert len(invite.generate_invite_secret()) == invite.INVITE_SECRET_LENGTH
    with pytest.raises(ValueError):
        invite.derive_invite_key(b"short")


def test_fragment_round_trips() -> None:
    assert invite.format_invite_fragment(TOKEN) == TOKEN
    plain = invite.parse_invite_fragment(TOKEN)
    assert (plain.token, plain.secret, plain.org_key_id, plain.certified) == (
        TOKEN,
        None,
        None,
        False,
    )
    text = invite.format_invite_fragment(TOKEN, SECRET, KEY_ID)
    link = invite.parse_invite_fragment(text)
    assert (link.token, link.secret, link.org_key_id, link.certified) == (
        TOKEN,
        SECRET,
        KEY_ID,
        True,
    )
    assert "secret" not in repr(link) and TOKEN not in repr(link)


@given(
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=16, max_size=16),
)
def test_any_values_round_trip(token: bytes, secret: bytes, key_id: bytes) -> None:
    token_text = base64.urlsafe_b64encode(token).rstrip(b"=").decode()
    link = invite.parse_invite_fragment(invite.format_invite_fragment(token_text, secret, key_id))
    assert (link.token, link.secret, link.org_key_id) == (token_text, secret, key_id)


@pytest.mark.parametrize(
    "text",
    [
        "",
        TOKEN[:-1],
        TOKEN + "A",
        TOKEN[:-1] + "B",  # spare bits set
        TOKEN + ".",
        f"{TOKEN}.{TOKEN}",
        f"{TOKEN}.{TOKEN}.AAAAAAAAAAAAAAAAAAAAAB",
        f"{TOKEN}.{TOKEN}.AAAAAAAAAAAAAAAAAAAAA",
        f"{TOKEN}.{TOKEN}.AAAAAAAAAAAAAAAAAAAAAA.x",
        f"{TOKEN}.{TOKEN}=.AAAAAAAAAAAAAAAAAAAAAA",
        f"{TOKEN}.{TOKEN[:-1]}+.AAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_bad_fragments(text: str) -> None:
    with pytest.raises(InviteLinkFormatError):
        invite.parse_invite_fragment(text)


def test_misuse() -> None:
    with pytest.raises(TypeError):
        invite.parse_invite_fragment(b"x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token"):
        invite.format_invite_fragment("short")
    with pytest.raises(ValueError, match="together"):
        invite.format_invite_fragment(TOKEN, SECRET)
    with pytest.raises(ValueError):
        invite.format_invite_fragment(TOKEN, SECRET, b"short")
