-- Issue 12 ("Money and secrets"): refunds keyed by the caller's Idempotency-Key, and orders
-- paid after they were closed here, flagged for the merchant.

-- The key the merchant's staff sent with the refund request, and what that request asked
-- for (order, amount, reason as canonical JSON): the same key again gets the same refund,
-- the same key with another request is refused. Keys are one namespace: the staff's.
ALTER TABLE refunds ADD COLUMN idempotency_key TEXT;
ALTER TABLE refunds ADD COLUMN request_fingerprint TEXT;
CREATE UNIQUE INDEX refunds_by_idempotency_key ON refunds (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- A payment WeChat proved (verified notification or query) for an order this server had
-- already closed: the money is recorded as received (state SUCCESS) and the order is
-- flagged for the merchant to refund or fulfil. NULL when nothing needs a person.
ALTER TABLE orders ADD COLUMN attention TEXT;
CREATE INDEX orders_needing_attention ON orders (attention) WHERE attention IS NOT NULL;
