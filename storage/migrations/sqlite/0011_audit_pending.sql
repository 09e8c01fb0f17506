-- Schema parity with ../postgres/0011_audit_pending.sql. SQLite's single writer chains a
-- message's audit entry inline, in the message's own transaction, so this table stays empty
-- here (docs/storage.md section 9).
CREATE TABLE audit_pending (
    pending_id      TEXT PRIMARY KEY,
    pos             INTEGER NOT NULL DEFAULT 0,
    content_sealed  BLOB NOT NULL
);
