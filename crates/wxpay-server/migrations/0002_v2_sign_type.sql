-- The API v2 sign type an order's unified order was signed with (MD5 or HMAC-SHA256).
-- WeChat signs the order's pay notification with it and names it nowhere in the message,
-- so it must be remembered per order: the configured type may change while orders are open.
ALTER TABLE orders ADD COLUMN v2_sign_type TEXT;
