-- PostgreSQL only: the message append unit (storage/_sql.py append_message) as one server-side
-- function, so that a durable append costs one round trip instead of six (BEGIN, lock, look
-- up, sequence, insert, COMMIT). The logic is exactly the one SQLite runs in its writer:
-- lock the case row, return the stored message for a repeated client id (created = false),
-- otherwise take the next per-case sequence number and insert, all in one transaction.
CREATE FUNCTION append_message(
    p_case TEXT, p_mid TEXT, p_sender TEXT, p_envelope BYTEA, p_when BIGINT
) RETURNS TABLE (o_seq BIGINT, o_sender TEXT, o_envelope BYTEA, o_created_at BIGINT,
                 o_created BOOLEAN)
LANGUAGE plpgsql AS $$
DECLARE
    v_seq BIGINT;
BEGIN
    PERFORM 1 FROM cases WHERE case_id = p_case FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'case' USING ERRCODE = 'no_data_found';
    END IF;
    RETURN QUERY
        SELECT m.seq, m.sender_id, m.envelope_sealed, m.created_at, FALSE
        FROM messages m WHERE m.case_id = p_case AND m.client_msg_id = p_mid;
    IF FOUND THEN
        RETURN;
    END IF;
    UPDATE cases SET last_seq = last_seq + 1, updated_at = p_when,
        first_response_at = CASE WHEN first_response_at IS NULL AND created_by <> p_sender
                                 THEN p_when ELSE first_response_at END
        WHERE case_id = p_case RETURNING last_seq INTO v_seq;
    INSERT INTO messages (case_id, seq, client_msg_id, sender_id, envelope_sealed, created_at)
        VALUES (p_case, v_seq, p_mid, p_sender, p_envelope, p_when);
    RETURN QUERY SELECT v_seq, p_sender, p_envelope, p_when, TRUE;
END
$$;
