-- Twin of ../0004_money_and_secrets.sql. PostgreSQL changes the tables in place where
-- SQLite rebuilds them.

-- Sessions: the unused session_key column goes; expired sessions are purged by expiry.
UPDATE sessions SET session_key = NULL;
ALTER TABLE sessions DROP COLUMN session_key;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Notifications: length and SHA-256 of the whole body; a verified id unique per kind.
ALTER TABLE notifications ADD COLUMN body_len BIGINT;
ALTER TABLE notifications ADD COLUMN body_sha256 TEXT;
UPDATE notifications SET body_len = length(body);
ALTER TABLE notifications DROP CONSTRAINT notifications_verified_id_key;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_verified_id_key UNIQUE (kind, verified_id);
CREATE INDEX notifications_by_receipt ON notifications (received_at);
CREATE INDEX notifications_by_order ON notifications (out_trade_no);

-- Refunds: when WeChat was last asked about one.
ALTER TABLE refunds ADD COLUMN last_checked_at BIGINT;
