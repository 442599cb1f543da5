-- wxpay-server schema (PostgreSQL), the twin of ../0001_initial.sql. Times are Unix seconds
-- and amounts integer fen, both BIGINT (the server reads them as i64).

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    appid       TEXT NOT NULL,
    openid      TEXT NOT NULL,
    unionid     TEXT,
    created_at  BIGINT NOT NULL,
    UNIQUE (appid, openid)
);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    session_key TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE products (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    price_fen   BIGINT NOT NULL CHECK (price_fen > 0),
    active      BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE orders (
    out_trade_no      TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(id),
    idempotency_key   TEXT,
    description       TEXT NOT NULL,
    amount_fen        BIGINT NOT NULL CHECK (amount_fen > 0),
    state             TEXT NOT NULL,
    channel           TEXT,
    appid             TEXT,
    prepay_id         TEXT,
    prepay_payload    TEXT,
    prepay_expires_at BIGINT,
    transaction_id    TEXT,
    paid_at           BIGINT,
    refunded_fen      BIGINT NOT NULL DEFAULT 0,
    last_checked_at   BIGINT,
    lease_owner       TEXT,
    lease_until       BIGINT,
    version           BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_pending ON orders (state, created_at);

CREATE TABLE order_items (
    out_trade_no    TEXT NOT NULL REFERENCES orders(out_trade_no),
    product_id      TEXT NOT NULL REFERENCES products(id),
    quantity        BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_fen  BIGINT NOT NULL,
    PRIMARY KEY (out_trade_no, product_id)
);

CREATE TABLE refunds (
    out_refund_no   TEXT PRIMARY KEY,
    out_trade_no    TEXT NOT NULL REFERENCES orders(out_trade_no),
    amount_fen      BIGINT NOT NULL CHECK (amount_fen > 0),
    status          TEXT NOT NULL,
    refund_id       TEXT,
    reason          TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    version         BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX refunds_by_order ON refunds (out_trade_no);

-- verified_id is unique: when two instances receive the same notification at once, the
-- second insert waits for the first transaction and then finds the conflict.
CREATE TABLE notifications (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,
    claimed_id      TEXT,
    verified_id     TEXT UNIQUE,
    headers         TEXT NOT NULL,
    body            BYTEA NOT NULL,
    verification    TEXT NOT NULL,
    processing      TEXT NOT NULL,
    out_trade_no    TEXT,
    received_at     BIGINT NOT NULL
);

CREATE TABLE audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    cause       TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX audit_by_entity ON audit (entity, entity_id);

CREATE TABLE credentials (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
