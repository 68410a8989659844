-- One row per paid registration, keyed by the order id so a redelivered order stores nothing new.
-- No card data: the order carries none. The columns are those of migrations/sqlite, with
-- PostgreSQL's types; the amount is NUMERIC, whose scale PostgreSQL keeps ('250.00', '25000'),
-- so it reads back exactly as the decimal string that was stored.
CREATE TABLE orders (
    order_id         UUID PRIMARY KEY,
    placed_at        TIMESTAMPTZ NOT NULL,
    ticket_id        TEXT NOT NULL,
    ticket_name      TEXT NOT NULL,
    amount_value     NUMERIC NOT NULL CHECK (amount_value >= 0),
    amount_currency  TEXT NOT NULL,
    first_name       TEXT NOT NULL,
    last_name        TEXT NOT NULL,
    email            TEXT NOT NULL,
    organization     TEXT,
    newsletter       BOOLEAN NOT NULL,
    payment_provider TEXT NOT NULL,
    capture_id       TEXT NOT NULL,
    stored_at        TIMESTAMPTZ NOT NULL
);
