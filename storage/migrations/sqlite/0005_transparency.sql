-- The key transparency log and the directory keys it publishes (docs/protocol.md sections
-- 18 to 21, docs/storage.md "Transparency log").
-- The log's size and right frontier (one row, locked by every append).
CREATE TABLE transparency_state (
    id       INTEGER PRIMARY KEY,
    size     BIGINT NOT NULL,
    frontier BLOB NOT NULL
);
-- One row per leaf. The entry is sealed (an organisation key statement names the
-- organisation); what it is about stays clear so the directory can find it.
CREATE TABLE transparency_entries (
    idx          BIGINT PRIMARY KEY,
    kind         TEXT NOT NULL,
    org_id       TEXT,
    user_id      TEXT,
    ref          TEXT,
    entry_sealed BLOB NOT NULL
);
CREATE INDEX transparency_entries_org ON transparency_entries (org_id, idx);
CREATE INDEX transparency_entries_user ON transparency_entries (user_id, idx);
CREATE INDEX transparency_entries_ref ON transparency_entries (ref, idx);
-- Every complete, aligned subtree's hash: node (level, idx) covers leaves
-- idx * 2^level .. (idx + 1) * 2^level - 1. Hashes are what signed heads publish.
CREATE TABLE transparency_nodes (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);
-- Every signed tree head (record 0x0d, public), so proofs between any two work.
CREATE TABLE transparency_heads (
    tree_size  BIGINT PRIMARY KEY,
    head       BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
-- An organisation's key (its self-signed statement) and the wraps of its private scalar
-- to administrators (record 0x0f).
CREATE TABLE org_keys (
    org_id           TEXT PRIMARY KEY REFERENCES organisations(org_id),
    key_id           BLOB NOT NULL,
    created_by       TEXT REFERENCES users(user_id),
    created_at       BIGINT NOT NULL,
    statement_sealed BLOB NOT NULL
);
CREATE TABLE org_key_wraps (
    org_id       TEXT NOT NULL REFERENCES organisations(org_id),
    recipient_id TEXT NOT NULL REFERENCES users(user_id),
    wrapper_id   TEXT NOT NULL REFERENCES users(user_id),
    created_at   BIGINT NOT NULL,
    wrap_sealed  BLOB NOT NULL,
    PRIMARY KEY (org_id, recipient_id)
);
-- Records-key changes signed by the organisation key, waiting for two approvals.
CREATE TABLE records_key_pending (
    org_id            TEXT NOT NULL REFERENCES organisations(org_id),
    statement_hash    BLOB NOT NULL,
    sequence          BIGINT NOT NULL,
    proposed_by       TEXT NOT NULL REFERENCES users(user_id),
    proposed_at       BIGINT NOT NULL,
    statement_sealed  BLOB NOT NULL,
    public_key_sealed BLOB NOT NULL,
    PRIMARY KEY (org_id, statement_hash)
);
CREATE TABLE records_key_approvals (
    org_id          TEXT NOT NULL,
    statement_hash  BLOB NOT NULL,
    approver_id     TEXT NOT NULL REFERENCES users(user_id),
    created_at      BIGINT NOT NULL,
    approval_sealed BLOB NOT NULL,
    PRIMARY KEY (org_id, statement_hash, approver_id)
);
ALTER TABLE organisations ADD COLUMN records_key_seq BIGINT;
ALTER TABLE invites ADD COLUMN statement_sealed BLOB;
ALTER TABLE invites ADD COLUMN handover_sealed BLOB;
