-- One row per paid registration, keyed by the order id so a redelivered order stores nothing new.
-- No card data: the order carries none.
CREATE TABLE orders (
    order_id         TEXT PRIMARY KEY NOT NULL,
    placed_at        TEXT NOT NULL,
    ticket_id        TEXT NOT NULL,
    ticket_name      TEXT NOT NULL,
    amount_value     TEXT NOT NULL,
    amount_currency  TEXT NOT NULL,
    first_name       TEXT NOT NULL,
    last_name        TEXT NOT NULL,
    email            TEXT NOT NULL,
    organization     TEXT,
    newsletter       BOOLEAN NOT NULL,
    payment_provider TEXT NOT NULL,
    capture_id       TEXT NOT NULL,
    stored_at        TEXT NOT NULL
);
