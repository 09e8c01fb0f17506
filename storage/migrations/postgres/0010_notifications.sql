-- Notifications (docs/architecture.md "Notifications", docs/storage.md).
-- A browser's Web Push subscription: looked up by the SHA-256 of its endpoint (clear,
-- unique: the same browser subscribing again replaces its row); the endpoint URL and the
-- RFC 8291 keys (p256dh || auth) are sealed. The counter of pushes sent stays clear.
CREATE TABLE push_subscriptions (
    subscription_id TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(user_id),
    endpoint_hash   BYTEA NOT NULL UNIQUE,
    counter         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    endpoint_sealed BYTEA NOT NULL,
    keys_sealed     BYTEA NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id, created_at);
-- A person's notification choices (sound, e-mail notices), sealed together.
CREATE TABLE notification_settings (
    user_id         TEXT PRIMARY KEY REFERENCES users(user_id),
    settings_sealed BYTEA NOT NULL
);
