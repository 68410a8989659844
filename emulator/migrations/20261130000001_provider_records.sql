-- What the local providers keep, so that it survives a restart as the real services' records do.
-- Portable DDL (SQLite and PostgreSQL): times are milliseconds since the Unix epoch, documents are
-- JSON text. Each listing has (id, at, record): `record` is what the inspector shows.

-- The local PayPal's ledger: one row per order, with the PayPal-Request-Id of its create and of its
-- capture (unique: a replayed request answers the same order and charges nothing) and, once
-- charged, its captures (a JSON list, what the inspector shows) and their status.
CREATE TABLE paypal_orders (
    id                 TEXT PRIMARY KEY,
    body               TEXT NOT NULL,
    create_request_id  TEXT UNIQUE,
    capture_request_id TEXT UNIQUE,
    at                 BIGINT NOT NULL,
    capture_status     TEXT,
    captures           TEXT
);
CREATE INDEX paypal_orders_at ON paypal_orders (at, id);
CREATE INDEX paypal_orders_capture_status ON paypal_orders (capture_status);

-- The local SendGrid's outbox.
CREATE TABLE sendgrid_emails (
    id     TEXT PRIMARY KEY,
    at     BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX sendgrid_emails_at ON sendgrid_emails (at, id);

-- The local Mailchimp's audience: id is `<list id>/<lower-cased address>`; `member` is the full
-- member that the API answers with.
CREATE TABLE mailchimp_members (
    id     TEXT PRIMARY KEY,
    at     BIGINT NOT NULL,
    record TEXT NOT NULL,
    member TEXT NOT NULL
);
CREATE INDEX mailchimp_members_at ON mailchimp_members (at, id);
