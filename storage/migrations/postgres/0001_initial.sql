-- Dermline schema v1 (PostgreSQL). Keep in step with ../sqlite/0001_initial.sql: the only
-- differences are the binary type (BYTEA here, BLOB there); SQLite integers are all 64-bit.
-- Conventions: times are BIGINT microseconds since the Unix epoch (UTC); flags are SMALLINT
-- 0/1; every *_sealed column holds a crypto.at_rest sealed record; see docs/storage.md for
-- the list of what stays in the clear and why.

CREATE TABLE data_keys (
    key_id          BIGINT PRIMARY KEY,
    purpose         TEXT NOT NULL,
    master_key_id   TEXT NOT NULL,
    wrapped         BYTEA NOT NULL,
    active          SMALLINT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE server_keys (
    name            TEXT PRIMARY KEY,
    value_sealed    BYTEA NOT NULL
);

CREATE TABLE rotation_progress (
    table_name      TEXT PRIMARY KEY,
    last_pk         TEXT NOT NULL
);

CREATE TABLE organisations (
    org_id                  TEXT PRIMARY KEY,
    kind                    TEXT NOT NULL,
    name_sealed             BYTEA NOT NULL,
    records_key_sealed      BYTEA,
    created_at              BIGINT NOT NULL
);

CREATE TABLE users (
    user_id                 TEXT PRIMARY KEY,
    login_index             BYTEA NOT NULL UNIQUE,
    login_sealed            BYTEA NOT NULL,
    display_name_sealed     BYTEA NOT NULL,
    kdf_params_sealed       BYTEA NOT NULL,
    auth_hash_sealed        BYTEA NOT NULL,
    wrapped_usk_sealed      BYTEA NOT NULL,
    recovery_usk_sealed     BYTEA,
    org_usk_sealed          BYTEA,
    enc_pub_sealed          BYTEA NOT NULL,
    sign_pub_sealed         BYTEA NOT NULL,
    private_keys_sealed     BYTEA NOT NULL,
    totp_secret_sealed      BYTEA,
    totp_confirmed          SMALLINT NOT NULL DEFAULT 0,
    totp_last_timecode      BIGINT,
    recovery_codes_sealed   BYTEA,
    failed_logins           INTEGER NOT NULL DEFAULT 0,
    locked_until            BIGINT,
    disabled                SMALLINT NOT NULL DEFAULT 0,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_id     TEXT NOT NULL REFERENCES users(user_id),
    org_id      TEXT NOT NULL REFERENCES organisations(org_id),
    role        TEXT NOT NULL,
    PRIMARY KEY (user_id, org_id, role)
);
CREATE INDEX memberships_org ON memberships (org_id);
CREATE INDEX memberships_role ON memberships (role);

CREATE TABLE sessions (
    session_hash        BYTEA PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users(user_id),
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    address_sealed      BYTEA NOT NULL,
    user_agent_sealed   BYTEA NOT NULL,
    mfa_verified        SMALLINT NOT NULL,
    revoked_at          BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE invites (
    token_hash      BYTEA PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organisations(org_id),
    role            TEXT NOT NULL,
    created_by      TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    login_sealed    BYTEA,
    used_at         BIGINT,
    used_by         TEXT,
    revoked_at      BIGINT
);
CREATE INDEX invites_org ON invites (org_id, created_at);

CREATE TABLE cases (
    case_id             TEXT PRIMARY KEY,
    practice_id         TEXT NOT NULL REFERENCES organisations(org_id),
    service_id          TEXT NOT NULL REFERENCES organisations(org_id),
    created_by          TEXT NOT NULL REFERENCES users(user_id),
    state               TEXT NOT NULL,
    priority            SMALLINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    submitted_at        BIGINT,
    queued_at           BIGINT NOT NULL,
    claimed_by          TEXT REFERENCES users(user_id),
    claimed_at          BIGINT,
    first_response_at   BIGINT,
    closed_at           BIGINT,
    last_seq            BIGINT NOT NULL DEFAULT 0,
    key_epoch           INTEGER NOT NULL DEFAULT 0
);
-- The triage queue: per service and state, urgent first, then oldest (issue 4).
CREATE INDEX cases_queue ON cases (service_id, state, priority, queued_at, case_id);
CREATE INDEX cases_practice ON cases (practice_id, updated_at, case_id);
CREATE INDEX cases_service ON cases (service_id, updated_at, case_id);

CREATE TABLE participants (
    case_id     TEXT NOT NULL REFERENCES cases(case_id),
    user_id     TEXT NOT NULL REFERENCES users(user_id),
    role        TEXT NOT NULL,
    added_at    BIGINT NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX participants_user ON participants (user_id);

CREATE TABLE case_keys (
    case_id         TEXT NOT NULL REFERENCES cases(case_id),
    epoch           INTEGER NOT NULL,
    recipient_kind  TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    wrapped_sealed  BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (case_id, epoch, recipient_kind, recipient_id)
);

CREATE TABLE messages (
    case_id         TEXT NOT NULL REFERENCES cases(case_id),
    seq             BIGINT NOT NULL,
    client_msg_id   TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    envelope_sealed BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (case_id, seq),
    UNIQUE (case_id, client_msg_id)
);

CREATE TABLE attachments (
    attachment_id   TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases(case_id),
    uploader_id     TEXT NOT NULL,
    blob_id         TEXT NOT NULL,
    sha256_sealed   BYTEA NOT NULL,
    size_sealed     BYTEA NOT NULL,
    ctype_sealed    BYTEA NOT NULL,
    metadata_sealed BYTEA NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX attachments_case ON attachments (case_id, created_at);

CREATE TABLE outcomes (
    case_id         TEXT PRIMARY KEY REFERENCES cases(case_id),
    category_sealed BYTEA NOT NULL,
    payload_sealed  BYTEA NOT NULL,
    author_id       TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE receipts (
    case_id     TEXT NOT NULL REFERENCES cases(case_id),
    user_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (case_id, user_id, kind)
);

CREATE TABLE audit_log (
    seq             BIGINT PRIMARY KEY,
    prev_hash       BYTEA NOT NULL,
    entry_hash      BYTEA NOT NULL,
    content_sealed  BYTEA NOT NULL
);

-- One row: the sealed head (seq, hash) of the chain; its row lock serialises appends.
CREATE TABLE audit_head (
    id              INTEGER PRIMARY KEY,
    head_sealed     BYTEA NOT NULL
);

CREATE TABLE audit_checkpoints (
    seq         BIGINT PRIMARY KEY,
    entry_hash  BYTEA NOT NULL,
    signature   BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
