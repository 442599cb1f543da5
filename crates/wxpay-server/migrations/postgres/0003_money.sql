-- Twin of ../0003_money.sql: refund idempotency keys, and orders flagged for the merchant.
ALTER TABLE refunds ADD COLUMN idempotency_key TEXT;
ALTER TABLE refunds ADD COLUMN request_fingerprint TEXT;
CREATE UNIQUE INDEX refunds_by_idempotency_key ON refunds (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE orders ADD COLUMN attention TEXT;
CREATE INDEX orders_needing_attention ON orders (attention) WHERE attention IS NOT NULL;
