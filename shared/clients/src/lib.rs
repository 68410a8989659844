//! The outside services the functions talk to, each behind a small port (a trait):
//! the payment gateway (PayPal), the email sender (SendGrid), the mailing-list audience
//! (Mailchimp), the order publisher (a queue) and the workflow starter (Step Functions).
//!
//! Functions hold these as `Arc<dyn Port>` so that the same handler runs against the real client
//! in the cloud and against the emulator's local providers on a laptop. Each port's error says
//! whether a retry can help (`Unavailable`) or not (`Rejected`, `Declined`).
//!
//! Layout: one module per port: `payments.rs`, `email.rs`, `audience.rs`, `publisher.rs`,
//! `workflow.rs`. The wire-level clients (PayPal Orders v2, SendGrid v3, Mailchimp 3.0) will live
//! beside their ports.

pub mod audience;
pub mod config;
pub mod email;
pub mod payments;
pub mod publisher;
pub mod workflow;
