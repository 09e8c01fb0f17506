"""The tests' "wrong" TOTP codes (``harness.wrong_codes``) are wrong for every secret: a fixed
"000000" is the right code for one time step in a million, and the secret is random each run,
so a test that wanted a refusal would now and then sign in instead."""

from __future__ import annotations

import base64
import datetime as dt

import pyotp
import pytest

from server.domain.totp import matching_timecode
from server.errors import InvalidTotp
from tests.samples import wrong_codes

SECRET = b"wrong-codes-secret-1"
B32 = base64.b32encode(SECRET).decode().rstrip("=")
# Found by search: with SECRET, the code of this step is "000000".
STEP_OF_ZEROS = 60_670_774


def test_a_fixed_code_can_be_the_right_one() -> None:
    at = dt.datetime.fromtimestamp(STEP_OF_ZEROS * 30 + 5, dt.UTC)
    assert pyotp.TOTP(B32).at(at) == "000000"
    assert matching_timecode(SECRET, "000000", at) == STEP_OF_ZEROS


@pytest.mark.parametrize("offset", [-30, 0, 29, 60])
def test_wrong_codes_are_refused_around_the_time_given(offset: int) -> None:
    at = dt.datetime.fromtimestamp(STEP_OF_ZEROS * 30 + 5, dt.UTC)
    codes = wrong_codes(B32, at, 20)
    assert len(set(codes)) == 20 and "000000" not in codes
    checked = at + dt.timedelta(seconds=offset)
    for code in codes:
        with pytest.raises(InvalidTotp):
            matching_timecode(SECRET, code, checked)
