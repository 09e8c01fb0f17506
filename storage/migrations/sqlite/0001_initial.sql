-- Dermline schema v1 (SQLite). Keep in step with ../postgres/0001_initial.sql: the only
-- differences are the binary type (BLOB here, BYTEA there); SQLite integers are all 64-bit.
-- Conventions: times are BIGINT microseconds since the Unix epoch (UTC); flags are SMALLINT
-- 0/1; every *_sealed column holds a crypto.at_rest sealed record; see docs/storage.md for
-- the list of what stays in the clear and why.

CREATE TABLE data_keys (
    key_id          BIGINT PRIMARY KEY,
    purpose         TEXT NOT NULL,
    master_key_id   TEXT NOT NULL,
    wrapped         BLOB NOT NULL,
    active          SMALLINT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE server_keys (
    name            TEXT PRIMARY KEY,
    value_sealed    BLOB NOT NULL
);

CREATE TABLE rotation_progress (
    table_name      TEXT PRIMARY KEY,
    last_pk         TEXT NOT NULL
);

CREATE TABLE organisations (
    org_id                  TEXT PRIMARY KEY,
    kind                    TEXT NOT NULL,
    name_sealed             BLOB NOT NULL,
    records_key_sealed      BLOB,
    created_at              BIGINT NOT NULL
);

CREATE TABLE users (
    user_id                 TEXT PRIMARY KEY,
    login_index             BLOB NOT NULL UNIQUE,
    login_sealed            BLOB NOT NULL,
    display_name_sealed     BLOB NOT NULL,
    kdf_params_sealed       BLOB NOT NULL,
    auth_hash_sealed        BLOB NOT NULL,
    wrapped_usk_sealed      BLOB NOT NULL,
    recovery_usk_sealed     BLOB,
    org_usk_sealed          BLOB,
    enc_pub_sealed          BLOB NOT NULL,
    sign_pub_sealed         BLOB NOT NULL,
    private_keys_sealed     BLOB NOT NULL,
    totp_secret_sealed      BLOB,
    totp_confirmed          SMALLINT NOT NULL DEFAULT 0,
    totp_last_timecode      BIGINT,
    recovery_codes_sealed   BLOB,
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
    session_hash        BLOB PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users(user_id),
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    address_sealed      BLOB NOT NULL,
    user_agent_sealed   BLOB NOT NULL,
    mfa_verified        SMALLINT NOT NULL,
    revoked_at          BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE invites (
    token_hash      BLOB PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organisations(org_id),
    role            TEXT NOT NULL,
    created_by      TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    login_sealed    BLOB,
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
    wrapped_sealed  BLOB NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (case_id, epoch, recipient_kind, recipient_id)
);

CREATE TABLE messages (
    case_id         TEXT NOT NULL REFERENCES cases(case_id),
    seq             BIGINT NOT NULL,
    client_msg_id   TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    envelope_sealed BLOB NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (case_id, seq),
    UNIQUE (case_id, client_msg_id)
);

CREATE TABLE attachments (
    attachment_id   TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases(case_id),
    uploader_id     TEXT NOT NULL,
    blob_id         TEXT NOT NULL,
    sha256_sealed   BLOB NOT NULL,
    size_sealed     BLOB NOT NULL,
    ctype_sealed    BLOB NOT NULL,
    metadata_sealed BLOB NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX attachments_case ON attachments (case_id, created_at);

CREATE TABLE outcomes (
    case_id         TEXT PRIMARY KEY REFERENCES cases(case_id),
    category_sealed BLOB NOT NULL,
    payload_sealed  BLOB NOT NULL,
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
    prev_hash       BLOB NOT NULL,
    entry_hash      BLOB NOT NULL,
    content_sealed  BLOB NOT NULL
);

-- One row: the sealed head (seq, hash) of the chain; its row lock serialises appends.
CREATE TABLE audit_head (
    id              INTEGER PRIMARY KEY,
    head_sealed     BLOB NOT NULL
);

CREATE TABLE audit_checkpoints (
    seq         BIGINT PRIMARY KEY,
    entry_hash  BLOB NOT NULL,
    signature   BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);
