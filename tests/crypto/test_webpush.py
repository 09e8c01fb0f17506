"""crypto.webpush: the RFC 8291 Appendix A vector, a round trip through an independent
decrypter (tests/push_service.py, straight on pyca), padding that hides the length, the
refusal of bad subscription keys, and VAPID tokens (RFC 8292) that verify."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from crypto import webpush
from crypto.errors import PushSubscriptionKeyError
from tests.push_service import Browser, b64url_decode, check_vapid, decrypt_aes128gcm

VECTOR = Path(__file__).parents[1] / "vectors" / "webpush" / "rfc8291_appendix_a.json"


def test_rfc8291_appendix_a() -> None:
    v = json.loads(VECTOR.read_text())
    body = webpush.encrypt_with(
        v["plaintext"].encode(),
        b64url_decode(v["ua_public"]),
        b64url_decode(v["auth_secret"]),
        as_private=b64url_decode(v["as_private"]),
        salt=b64url_decode(v["salt"]),
        record_size=v["record_size"],
    )
    assert body == b64url_decode(v["body"])


def test_round_trip_and_padding_hide_the_length() -> None:
    ua = Browser()
    short = webpush.encrypt(b"{}", ua.p256dh, ua.auth, pad_to=200)
    longer = webpush.encrypt(b'{"text": "' + b"x" * 150 + b'"}', ua.p256dh, ua.auth, pad_to=200)
    assert len(short) == len(longer) == 86 + 200 + 1 + 16
    assert decrypt_aes128gcm(short, ua.private, ua.auth) == b"{}"
    # Each message has its own sender key and salt.
    again = webpush.encrypt(b"{}", ua.p256dh, ua.auth, pad_to=200)
    assert again[:16] != short[:16] and again[21:86] != short[21:86]


def test_bad_subscription_keys_are_refused() -> None:
    ua = Browser()
    with pytest.raises(PushSubscriptionKeyError):
        webpush.check_subscription_keys(ua.p256dh, ua.auth[:15])
    off_curve = ua.p256dh[:-1] + bytes([ua.p256dh[-1] ^ 1])
    with pytest.raises(PushSubscriptionKeyError):
        webpush.encrypt(b"x", off_curve, ua.auth)
    with pytest.raises(TypeError):
        webpush.check_subscription_keys("not bytes", ua.auth)  # type: ignore[arg-type]


def test_a_message_must_fit_one_record() -> None:
    ua = Browser()
    with pytest.raises(ValueError, match="one record"):
        webpush.encrypt(bytes(4096), ua.p256dh, ua.auth)
    with pytest.raises(ValueError, match="one record"):
        webpush.encrypt_with(
            b"x",
            ua.p256dh,
            ua.auth,
            as_private=webpush.new_vapid_key(),
            salt=bytes(16),
            record_size=17,
        )


def test_vapid_authorization_verifies() -> None:
    key = webpush.new_vapid_key()
    header = webpush.vapid_authorization(
        key, "https://push.example", "mailto:ops@example.org", int(time.time()) + 3600
    )
    assert check_vapid(header, "https://push.example") == b64url_decode(
        webpush.vapid_public_key(key)
    )
    with pytest.raises(ValueError, match="subject"):
        webpush.vapid_authorization(key, "https://push.example", "ops@example.org", 0)
