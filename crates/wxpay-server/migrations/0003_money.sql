-- Issue 12 ("Money and secrets"): refunds keyed by the caller's Idempotency-Key.

-- The key the merchant's staff sent with the refund request, and what that request asked
-- for (order, amount, reason as canonical JSON): the same key again gets the same refund,
-- the same key with another request is refused. Keys are one namespace: the staff's.
ALTER TABLE refunds ADD COLUMN idempotency_key TEXT;
ALTER TABLE refunds ADD COLUMN request_fingerprint TEXT;
CREATE UNIQUE INDEX refunds_by_idempotency_key ON refunds (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
