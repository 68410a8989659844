//! The outside services the functions talk to, each behind a small port (a trait):
//! the payment gateway (PayPal), the email sender (SendGrid), the mailing-list audience
//! (Mailchimp), the order publisher (a queue), the workflow starter (Step Functions) and the
//! idempotency records and the declined-payments ledger of the payment function.
//!
//! Functions hold these as `Arc<dyn Port>` so that the same handler runs against the real client
//! in the cloud and against the emulator's local providers on a laptop. Each port's error says
//! whether a retry can help (`Unavailable`) or not (`Rejected`, `Declined`).
//!
//! Layout: one module per port (`payments.rs`, `email.rs`, `audience.rs`, `publisher.rs`,
//! `workflow.rs`, `idempotency.rs`, `declines.rs`); the wire-level clients beside them (`paypal/` for Orders v2, `sendgrid.rs` for
//! Mail Send v3, `mailchimp.rs` for the Marketing API's member upsert), with what they share:
//! `exchange.rs` (one HTTP attempt and its retryable/terminal verdict), `retry.rs` (backoff with
//! jitter within a deadline) and `config.rs` (settings from the environment).
//!
//! Each wire-level client is a cargo feature (`paypal`, `sendgrid`, `mailchimp`; all by default),
//! so that a function links only the HTTP client it calls; the ports are always there.

pub mod audience;
pub mod config;
pub mod declines;
pub mod email;
#[cfg(feature = "http")]
mod exchange;
pub mod idempotency;
#[cfg(feature = "mailchimp")]
pub mod mailchimp;
pub mod payments;
#[cfg(feature = "paypal")]
pub mod paypal;
pub mod publisher;
#[cfg(feature = "http")]
pub mod retry;
#[cfg(feature = "sendgrid")]
pub mod sendgrid;
pub mod workflow;
