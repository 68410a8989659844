-- What the local providers keep, so that it survives a restart as the real services' records do.
-- Portable DDL (SQLite and PostgreSQL): times are milliseconds since the Unix epoch, documents are
-- JSON text. Each listing table has (id, at, record): `record` is what the inspector shows.

-- The local PayPal's ledger: orders, the PayPal-Request-Id of each create and capture (so that a
-- replayed request answers the same order and charges nothing), and the captures.
CREATE TABLE paypal_orders (
    id   TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE paypal_request_ids (
    operation  TEXT NOT NULL,
    request_id TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    PRIMARY KEY (operation, request_id)
);
CREATE TABLE paypal_captures (
    id     TEXT PRIMARY KEY,
    at     BIGINT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX paypal_captures_at ON paypal_captures (at, id);

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
