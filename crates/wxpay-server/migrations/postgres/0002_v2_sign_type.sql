-- Twin of ../0002_v2_sign_type.sql: the API v2 sign type of an order's unified order.
ALTER TABLE orders ADD COLUMN v2_sign_type TEXT;
