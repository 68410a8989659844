//! The registration domain: the types every function agrees on, and the rules that make them valid.
//!
//! Parse, don't validate: each value (a name, an email address, a ticket, an amount, a card) can only
//! be built through a `parse` that returns a precise error, so code that holds one never checks it
//! again. Card data lives in [`Card`], which cannot be serialized and whose `Debug` is masked: the
//! compiler keeps it out of queue messages, logs and tables.
//!
//! Layout:
//! - [`text`]: the small text newtypes (names, email, organization, ids) and their rules;
//! - [`money`]: currencies and exact amounts in minor units;
//! - [`ticket`]: ticket ids and the server-side catalogue that prices them;
//! - [`card`]: the secret card and its checks (Luhn, expiry, security code);
//! - [`address`]: the billing address;
//! - [`order`]: `OrderId` and `OrderPlaced`, the message that travels from payment to the workflow;
//! - [`registration`]: parsing a whole registration request into typed parts, with per-field errors.

pub mod address;
pub mod card;
pub mod money;
pub mod order;
pub mod registration;
pub mod text;
pub mod ticket;

pub use address::{BillingAddress, CountryCode};
pub use card::{Brand, Card, CardExpiry};
pub use money::{Currency, Money};
pub use order::{OrderId, OrderPlaced, OrderPlacedError, PaymentReceipt, TicketRef};
pub use registration::{FieldErrors, Registration};
pub use text::{Attendee, EmailAddress, Organization, PersonName, TextError};
pub use ticket::{Ticket, TicketCatalogue, TicketId};
