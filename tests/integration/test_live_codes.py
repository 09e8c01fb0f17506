"""The live tests sign in with TOTP codes of the real clock (``live.Person.next_code``). The
server checks a code a moment after it is made, so a code made just before a 30 s step
boundary must still be accepted just after it, whatever the boundary."""

from __future__ import annotations

import base64
import datetime as dt
import types
from typing import Any

import pyotp
import pytest

from server.domain.totp import matching_timecode
from server.errors import InvalidTotp
from tests.integration import live

SECRET = b"live-codes-secret-20"
B32 = base64.b32encode(SECRET).decode().rstrip("=")
BOUNDARY = 1_795_853_640  # a 30 s step boundary (2026-11-28T08:14:00Z)


def _person(last_step: int) -> live.Person:
    client: Any = None  # next_code needs no client
    return live.Person(client, "x@example.org", B32, [], last_step)


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def test_codes_made_just_before_a_step_boundary_are_accepted_just_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert BOUNDARY % 30 == 0
    step = BOUNDARY // 30  # the step that begins at the boundary
    monkeypatch.setattr(live, "time", types.SimpleNamespace(time=lambda: BOUNDARY - 0.01))
    person = _person(step - 10)  # the last code was used long ago
    first = person.next_code()
    second = person.next_code()  # a second sign-in in the same step: the next step's code
    with pytest.raises(AssertionError, match="more than two codes"):
        person.next_code()
    # Checked half a second later, in the next step: both are accepted, each for a step newer
    # than the one before, so the server's "each step once" rule accepts them in order.
    checked = _at(BOUNDARY + 0.5)
    assert matching_timecode(SECRET, first, checked) == step - 1
    assert matching_timecode(SECRET, second, checked) == step
    # A previous-step code (what next_code used to make) is refused after the boundary.
    previous = pyotp.TOTP(B32).generate_otp(step - 2)
    with pytest.raises(InvalidTotp):
        matching_timecode(SECRET, previous, checked)
