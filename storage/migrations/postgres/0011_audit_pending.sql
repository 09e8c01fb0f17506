-- One durable commit per message (docs/storage.md section 9, "Entries written with a
-- message"): a message's audit entry is written in the message's own transaction, into
-- audit_pending, without touching the chain head, so that sends on every node never queue for
-- the one audit_head row lock. A chainer moves pending entries into the chain in batches
-- (one head lock per batch). The content is the entry's canonical form (seq 0) sealed with
-- the row's pending_id bound into its associated data; pos keeps the order of insertion.
CREATE TABLE audit_pending (
    pending_id      TEXT PRIMARY KEY,
    pos             BIGSERIAL,
    content_sealed  BYTEA NOT NULL
);
CREATE INDEX audit_pending_pos ON audit_pending (pos);

-- append_message (0002) and, when it created the message, the pending audit entry: still one
-- round trip and one commit per send.
CREATE FUNCTION append_message_audited(
    p_case TEXT, p_mid TEXT, p_sender TEXT, p_envelope BYTEA, p_when BIGINT,
    p_audit_id TEXT, p_audit BYTEA
) RETURNS TABLE (o_seq BIGINT, o_sender TEXT, o_envelope BYTEA, o_created_at BIGINT,
                 o_created BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
BEGIN
    SELECT * INTO r FROM append_message(p_case, p_mid, p_sender, p_envelope, p_when);
    IF r.o_created THEN
        INSERT INTO audit_pending (pending_id, content_sealed) VALUES (p_audit_id, p_audit);
    END IF;
    RETURN QUERY SELECT r.o_seq, r.o_sender, r.o_envelope, r.o_created_at, r.o_created;
END
$$;

-- The same pinned search path as append_message (0004).
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION append_message_audited(TEXT, TEXT, TEXT, BYTEA, BIGINT, TEXT, BYTEA)'
        ' SET search_path = pg_catalog, %I, pg_temp',
        current_schema()
    );
END
$$;
