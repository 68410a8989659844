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
//! Idempotency records live behind a port (`clients::idempotency`), claimed atomically, so that
//! several instances sharing a store agree; a claim whose holder died is taken over once the
//! function's timeout has passed.
//!
//! Every host builds the function the same way, with [`Payment::from_settings`]: the Lambda
//! binary (`main.rs`), the Azure Function App (`functions/azure-app`) and the emulator. What they
//! differ in, the queue `OrderPlaced` is published on and the database, they pass in.
//!
//! Layout: `lib.rs` routes and runs a registration; `settings.rs` what the function is built
//! from; `responses.rs` the answers.

mod responses;
mod settings;

pub use settings::PaymentSettings;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use clients::idempotency::{Claim, IdempotencyKey, IdempotencyStore, RecordedAnswer};
use clients::payments::{ChargeRequest, PaymentError, PaymentGateway};
use clients::paypal::PayPalClient;
use clients::publisher::OrderPublisher;
use domain::{OrderId, OrderPlaced, PaymentReceipt, Registration, TicketCatalogue, TicketRef};
use durable::{Db, SqlIdempotencyStore};
use function_model::{HttpFunction, HttpRequest, HttpResponse, Invocation};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use responses::{error_response, field_errors_response};

/// The payment provider recorded on each order.
const PAYMENT_PROVIDER: &str = "paypal";

/// Time kept back from the invocation's deadline for answering after a charge gives up.
const ANSWER_MARGIN: Duration = Duration::from_secs(2);

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
}

