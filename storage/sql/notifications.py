# ruff: noqa: S608
# (S608: every SQL string here is assembled from module constants and our own table/column
# names; values are always bound as parameters, never interpolated.)
"""Notifications in SQL (:class:`storage.interface.NotificationStore`): push subscriptions
(sealed but for their owner, the endpoint's lookup hash, the counter and the time), each
person's settings (sealed), and named server keys in ``server_keys`` (sealed)."""

from __future__ import annotations

from collections.abc import Sequence

from storage._engine import Row, Txn
from storage._notification_values import (
    AUDIT_KEY_NAME,
    check_settings,
    check_subscription,
    endpoint_hash,
    pack_keys,
    pack_settings,
    unpack_keys,
    unpack_settings,
)
from storage._values import check_bytes, check_id, dt_of, us
from storage.errors import InvalidArgument, NotFound
from storage.records import NotificationSettings, PushSubscription
from storage.sql._base import SqlBase, unit

__all__ = ["NotificationsSql"]

_T = "push_subscriptions"
_COLS = "subscription_id, user_id, counter, created_at, endpoint_sealed, keys_sealed"


class NotificationsSql(SqlBase):
    """:class:`storage.interface.NotificationStore` over the engine."""

    def _subscription(self, r: Row) -> PushSubscription:
        sid = str(r[0])
        p256dh, auth = unpack_keys(self._open(_T, "keys_sealed", sid, r[5]))
        return PushSubscription(
            subscription_id=sid,
            user_id=str(r[1]),
            counter=int(r[2]),
            created_at=dt_of(r[3]),
            endpoint=self._open_text(_T, "endpoint_sealed", sid, r[4]),
            p256dh=p256dh,
            auth=auth,
        )

    @unit
    async def server_key(self, name: str, candidate: bytes) -> bytes:
        if check_id(name, "name") == AUDIT_KEY_NAME:
            raise InvalidArgument("that key is storage's own")
        sealed = self._seal("server_keys", "value_sealed", name, check_bytes(candidate, "key"))

        async def key_txn(txn: Txn) -> bytes:
            await txn.execute(
                "INSERT INTO server_keys (name, value_sealed) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                name,
                sealed,
            )
            row = await txn.fetchone("SELECT value_sealed FROM server_keys WHERE name = ?", name)
            assert row is not None
            return bytes(row[0])

        return self._open("server_keys", "value_sealed", name, await self._write(key_txn))

    @unit
    async def add_push_subscription(self, sub: PushSubscription) -> PushSubscription:
        s = check_subscription(sub)
        sid = s.subscription_id
        values = [
            sid,
            s.user_id,
            endpoint_hash(s.endpoint),
            s.counter,
            us(s.created_at),
            self._seal_text(_T, "endpoint_sealed", sid, s.endpoint),
            self._seal(_T, "keys_sealed", sid, pack_keys(s)),
        ]

        async def add_txn(txn: Txn) -> Row:
            if await txn.fetchone("SELECT 1 FROM users WHERE user_id = ?", s.user_id) is None:
                raise NotFound("user")
            # The same endpoint again (this browser subscribing anew): the new one replaces it.
            await txn.execute(
                "DELETE FROM push_subscriptions WHERE endpoint_hash = ? OR subscription_id = ?",
                values[2],
                sid,
            )
            row = await txn.fetchone(
                "INSERT INTO push_subscriptions (subscription_id, user_id, endpoint_hash,"
                " counter, created_at, endpoint_sealed, keys_sealed)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_COLS}",
                *values,
            )
            assert row is not None
            return row

        return self._subscription(await self._write(add_txn))

    @unit
    async def list_push_subscriptions(self, user_ids: Sequence[str]) -> list[PushSubscription]:
        ids = sorted({check_id(u, "user_id") for u in user_ids})
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = await self._read(
            lambda txn: txn.fetchall(
                f"SELECT {_COLS} FROM push_subscriptions WHERE user_id IN ({marks})"
                " ORDER BY created_at, subscription_id",
                *ids,
            )
        )
        return [self._subscription(r) for r in rows]

    @unit
    async def delete_push_subscription(self, subscription_id: str) -> None:
        sid = check_id(subscription_id, "subscription_id")

        async def delete_txn(txn: Txn) -> Row | None:
            return await txn.fetchone(
                "DELETE FROM push_subscriptions WHERE subscription_id = ? RETURNING 1", sid
            )

        if await self._write(delete_txn) is None:
            raise NotFound("push subscription")

    @unit
    async def delete_user_push_subscriptions(self, user_id: str) -> int:
        uid = check_id(user_id, "user_id")

        async def delete_txn(txn: Txn) -> list[Row]:
            return await txn.fetchall(
                "DELETE FROM push_subscriptions WHERE user_id = ? RETURNING 1", uid
            )

        return len(await self._write(delete_txn))

    @unit
    async def next_push_counter(self, subscription_id: str) -> int:
        sid = check_id(subscription_id, "subscription_id")

        async def count_txn(txn: Txn) -> Row | None:
            return await txn.fetchone(
                "UPDATE push_subscriptions SET counter = counter + 1"
                " WHERE subscription_id = ? RETURNING counter",
                sid,
            )

        row = await self._write(count_txn)
        if row is None:
            raise NotFound("push subscription")
        return int(row[0])

    @unit
    async def get_notification_settings(self, user_id: str) -> NotificationSettings:
        uid = check_id(user_id, "user_id")
        row = await self._read(
            lambda txn: txn.fetchone(
                "SELECT settings_sealed FROM notification_settings WHERE user_id = ?", uid
            )
        )
        if row is None:
            return NotificationSettings(uid)
        raw = self._open("notification_settings", "settings_sealed", uid, row[0])
        return unpack_settings(uid, raw)

    @unit
    async def put_notification_settings(
        self, settings: NotificationSettings
    ) -> NotificationSettings:
        s = check_settings(settings)
        sealed = self._seal("notification_settings", "settings_sealed", s.user_id, pack_settings(s))

        async def put_txn(txn: Txn) -> None:
            if await txn.fetchone("SELECT 1 FROM users WHERE user_id = ?", s.user_id) is None:
                raise NotFound("user")
            await txn.execute(
                "INSERT INTO notification_settings (user_id, settings_sealed) VALUES (?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET settings_sealed = excluded.settings_sealed",
                s.user_id,
                sealed,
            )

        await self._write(put_txn)
        return s
