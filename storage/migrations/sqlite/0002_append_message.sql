-- Version parity with ../postgres/0002_append_message.sql, which moves the message append
-- unit into a server-side function to save round trips. SQLite needs nothing: its writer
-- thread already runs the unit without round trips.
SELECT 1;
