//! The payment function: the public HTTP API of a registration.
//!
//! `POST /api/registrations` validates the request, prices the ticket from the server's catalogue,
//! charges the card once per `Idempotency-Key`, publishes `OrderPlaced` (no card data) and answers
//! the attendee; `GET /api/tickets` lists what is on sale. Every failure is a status and a message
//! the attendee can act on, never an internal detail.
//!
//! Reliability: a request sent again with the same key and body gets the first answer back and is
//! never charged twice; the order id is derived from the key, and the provider's request id too, so
//! even a crash between charging and answering heals on retry (the charge replays, the publish
//! repeats, and the consumers are idempotent by order id). A replay of a paid registration
//! publishes its order again too: on Azure the order goes out as an output binding after the
//! answer is recorded, and could have been lost with the invocation. Because of that, a paid
//! order is published while its answer is recorded, not before: a publish that fails after the
//! answer was recorded is made good by the retry its 503 asks for.
//!
//! Card testing: declines are counted per client address, email and card, and a try past a limit
//! is refused with `429` before PayPal is called (`card_testing.rs`; which address is the
//! client's, `client_address.rs`).
//!
//! Idempotency records live behind a port (`clients::idempotency`), claimed atomically, so that
//! several instances sharing a store agree; a claim whose holder died is taken over once the
//! function's timeout has passed.
//!
//! Every host builds the function the same way, with [`Payment::from_settings`]: the Lambda
//! binary (`main.rs`), the Azure Function App (`functions/azure-app`) and the emulator. What they
//! differ in, the queue `OrderPlaced` is published on and the database, they pass in.
//!
//! Layout: `lib.rs` the function, how it is built and its routes; `settings.rs` what it is built
//! from; `register.rs` a registration, step by step; `idempotency.rs` the key, fingerprint and
//! recorded answer of a request; `card_testing.rs` the decline limits and fingerprints;
//! `client_address.rs` the client's address; `charge.rs` the charge, within the limits;
//! `responses.rs` the answers.

mod card_testing;
mod charge;
mod client_address;
mod idempotency;
mod register;
mod responses;
mod settings;

pub use card_testing::{CardTesting, DeclineLimits, FingerprintKey};
pub use settings::PaymentSettings;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clients::declines::DeclineLedger;
use clients::idempotency::IdempotencyStore;
use clients::payments::PaymentGateway;
use clients::paypal::PayPalClient;
use clients::publisher::OrderPublisher;
use domain::TicketCatalogue;
use durable::{Db, SqlDeclineLedger, SqlIdempotencyStore};
use function_model::{HttpFunction, HttpRequest, HttpResponse, Invocation};
use http::{Method, StatusCode};

/// Request bodies above this size are refused with 413 (a registration is well under 2 KiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The payment function and the dependencies it is built with.
pub struct Payment {
    catalogue: TicketCatalogue,
    gateway: Arc<dyn PaymentGateway>,
    publisher: Arc<dyn OrderPublisher>,
    idempotency: Arc<dyn IdempotencyStore>,
    /// The function's timeout: an unfinished claim older than this was left by a dead instance.
    timeout: Duration,
    declines: Arc<dyn DeclineLedger>,
    card_testing: CardTesting,
}

impl Payment {
    /// The function as every host runs it: the built-in catalogue, PayPal with
    /// `settings.paypal`, idempotency records and declines in `db` (SQLite or PostgreSQL, shared
    /// by every instance), and `publisher` for paid orders (SQS on Lambda, the Service Bus output binding
    /// on Azure, the emulator's local queue).
    pub fn from_settings(
        settings: PaymentSettings,
        publisher: Arc<dyn OrderPublisher>,
        db: Db,
    ) -> Self {
        Self::new(
            TicketCatalogue::builtin(),
            Arc::new(PayPalClient::new(settings.paypal)),
            publisher,
            Arc::new(SqlIdempotencyStore::new(db.clone())),
            settings.timeout,
            Arc::new(SqlDeclineLedger::new(db)),
            settings.card_testing,
        )
    }

    /// The function with any dependencies, for tests with stand-ins; the hosts call
    /// [`Payment::from_settings`].
    pub(crate) fn new(
        catalogue: TicketCatalogue,
        gateway: Arc<dyn PaymentGateway>,
        publisher: Arc<dyn OrderPublisher>,
        idempotency: Arc<dyn IdempotencyStore>,
        timeout: Duration,
        declines: Arc<dyn DeclineLedger>,
        card_testing: CardTesting,
    ) -> Self {
        Self {
            catalogue,
            gateway,
            publisher,
            idempotency,
            timeout,
            declines,
            card_testing,
        }
    }

    /// `GET /api/tickets`: what is on sale.
    fn tickets(&self) -> HttpResponse {
        HttpResponse::json(StatusCode::OK, &self.catalogue)
    }
}

#[async_trait]
impl HttpFunction for Payment {
    async fn handle(&self, invocation: &Invocation, request: HttpRequest) -> HttpResponse {
        match (request.path.trim_end_matches('/'), &request.method) {
            ("/api/tickets", &Method::GET) => self.tickets(),
            ("/api/registrations", &Method::POST) => self.register(invocation, &request).await,
            ("/api/tickets", _) => responses::method_not_allowed("GET"),
            ("/api/registrations", _) => responses::method_not_allowed("POST"),
            _ => responses::no_such_route(),
        }
    }
}

#[cfg(test)]
mod tests;
