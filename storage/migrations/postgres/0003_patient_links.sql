-- Patient photo links (issue 6 item 8; docs/protocol.md section 17, docs/storage.md).
-- The token is never stored, only its SHA-256 (as for invites); the patient's drop records
-- are end-to-end ciphertext and are sealed again at rest like every other payload.
CREATE TABLE patient_links (
    link_id           TEXT PRIMARY KEY,
    case_id           TEXT NOT NULL REFERENCES cases(case_id),
    token_hash        BYTEA NOT NULL UNIQUE,
    created_by        TEXT NOT NULL REFERENCES users(user_id),
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    max_photos        INTEGER NOT NULL,
    uploads           INTEGER NOT NULL,
    used_at           BIGINT,
    revoked_at        BIGINT,
    submission_sealed BYTEA
);
CREATE INDEX patient_links_case ON patient_links (case_id, created_at);
