-- Version parity with ../postgres/0004_append_message_search_path.sql, which pins the search
-- path of PostgreSQL's append_message function. SQLite has no server-side function.
SELECT 1;
