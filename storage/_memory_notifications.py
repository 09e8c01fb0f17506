"""The memory store's notifications (:class:`storage.interface.NotificationStore`), with
the SQL backends' checks and errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from storage._memory_base import MemoryBase, op, utc
from storage._notification_values import (
    AUDIT_KEY_NAME,
    check_settings,
    check_subscription,
    endpoint_hash,
)
from storage._values import check_bytes, check_id
from storage.errors import InvalidArgument, NotFound
from storage.records import NotificationSettings, PushSubscription

__all__ = ["MemoryNotifications"]


class MemoryNotifications(MemoryBase):
    def __init__(self) -> None:
        super().__init__()
        self._server_keys: dict[str, bytes] = {}
        self._push: dict[str, PushSubscription] = {}
        self._settings: dict[str, NotificationSettings] = {}

    @op
    async def server_key(self, name: str, candidate: bytes) -> bytes:
        if check_id(name, "name") == AUDIT_KEY_NAME:
            raise InvalidArgument("that key is storage's own")
        return self._server_keys.setdefault(name, check_bytes(candidate, "candidate"))

    @op
    async def add_push_subscription(self, sub: PushSubscription) -> PushSubscription:
        check_subscription(sub)
        self._user(sub.user_id)
        h = endpoint_hash(sub.endpoint)
        for old in [s for s in self._push.values() if endpoint_hash(s.endpoint) == h]:
            del self._push[old.subscription_id]
        stored = dataclasses.replace(sub, created_at=utc(sub.created_at))
        self._push[sub.subscription_id] = stored
        return stored

    @op
    async def list_push_subscriptions(self, user_ids: Sequence[str]) -> list[PushSubscription]:
        wanted = {check_id(u, "user_id") for u in user_ids}
        found = [s for s in self._push.values() if s.user_id in wanted]
        return sorted(found, key=lambda s: (s.created_at, s.subscription_id))

    @op
    async def delete_push_subscription(self, subscription_id: str) -> None:
        if self._push.pop(check_id(subscription_id, "subscription_id"), None) is None:
            raise NotFound("push subscription")

    @op
    async def delete_user_push_subscriptions(self, user_id: str) -> int:
        uid = check_id(user_id, "user_id")
        gone = [k for k, s in self._push.items() if s.user_id == uid]
        for k in gone:
            del self._push[k]
        return len(gone)

    @op
    async def next_push_counter(self, subscription_id: str) -> int:
        sub = self._push.get(check_id(subscription_id, "subscription_id"))
        if sub is None:
            raise NotFound("push subscription")
        self._push[sub.subscription_id] = dataclasses.replace(sub, counter=sub.counter + 1)
        return sub.counter + 1

    @op
    async def get_notification_settings(self, user_id: str) -> NotificationSettings:
        uid = check_id(user_id, "user_id")
        return self._settings.get(uid, NotificationSettings(uid))

    @op
    async def put_notification_settings(
        self, settings: NotificationSettings
    ) -> NotificationSettings:
        check_settings(settings)
        self._user(settings.user_id)
        self._settings[settings.user_id] = settings
        return settings