impl Payment {
    /// The function as every host runs it: the built-in catalogue, PayPal with
    /// `settings.paypal`, idempotency records in `db` (SQLite or PostgreSQL, shared by every
    /// instance), and `publisher` for paid orders (SQS on Lambda, the Service Bus output binding
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
            Arc::new(SqlIdempotencyStore::new(db)),
            settings.timeout,
        )
    }

    /// The function with any dependencies, for tests with stand-ins; the hosts call
    /// [`Payment::from_settings`] (the emulator still calls this until its reorganisation lands).
    pub fn new(
        catalogue: TicketCatalogue,
        gateway: Arc<dyn PaymentGateway>,
        publisher: Arc<dyn OrderPublisher>,
        idempotency: Arc<dyn IdempotencyStore>,
        timeout: Duration,
    ) -> Self {
        Self {
            catalogue,
            gateway,
            publisher,
            idempotency,
            timeout,
        }
    }

    fn tickets(&self) -> HttpResponse {
        HttpResponse::json(StatusCode::OK, &self.catalogue)
    }

    async fn register(&self, invocation: &Invocation, request: &HttpRequest) -> HttpResponse {
        if request.body.len() > MAX_BODY_BYTES {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "The request body is larger than {} KiB.",
                    MAX_BODY_BYTES / 1024
                ),
            );
        }
        if !function_model::is_json(&request.headers) {
            return error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send the registration as application/json.",
            );
        }
        let body: serde_json::Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &format!("The request body is not valid JSON ({e})."),
                );
            }
        };
        let key = match idempotency_key(request) {
            Ok(key) => key,
            Err(e) => {
                return error_response(StatusCode::BAD_REQUEST, &format!("Idempotency-Key {e}."));
            }
        };
        let registration =
            match Registration::parse(&body, &self.catalogue, Utc::now().date_naive()) {
                Ok(registration) => registration,
                Err(errors) => return field_errors_response(&errors),
            };
        let order_id = key.as_ref().map_or_else(OrderId::random, |k| {
            OrderId::for_idempotency_key(k.as_str())
        });
        let span = tracing::info_span!("registration", order_id = %order_id);
        let Some(key) = key else {
            return async {
                match self.charge(invocation, order_id, registration).await {
                    Ok(order) => match self.publish(invocation, &order).await {
                        Ok(()) => responses::registered(&order),
                        Err(not_published) => not_published,
                    },
                    Err(refused) => refused,
                }
            }
            .instrument(span)
            .await;
        };
        async {
            let fingerprint = fingerprint(&body);
            let claim = match self.idempotency.claim(&key, fingerprint, self.timeout).await {
                Ok(claim) => claim,
                Err(e) => {
                    tracing::error!("{e}: {}", source_chain(&e));
                    return store_unavailable();
                }
            };
            match claim {
                Claim::New => {}
                Claim::Replay(answer) => {
                    tracing::info!("replaying the answer to an earlier request with the same Idempotency-Key");
                    if let Some(order) = answer.published.as_deref()
                        && let Err(response) = self.publish_again(invocation, order).await
                    {
                        return response;
                    }
                    return replayed(answer);
                }
                Claim::Mismatch => {
                    return error_response(
                        StatusCode::CONFLICT,
                        "This Idempotency-Key was already used for a different registration. Submit again with a new key.",
                    );
                }
                Claim::InProgress => {
                    return error_response(
                        StatusCode::CONFLICT,
                        "A registration with this Idempotency-Key is still being processed. Try again in a moment.",
                    )
                    .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
                }
            }
            let order = match self.charge(invocation, order_id, registration).await {
                Ok(order) => order,
                Err(refused) => {
                    let recorded = if refused.status.is_server_error() {
                        // Nothing final happened (or the charge will replay): let the same key
                        // try again.
                        self.idempotency.release(&key).await
                    } else {
                        self.idempotency.complete(&key, &recorded(&refused)).await
                    };
                    if let Err(e) = recorded {
                        tracing::warn!("{e}: {}", source_chain(&e));
                    }
                    return refused;
                }
            };
            // Paid: the order is published and the answer recorded at the same time, not one
            // after the other (each waits for a write). The recorded answer carries the order,
            // and every replay of it publishes the order again, so whichever of the two fails,
            // the retry that the failure's answer asks for makes it good: a failed publish
            // answers 503 and its retry replays the recorded 201, publishing; a failed record
            // leaves the claim, which a retry takes over once the timeout has passed, replaying
            // the charge through PayPal-Request-Id. Nothing is charged twice either way.
            let response = responses::registered(&order);
            let answer = RecordedAnswer {
                published: Some(order.to_json()),
                ..recorded(&response)
            };
            let (published, recorded) = tokio::join!(
                self.publish(invocation, &order),
                self.idempotency.complete(&key, &answer)
            );
            if let Err(e) = recorded {
                // The claim stays; once the timeout has passed a retry takes it over and replays.
                tracing::warn!("{e}: {}", source_chain(&e));
            }
            match published {
                Ok(()) => response,
                Err(not_published) => not_published,
            }
        }
        .instrument(span)
        .await
    }

    /// Publishes a paid registration's order again, for a replay; a failure is the answer to give
    /// instead (the key's record stays, so the next retry publishes again).
    async fn publish_again(
        &self,
        invocation: &Invocation,
        order: &str,
    ) -> Result<(), HttpResponse> {
        let order = match OrderPlaced::from_json(order) {
            Ok(order) => order,
            Err(e) => {
                tracing::error!("the recorded order does not read back: {e}");
                return Ok(());
            }
        };
        self.publisher
            .publish(&order, invocation.trace_id.as_deref())
            .await
            .map_err(|e| {
                tracing::error!(
                    capture_id = %order.payment.capture_id,
                    "paid but not published again: {}",
                    function_model::chain(&e)
                );
                not_published()
            })
    }

    /// Charges the card (PayPal's request id is the order id, itself derived from the
    /// `Idempotency-Key`, so a retry never charges twice): the paid order, or the answer to give.
    async fn charge(
        &self,
        invocation: &Invocation,
        order_id: OrderId,
        registration: Registration,
    ) -> Result<OrderPlaced, HttpResponse> {
        let Registration {
            ticket,
            attendee,
            card,
            billing_address,
            newsletter,
        } = registration;
        let charge = ChargeRequest {
            order_id,
            budget: invocation.remaining().saturating_sub(ANSWER_MARGIN),
            amount: ticket.price,
            description: ticket.name.clone(),
            card: &card,
            billing_address: &billing_address,
        };
        let capture = match self.gateway.charge(charge).await {
            Ok(capture) => capture,
            Err(PaymentError::Declined { code, reason }) => {
                tracing::info!(code, "card declined");
                return Err(responses::declined(&reason));
            }
            Err(e @ PaymentError::Unavailable(_)) => {
                tracing::warn!("{e}");
                let response = error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The payment service is temporarily unavailable. You were not charged twice: please try again in a moment.",
                )
                .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("5"));
                return Err(response);
            }
            Err(e @ PaymentError::Rejected(_)) => {
                tracing::error!("{e}");
                let response = error_response(
                    StatusCode::BAD_GATEWAY,
                    "We could not process this payment. Please try again later or contact the organisers.",
                );
                return Err(response);
            }
        };
        Ok(OrderPlaced {
            version: OrderPlaced::VERSION,
            order_id,
            placed_at: Utc::now(),
            ticket: TicketRef {
                id: ticket.id.clone(),
                name: ticket.name.clone(),
            },
            amount: ticket.price,
            attendee,
            newsletter,
            payment: PaymentReceipt {
                provider: PAYMENT_PROVIDER.to_owned(),
                capture_id: capture.capture_id,
            },
        })
    }

    /// Publishes a paid order: the answer to give instead when that fails.
    async fn publish(
        &self,
        invocation: &Invocation,
        order: &OrderPlaced,
    ) -> Result<(), HttpResponse> {
        match self
            .publisher
            .publish(order, invocation.trace_id.as_deref())
            .await
        {
            Ok(()) => {
                tracing::info!(ticket = %order.ticket.id, amount = %order.amount, "registration paid and published");
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    capture_id = %order.payment.capture_id,
                    "paid but not published, the attendee is asked to retry: {}",
                    function_model::chain(&e)
                );
                Err(not_published())
            }
        }
    }
}

