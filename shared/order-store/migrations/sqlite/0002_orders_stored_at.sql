-- Listings page newest first by the time an order was stored.
CREATE INDEX orders_stored_at ON orders (stored_at, order_id);
