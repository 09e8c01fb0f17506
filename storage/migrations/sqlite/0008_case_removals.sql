-- Membership epochs (docs/protocol.md section 24, docs/storage.md "Removals and epochs"):
-- who was taken off a case, at which key epoch, why and by whom. Routing metadata in the
-- clear like participants. While a case's key_epoch equals a removal's epoch the case
-- needs a new epoch before anything more is sent ("rotation required").
CREATE TABLE case_removals (
    case_id     TEXT NOT NULL REFERENCES cases(case_id),
    user_id     TEXT NOT NULL REFERENCES users(user_id),
    epoch       INTEGER NOT NULL,
    reason      TEXT NOT NULL CHECK (reason IN ('case', 'account', 'membership')),
    removed_by  TEXT REFERENCES users(user_id),
    removed_at  BIGINT NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
CREATE INDEX case_removals_user ON case_removals (user_id);
