-- wxpay-server 0004 (issue 12, money and secrets). Times are Unix seconds.

-- Sessions: the session_key from code2Session was stored but never read. It is wiped and
-- its column dropped; secure_delete overwrites the freed pages instead of leaving the old
-- values in them. Expired sessions are purged by the worker, hence the index.
PRAGMA secure_delete = ON;
UPDATE sessions SET session_key = NULL;
ALTER TABLE sessions DROP COLUMN session_key;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Notifications: anyone can post to the endpoints, so of a request that did not verify only
-- the first bytes are kept, with the whole body's length and SHA-256 (NULL for rows written
-- before, which kept whole bodies). The log is kept for worker.notification_retention_days;
-- the purge reads received_at. A verified id is unique per kind of notification, not across
-- kinds: a captured pay notification replayed to the refund endpoint (where it is ignored)
-- must not make WeChat's genuine delivery to the pay endpoint look like a duplicate.
-- SQLite cannot change a table constraint in place, so the table is rebuilt with the same
-- rows and ids.
CREATE TABLE notifications_0004 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    claimed_id      TEXT,
    verified_id     TEXT,
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL,
    body_len        INTEGER,
    body_sha256     TEXT,
    verification    TEXT NOT NULL,
    processing      TEXT NOT NULL,
    out_trade_no    TEXT,
    received_at     INTEGER NOT NULL,
    UNIQUE (kind, verified_id)
);
INSERT INTO notifications_0004 (id, kind, claimed_id, verified_id, headers, body, body_len,
    verification, processing, out_trade_no, received_at)
SELECT id, kind, claimed_id, verified_id, headers, body, length(body),
    verification, processing, out_trade_no, received_at
FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_0004 RENAME TO notifications;
CREATE INDEX notifications_by_receipt ON notifications (received_at);
CREATE INDEX notifications_by_order ON notifications (out_trade_no);

-- Refunds: when WeChat was last asked about one, so the status endpoint asks again only
-- once that is stale (the orders' rule), not on every call while it is PROCESSING.
ALTER TABLE refunds ADD COLUMN last_checked_at INTEGER;

-- Orders: why the merchant should look at an order is orders.attention (added by 0003);
-- this version also sets it when a query proves an order paid and then refunded without us.
