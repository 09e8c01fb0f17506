-- Retention, legal holds and disposal (docs/storage.md, "Retention and disposal";
-- storage/retention.py has the rule). Keep in step with ../sqlite/0006_retention.sql:
-- the only difference is the binary type. Times are BIGINT microseconds since the epoch.

-- The closing client's date, as the instant from which the case may go (00:00 UTC on the
-- day after the date it sent); set_at tells whether it was sent since the latest closure.
CREATE TABLE case_retention (
    case_id     TEXT PRIMARY KEY REFERENCES cases(case_id),
    keep_until  BIGINT NOT NULL,
    set_at      BIGINT NOT NULL
);

-- An organisation's minimum period in whole years (each counted as 366 days).
CREATE TABLE org_retention (
    org_id      TEXT PRIMARY KEY REFERENCES organisations(org_id),
    min_years   INTEGER NOT NULL CHECK (min_years BETWEEN 0 AND 100),
    set_by      TEXT,
    updated_at  BIGINT NOT NULL
);

-- A legal hold stops disposal; the reason is a code, the officer's reference is sealed.
CREATE TABLE legal_holds (
    case_id             TEXT PRIMARY KEY REFERENCES cases(case_id),
    reason              TEXT NOT NULL,
    placed_by           TEXT NOT NULL REFERENCES users(user_id),
    placed_at           BIGINT NOT NULL,
    reference_sealed    BYTEA
);

-- The disposal record (the case row and its participants stay as a tombstone).
CREATE TABLE case_disposals (
    case_id         TEXT PRIMARY KEY REFERENCES cases(case_id),
    disposed_at     BIGINT NOT NULL,
    keep_until      BIGINT NOT NULL,
    basis           TEXT NOT NULL,
    case_keys       INTEGER NOT NULL,
    messages        INTEGER NOT NULL,
    attachments     INTEGER NOT NULL,
    outcome         SMALLINT NOT NULL,
    patient_links   INTEGER NOT NULL,
    receipts        INTEGER NOT NULL
);

-- Blob files of disposed attachments, written in the disposal's transaction and removed
-- once the files are deleted (a crash in between is finished by the next run).
CREATE TABLE disposal_blobs (
    blob_id     TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases(case_id),
    created_at  BIGINT NOT NULL
);

-- The due scan: closed cases by closure time.
CREATE INDEX cases_closed ON cases (closed_at, case_id);
