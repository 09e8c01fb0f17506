-- Passkeys (WebAuthn credentials) as a second factor and for unlocking keys (docs/storage.md,
-- docs/architecture.md "Passkeys", docs/protocol.md section 25).
-- The credential id is looked up by its SHA-256 (clear, unique); the id itself, the public
-- key, the name, the authenticator's details and the USK wrap (record 0x11) are sealed.
-- The signature counter stays clear: use_passkey is a compare-and-set on it.
CREATE TABLE passkeys (
    passkey_id           TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL REFERENCES users(user_id),
    credential_hash      BYTEA NOT NULL UNIQUE,
    sign_count           BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    last_used_at         BIGINT,
    credential_id_sealed BYTEA NOT NULL,
    public_key_sealed    BYTEA NOT NULL,
    name_sealed          BYTEA NOT NULL,
    details_sealed       BYTEA NOT NULL,
    prf_wrap_sealed      BYTEA
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);
-- Single-use challenges of the WebAuthn ceremonies and enrolment grants, by the SHA-256 of
-- the challenge (the challenge itself is never stored); bound to a user and a session.
CREATE TABLE passkey_challenges (
    challenge_hash BYTEA PRIMARY KEY,
    purpose        TEXT NOT NULL,
    user_id        TEXT REFERENCES users(user_id),
    session_hash   BYTEA,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX passkey_challenges_expiry ON passkey_challenges (expires_at);
-- An organisation requires passkeys of its members in a role ('*': every role).
CREATE TABLE passkey_requirements (
    org_id     TEXT NOT NULL REFERENCES organisations(org_id),
    role       TEXT NOT NULL,
    created_by TEXT REFERENCES users(user_id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, role)
);
