//! End-to-end tests: each starts its own emulator on a free port and drives it over HTTP, as the
//! site and an operator would, then checks what every part did through the inspector API.
//!
//! - `registration`: the happy paths, consent, declines, bad input;
//! - `idempotency`: retried requests and redelivered orders do everything once;
//! - `failures`: retries, exhausted retries, dead-letter queues.
//!
//! Each test ends by scanning for the card number in logs, queues, tables and responses.

mod failures;
mod idempotency;
mod registration;
