"""Notifications: browsers' Web Push subscriptions, each person's notification settings,
and named server keys such as the VAPID signing key (``docs/architecture.md``,
"Notifications"; ``docs/storage.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from storage.records import NotificationSettings, PushSubscription

__all__ = ["NotificationStore"]


class NotificationStore(Protocol):
    async def server_key(self, name: str, candidate: bytes) -> bytes:
        """The server key called ``name``: stored as ``candidate`` if there is none yet
        (the first of several racing nodes wins), and the stored one returned, sealed at
        rest with the other server keys. ``name`` is an id; :class:`InvalidArgument` for
        the audit key's name (storage's own)."""
        ...

    async def add_push_subscription(self, sub: PushSubscription) -> PushSubscription:
        """Store a subscription. The endpoint is unique: a subscription with the same
        endpoint (the same browser profile subscribing again, perhaps for another person
        after a sign-out) is replaced, its counter starting afresh. :class:`NotFound` for
        an unknown user; :class:`InvalidArgument` for a malformed value."""
        ...

    async def list_push_subscriptions(self, user_ids: Sequence[str]) -> list[PushSubscription]:
        """The subscriptions of these users, oldest first."""
        ...

    async def delete_push_subscription(self, subscription_id: str) -> None:
        """Remove one subscription. :class:`NotFound` if absent."""
        ...

    async def delete_user_push_subscriptions(self, user_id: str) -> int:
        """Remove every subscription of a user; returns how many there were."""
        ...

    async def next_push_counter(self, subscription_id: str) -> int:
        """Add one to the subscription's counter and return the new value (1 first).
        :class:`NotFound` if absent."""
        ...

    async def get_notification_settings(self, user_id: str) -> NotificationSettings:
        """The user's settings; the defaults (all off) if never set."""
        ...

    async def put_notification_settings(
        self, settings: NotificationSettings
    ) -> NotificationSettings:
        """Store the user's settings. :class:`NotFound` for an unknown user."""
        ...
