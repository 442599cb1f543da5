-- A prepay's results get a column each. Before, prepay_id held the prepay id, or for a v3
-- H5 or Native prepay the URL itself, and prepay_payload the URL the client opens; which
-- was which depended on the channel. Now prepay_id is only ever WeChat's prepay id, and the
-- H5 cashier URL (h5_url, v2 mweb_url) and the QR content (code_url) have their own.
ALTER TABLE orders ADD COLUMN h5_url TEXT;
ALTER TABLE orders ADD COLUMN code_url TEXT;
UPDATE orders SET h5_url = prepay_payload WHERE channel IN ('h5', 'h5.v2');
UPDATE orders SET code_url = prepay_payload WHERE channel IN ('native', 'native.v2');
UPDATE orders SET prepay_id = NULL WHERE channel IN ('h5', 'native');
ALTER TABLE orders DROP COLUMN prepay_payload;
