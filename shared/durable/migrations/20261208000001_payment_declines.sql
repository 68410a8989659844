-- The payment function's declined payments (clients::declines): one row per decline and subject,
-- a subject being an opaque keyed fingerprint of the client's address, the email or the card
-- (never the value itself). Rows older than the longest window are deleted as new ones come.
CREATE TABLE payment_declines (
    subject     TEXT NOT NULL,
    declined_at BIGINT NOT NULL
);
CREATE INDEX payment_declines_by_subject ON payment_declines (subject, declined_at);
