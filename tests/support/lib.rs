//! Helpers for the end-to-end tests: start an emulator on a free port with a database of its own
//! (a SQLite file, or a fresh PostgreSQL database with `E2E_DATABASE=postgres`), talk to it over
//! HTTP as the site and an operator would, hold every answer of the public API to
//! web/openapi.json, and look for card data everywhere the system writes (logs, queues, tables,
//! responses). One module a concern, everything the tests use re-exported here:
//!
//! - `app`: [`spawn_app`] and the [`TestApp`] it returns, through which every request goes;
//! - `topology`: which cloud and how the functions run (`E2E_CLOUD`, `E2E_FUNCTIONS`), and the
//!   queues' names there;
//! - `databases`: each test's own database (`E2E_DATABASE`), and all it holds;
//! - `public_api`: the requests the site makes, and a valid registration to make them with;
//! - `inspector`: the operator's view: listings, faults, queues, executions, waiting;
//! - `raw_http`: bytes no HTTP client would send, and the answer read off the connection;
//! - `contract`: every answer of the public API held to web/openapi.json;
//! - `card_scan`: the test card, and the search for it wherever the system writes;
//! - `logs`: this process's logs, captured for the scan and for the tests to search.

mod app;
mod card_scan;
mod contract;
mod databases;
mod inspector;
mod logs;
mod public_api;
mod raw_http;
mod topology;

pub use app::{TestApp, spawn_app, spawn_app_with};
pub use card_scan::CARD_NUMBER;
pub use contract::assert_documented;
pub use logs::{log_lines, logs_contain};
pub use public_api::{card_number, registration, unique_email};
pub use raw_http::RawAnswer;
pub use topology::{QueueNames, REGISTRATION_STATES, azure, process_mode, queues};
