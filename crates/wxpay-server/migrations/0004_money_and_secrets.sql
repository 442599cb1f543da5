-- wxpay-server 0004 (issue 12, money and secrets). Times are Unix seconds.

-- Sessions: the session_key from code2Session was stored but never read. It is wiped and
-- its column dropped; secure_delete overwrites the freed pages instead of leaving the old
-- values in them. Expired sessions are purged by the worker, hence the index.
PRAGMA secure_delete = ON;
UPDATE sessions SET session_key = NULL;
ALTER TABLE sessions DROP COLUMN session_key;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
