-- wxpay-server schema (SQLite). Times are Unix seconds; amounts are integer fen.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    appid       TEXT NOT NULL,
    openid      TEXT NOT NULL,
    unionid     TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (appid, openid)
);

-- Only a hash of the bearer token is stored; session_key never leaves the server.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    session_key TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE products (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    price_fen   INTEGER NOT NULL CHECK (price_fen > 0),
    active      INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE orders (
    out_trade_no      TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(id),
    idempotency_key   TEXT,
    description       TEXT NOT NULL,
    amount_fen        INTEGER NOT NULL CHECK (amount_fen > 0),
    state             TEXT NOT NULL,
    channel           TEXT,
    appid             TEXT,
    prepay_id         TEXT,
    prepay_payload    TEXT,
    prepay_expires_at INTEGER,
    transaction_id    TEXT,
    paid_at           INTEGER,
    refunded_fen      INTEGER NOT NULL DEFAULT 0,
    last_checked_at   INTEGER,
    lease_owner       TEXT,
    lease_until       INTEGER,
    version           INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_pending ON orders (state, created_at);

CREATE TABLE order_items (
    out_trade_no    TEXT NOT NULL REFERENCES orders(out_trade_no),
    product_id      TEXT NOT NULL REFERENCES products(id),
    quantity        INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_fen  INTEGER NOT NULL,
    PRIMARY KEY (out_trade_no, product_id)
);

CREATE TABLE refunds (
    out_refund_no   TEXT PRIMARY KEY,
    out_trade_no    TEXT NOT NULL REFERENCES orders(out_trade_no),
    amount_fen      INTEGER NOT NULL CHECK (amount_fen > 0),
    status          TEXT NOT NULL,
    refund_id       TEXT,
    reason          TEXT,
    lease_owner     TEXT,
    lease_until     INTEGER,
    version         INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX refunds_by_order ON refunds (out_trade_no);

-- Every notification received, verified or not. verified_id is the notification id of a
-- notification whose signature checked out: unique, so a retry is recognised.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    claimed_id      TEXT,
    verified_id     TEXT UNIQUE,
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL,
    verification    TEXT NOT NULL,
    processing      TEXT NOT NULL,
    out_trade_no    TEXT,
    received_at     INTEGER NOT NULL
);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    cause       TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX audit_by_entity ON audit (entity, entity_id);

-- Cached upstream credentials (access token, jsapi ticket) so instances share one.
CREATE TABLE credentials (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
