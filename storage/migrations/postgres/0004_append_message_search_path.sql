-- Pin the search path of append_message (0002) to its own schema, so that the function
-- resolves `cases` and `messages` to Dermline's tables whoever calls it and whatever their
-- session's search_path holds: an object of the same name in another schema, or a temporary
-- table (pg_temp comes first by default), can never stand in for ours. pg_catalog first, then
-- the schema this migration runs in (migrate_postgres sets it), pg_temp last.
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION append_message(TEXT, TEXT, TEXT, BYTEA, BIGINT)'
        ' SET search_path = pg_catalog, %I, pg_temp',
        current_schema()
    );
END
$$;
