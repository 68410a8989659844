//! End-to-end tests: each starts its own emulator on a free port and drives it over HTTP, as the
//! site and an operator would, then checks what every part did through the inspector API.
//!
//! - `registration`: the happy paths, consent, declines, bad input;
//! - `idempotency`: retried requests and redelivered orders do everything once;
//! - `failures`: retries, exhausted retries, dead-letter queues;
//! - `hardening`: hostile and careless clients, one test per way they once got through;
//! - `abuse`: a card tester, a flood, a stampede: the limits the deployed system sets;
//! - `malformed`: hundreds of malformed requests, each a 4xx with a JSON error within a second;
//! - `azure`: what only the Azure topology does (a redelivery resuming a half-finished execution);
//! - `story`: one registration's story in the inspector.
//!
//! Every answer of the public API is held to web/openapi.json, and each test ends by scanning
//! for card data (the number, grouped or not, and the security code) in logs, queues, tables
//! and responses.
//!
//! The emulator keeps its data in a SQLite file per test, or with `E2E_DATABASE=postgres` in a
//! database per test on the PostgreSQL server at `TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`), dropped when the test ends. It runs the AWS topology
//! (`template.yaml`), or with `E2E_CLOUD=azure` the Azure Function App (`infra/azure`, its
//! custom handler under the emulator's Functions host).

mod abuse;
mod azure;
mod failures;
mod hardening;
mod idempotency;
mod malformed;
mod registration;
mod story;
