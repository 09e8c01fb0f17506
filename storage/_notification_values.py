"""Value checks and forms of the notification records, shared by the memory and SQL
stores (``storage.interface.notifications``)."""

from __future__ import annotations

import hashlib
import json

from storage._values import check_bytes, check_id, check_int64, check_text
from storage.errors import CorruptRecord, InvalidArgument
from storage.records import NotificationSettings, PushSubscription

__all__ = [
    "AUDIT_KEY_NAME",
    "check_settings",
    "check_subscription",
    "endpoint_hash",
    "pack_keys",
    "pack_settings",
    "unpack_keys",
    "unpack_settings",
]

#: the audit signing key's row in ``server_keys``: storage's own, never handed out
AUDIT_KEY_NAME = "audit_signing_key"
#: RFC 8030 endpoints are URLs of a push service; browsers' are well under 1 KiB
_MAX_ENDPOINT = 2048


def check_subscription(sub: PushSubscription) -> PushSubscription:
    if not isinstance(sub, PushSubscription):
        raise InvalidArgument("not a PushSubscription")
    check_id(sub.subscription_id, "subscription_id")
    check_id(sub.user_id, "user_id")
    check_text(sub.endpoint, "endpoint", max_bytes=_MAX_ENDPOINT)
    if not sub.endpoint.startswith(("https://", "http://")):
        raise InvalidArgument("the endpoint is not an http(s) URL")
    if len(check_bytes(sub.p256dh, "p256dh")) != 65 or len(check_bytes(sub.auth, "auth")) != 16:
        raise InvalidArgument("malformed subscription keys")
    check_int64(sub.counter, "counter")
    return sub


def endpoint_hash(endpoint: str) -> bytes:
    """What the endpoint is looked up by (it is sealed itself)."""
    return hashlib.sha256(endpoint.encode("utf-8")).digest()


def pack_keys(sub: PushSubscription) -> bytes:
    return sub.p256dh + sub.auth


def unpack_keys(raw: bytes) -> tuple[bytes, bytes]:
    if len(raw) != 81:
        raise CorruptRecord("push_subscriptions.keys_sealed")
    return raw[:65], raw[65:]


def check_settings(settings: NotificationSettings) -> NotificationSettings:
    if not isinstance(settings, NotificationSettings):
        raise InvalidArgument("not NotificationSettings")
    check_id(settings.user_id, "user_id")
    if not isinstance(settings.sound, bool) or not isinstance(settings.email, bool):
        raise InvalidArgument("settings are booleans")
    return settings


def pack_settings(settings: NotificationSettings) -> bytes:
    return json.dumps({"sound": settings.sound, "email": settings.email}).encode()


def unpack_settings(user_id: str, raw: bytes) -> NotificationSettings:
    try:
        d = json.loads(raw)
        return NotificationSettings(user_id, sound=bool(d["sound"]), email=bool(d["email"]))
    except (ValueError, KeyError, TypeError):
        raise CorruptRecord("notification_settings.settings_sealed") from None
