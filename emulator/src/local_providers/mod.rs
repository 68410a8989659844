//! Local servers that speak PayPal's, SendGrid's and Mailchimp's real HTTP APIs.
//!
//! Why they exist: the functions' real provider clients (PayPal Orders v2, SendGrid v3 mail send,
//! Mailchimp 3.0 members) run end to end on a laptop, pointed at these servers instead of the
//! providers. A fake that accepted anything would hide client bugs until production, so each one
//! rejects what the real API rejects (a missing header, an amount with the wrong decimals, HTML
//! before text, a wrong subscriber hash), with the real status code and the provider's own error
//! body. What they accept is what the emulator's inspector shows (`payments`, `outbox`,
//! `audience`).
//!
//! Each fake is an `axum::Router` that uses the provider's own paths (`/v2/checkout/orders`, ...),
//! so it can be nested under any prefix. Before handling a request, each consults the fault
//! injector (`Faults`) under its provider's name: `fail` answers the injected status with the
//! provider's error body (and `Retry-After` for 429), `slow` answers late, `timeout` never answers
//! and leaves the decision to the client's timeout.
//!
//! Layout: `paypal/` (the fake, its request checks against PayPal's derived schema, its error
//! answers), `sendgrid.rs` and `mailchimp.rs`, one fake each; `records.rs`, what they keep, in the
//! emulator's database; `faults.rs`, the fault injector; `schema.rs` walks a provider's derived
//! JSON Schema; `settings.rs` starts the three and points the functions' clients at them; `wire.rs`
//! holds what they share: fault injection, HTTP authentication and content-type headers, email
//! address checks, random ids.

pub mod faults;
pub mod mailchimp;
pub mod paypal;
pub mod records;
mod schema;
pub mod sendgrid;
mod settings;
mod wire;

pub use mailchimp::{AudienceMember, MailchimpFake};
pub use paypal::{
    Amount, CaptureRecord, CaptureStatus, CardSummary, PayPalCredentials, PayPalFake,
};
pub use sendgrid::{SendGridFake, SentEmail};
pub(crate) use settings::LocalProviders;
