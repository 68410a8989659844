-- Portable DDL: the same statements run on SQLite and PostgreSQL. Times are milliseconds since the
-- Unix epoch (BIGINT); JSON documents are TEXT.

-- Queue messages. A message is visible when visible_at <= now; otherwise it is in flight if it was
-- received (receive_count > 0) and delayed if not. Moving a message to a dead-letter queue changes
-- its `queue`.
CREATE TABLE queue_messages (
    message_id        TEXT PRIMARY KEY,
    queue             TEXT NOT NULL,
    body              TEXT NOT NULL,
    attributes        TEXT NOT NULL,
    sent_at           BIGINT NOT NULL,
    first_received_at BIGINT,
    receive_count     BIGINT NOT NULL,
    visible_at        BIGINT NOT NULL
);
CREATE INDEX queue_messages_due ON queue_messages (queue, visible_at);

CREATE TABLE queue_counters (
    queue         TEXT PRIMARY KEY,
    dead_lettered BIGINT NOT NULL
);

-- Workflow executions, named (a name starts once). `lease_until`: the process running a RUNNING
-- execution renews it; an execution whose lease has lapsed is resumed by whoever claims it.
CREATE TABLE executions (
    name        TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    input       TEXT NOT NULL,
    output      TEXT,
    error       TEXT,
    cause       TEXT,
    history     TEXT,
    started_at  BIGINT NOT NULL,
    stopped_at  BIGINT,
    lease_until BIGINT NOT NULL
);
CREATE INDEX executions_status ON executions (status, lease_until);
CREATE INDEX executions_started ON executions (started_at, name);

-- The result of each task an execution completed, so that a resumed execution never runs it again.
CREATE TABLE execution_checkpoints (
    execution TEXT NOT NULL,
    step      TEXT NOT NULL,
    output    TEXT NOT NULL,
    PRIMARY KEY (execution, step)
);

-- Idempotency records of the payment function: claimed by one atomic insert.
CREATE TABLE idempotency_records (
    idempotency_key TEXT PRIMARY KEY,
    fingerprint     TEXT NOT NULL,
    claimed_at      BIGINT NOT NULL,
    response        TEXT
);