/// The request's `Idempotency-Key`, if it has one. A key that is present but unusable (another
/// encoding, too long, sent twice) is an error: ignoring it would let a retry charge twice.
fn idempotency_key(request: &HttpRequest) -> Result<Option<IdempotencyKey>, &'static str> {
    let mut values = request.headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("must be sent once");
    }
    IdempotencyKey::parse(value.as_bytes()).map(Some)
}

/// What a key's request is compared by: the body's JSON in a canonical form (object keys sorted,
/// no whitespace), so that the same registration serialized another way is the same request.
fn fingerprint(body: &serde_json::Value) -> [u8; 32] {
    fn canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (i, (name, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, name).expect("a string serializes");
                    out.push(b':');
                    canonical(value, out);
                }
                out.push(b'}');
            }
            serde_json::Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    canonical(item, out);
                }
                out.push(b']');
            }
            scalar => serde_json::to_writer(&mut *out, scalar).expect("a scalar serializes"),
        }
    }
    let mut out = Vec::with_capacity(1024);
    canonical(body, &mut out);
    Sha256::digest(&out).into()
}

/// The answer to keep for a key: status, headers and body.
fn recorded(response: &HttpResponse) -> RecordedAnswer {
    RecordedAnswer {
        status: response.status.as_u16(),
        headers: response
            .headers
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: String::from_utf8_lossy(&response.body).into_owned(),
        published: None,
    }
}

/// A kept answer, given again.
fn replayed(answer: RecordedAnswer) -> HttpResponse {
    let headers: HeaderMap = answer
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                HeaderName::try_from(name.as_str()).ok()?,
                HeaderValue::try_from(value.as_str()).ok()?,
            ))
        })
        .collect();
    HttpResponse {
        status: StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        body: answer.body.into(),
    }
}

/// A paid registration whose order could not be queued: the attendee submits again, and the
/// charge replays.
fn not_published() -> HttpResponse {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "Your payment went through but we could not finish your registration. Please submit again: you will not be charged twice.",
    )
    .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("2"))
}

fn store_unavailable() -> HttpResponse {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "Registrations are temporarily unavailable. Nothing was charged: please try again in a moment.",
    )
    .with_header(http::header::RETRY_AFTER, HeaderValue::from_static("5"))
}

/// An error's sources, for the logs.
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut chain = Vec::new();
    let mut source = e.source();
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    chain.join(": ")
}

#[async_trait]
impl HttpFunction for Payment {
    async fn handle(&self, invocation: &Invocation, request: HttpRequest) -> HttpResponse {
        match (request.path.trim_end_matches('/'), &request.method) {
            ("/api/tickets", &Method::GET) => self.tickets(),
            ("/api/registrations", &Method::POST) => self.register(invocation, &request).await,
            ("/api/tickets", _) => responses::method_not_allowed("GET"),
            ("/api/registrations", _) => responses::method_not_allowed("POST"),
            _ => error_response(StatusCode::NOT_FOUND, "No such API route."),
        }
    }
}

#[cfg(test)]
mod tests;
