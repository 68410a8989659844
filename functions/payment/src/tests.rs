//! Unit tests of the payment rules, with scripted stand-ins for the two outside services (the
//! payment provider and the queue). End-to-end behaviour is tested through the emulator.

use std::sync::Mutex;

use bytes::Bytes;
use clients::payments::Capture;
use clients::publisher::PublishError;
use http::HeaderMap;
use serde_json::{Value, json};

use super::*;
use clients::declines::{DeclineLedgerError, Limit};
use clients::idempotency::{Claim, IdempotencyError, IdempotencyKey, RecordedAnswer};
use clients::payments::{ChargeRequest, PaymentError};
use domain::{OrderId, OrderPlaced};

/// A key's fingerprint and, once final, its answer.
type Record = ([u8; 32], Option<RecordedAnswer>);

/// Idempotency records in memory: the port's rules for one process.
#[derive(Default)]
struct InMemoryIdempotencyStore {
    records: Mutex<std::collections::HashMap<String, Record>>,
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: [u8; 32],
        _abandoned_after: Duration,
    ) -> Result<Claim, IdempotencyError> {
        let mut records = self.records.lock().expect("lock");
        Ok(match records.get(key.as_str()) {
            None => {
                records.insert(key.as_str().to_owned(), (fingerprint, None));
                Claim::New
            }
            Some((stored, _)) if *stored != fingerprint => Claim::Mismatch,
            Some((_, Some(answer))) => Claim::Replay(answer.clone()),
            Some((_, None)) => Claim::InProgress,
        })
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        answer: &RecordedAnswer,
    ) -> Result<(), IdempotencyError> {
        if let Some(record) = self.records.lock().expect("lock").get_mut(key.as_str()) {
            record.1 = Some(answer.clone());
        }
        Ok(())
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), IdempotencyError> {
        self.records.lock().expect("lock").remove(key.as_str());
        Ok(())
    }
}

/// Declines in memory, under the port's own rule.
#[derive(Default)]
struct InMemoryDeclineLedger {
    declines: Mutex<Vec<(String, i64)>>,
}

#[async_trait]
impl DeclineLedger for InMemoryDeclineLedger {
    async fn blocked_for(
        &self,
        limits: &[Limit],
        window: Duration,
    ) -> Result<Option<Duration>, DeclineLedgerError> {
        let declines = self.declines.lock().expect("lock");
        let now = chrono::Utc::now().timestamp_millis();
        Ok(clients::declines::blocked_for(
            limits, &declines, now, window,
        ))
    }

    async fn record(
        &self,
        subjects: &[String],
        _window: Duration,
    ) -> Result<(), DeclineLedgerError> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut declines = self.declines.lock().expect("lock");
        declines.extend(subjects.iter().map(|subject| (subject.clone(), now)));
        Ok(())
    }
}

/// Records charges; replays by request id; can be told to decline or fail.
#[derive(Default)]
struct ScriptedGateway {
    /// Every call, whatever its outcome.
    calls: Mutex<usize>,
    charges: Mutex<Vec<String>>,
    budget: Mutex<Option<Duration>>,
    outcome: Mutex<Option<PaymentError>>,
}

#[async_trait]
impl PaymentGateway for ScriptedGateway {
    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Capture, PaymentError> {
        *self.calls.lock().expect("lock") += 1;
        *self.budget.lock().expect("lock") = Some(request.budget);
        if let Some(e) = self.outcome.lock().expect("lock").clone() {
            return Err(e);
        }
        let request_id = request.order_id.to_string();
        let mut charges = self.charges.lock().expect("lock");
        if !charges.contains(&request_id) {
            charges.push(request_id.clone());
        }
        Ok(Capture {
            capture_id: format!("CAP-{request_id}"),
        })
    }
}

#[derive(Default)]
struct RecordingPublisher {
    published: Mutex<Vec<String>>,
    trace: Mutex<Option<String>>,
    fail: Mutex<bool>,
}

#[async_trait]
impl OrderPublisher for RecordingPublisher {
    async fn publish(
        &self,
        order: &OrderPlaced,
        trace_id: Option<&str>,
    ) -> Result<(), PublishError> {
        *self.trace.lock().expect("lock") = trace_id.map(str::to_owned);
        if *self.fail.lock().expect("lock") {
            return Err(PublishError::new("queue down"));
        }
        self.published.lock().expect("lock").push(order.to_json());
        Ok(())
    }
}

struct Harness {
    payment: Payment,
    gateway: Arc<ScriptedGateway>,
    publisher: Arc<RecordingPublisher>,
    declines: Arc<InMemoryDeclineLedger>,
}

/// The secret the tests' CloudFront sends as `X-Origin-Verify`.
const ORIGIN_SECRET: &str = "the origin secret";

/// The defence with its default limits.
fn card_testing() -> CardTesting {
    CardTesting {
        limits: DeclineLimits::default(),
        key: FingerprintKey::new(b"a key of at least thirty-two characters".to_vec()).expect("key"),
        origin_secret: Some(ORIGIN_SECRET.to_owned()),
    }
}

fn harness() -> Harness {
    let gateway = Arc::new(ScriptedGateway::default());
    let publisher = Arc::new(RecordingPublisher::default());
    let declines = Arc::new(InMemoryDeclineLedger::default());
    let payment = Payment::new(
        TicketCatalogue::builtin(),
        gateway.clone(),
        publisher.clone(),
        Arc::new(InMemoryIdempotencyStore::default()),
        Duration::from_secs(29),
        declines.clone(),
        card_testing(),
    );
    Harness {
        payment,
        gateway,
        publisher,
        declines,
    }
}

impl Harness {
    /// Invokes the function as the gateway does, with the payment function's 29 s timeout.
    async fn call(&self, request: HttpRequest) -> HttpResponse {
        let invocation = Invocation::local("payment", Duration::from_secs(29), None);
        self.payment.handle(&invocation, request).await
    }
}

fn valid_body() -> Value {
    json!({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.org"},
        "card": {"name": "Ada Lovelace", "number": "4012888888881881", "expiry": "2099-12", "securityCode": "123"},
        "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": true
    })
}

fn post(body: impl Into<Bytes>, key: Option<&str>) -> HttpRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().expect("header"));
    if let Some(key) = key {
        headers.insert("idempotency-key", key.parse().expect("header"));
    }
    HttpRequest {
        method: Method::POST,
        path: "/api/registrations".into(),
        headers,
        body: body.into(),
        ..HttpRequest::default()
    }
}

fn json_post(body: &Value, key: Option<&str>) -> HttpRequest {
    post(serde_json::to_vec(body).expect("json"), key)
}

fn body_of(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body).expect("JSON body")
}

#[tokio::test]
async fn a_valid_registration_is_charged_published_without_card_data_and_confirmed() {
    let h = harness();
    let response = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(response.status, StatusCode::CREATED);
    let body = body_of(&response);
    assert_eq!(
        body["amount"],
        json!({"value": "250.00", "currency": "USD"})
    );
    assert_eq!(
        body["registrationId"],
        json!(OrderId::for_idempotency_key("k1").to_string())
    );
    assert_eq!(
        *h.gateway.charges.lock().expect("lock"),
        [OrderId::for_idempotency_key("k1").to_string()]
    );
    let published = h.publisher.published.lock().expect("lock");
    assert_eq!(published.len(), 1);
    assert!(!published[0].contains("4012888888881881") && !published[0].contains("securityCode"));
    let order = OrderPlaced::from_json(&published[0]).expect("a valid OrderPlaced");
    assert_eq!(
        order.order_id.to_string(),
        body["registrationId"].as_str().expect("id")
    );
    assert!(!String::from_utf8_lossy(&response.body).contains("4012888888881881"));
}

/// A replay answers the same and charges nothing, but publishes the same order again: where the
/// first publish was an output binding sent after the answer was recorded (Azure), it may have
/// been lost. The consumers are idempotent by order id.
#[tokio::test]
async fn the_same_key_and_body_answers_again_without_charging_twice_and_publishes_again() {
    let h = harness();
    let first = h.call(json_post(&valid_body(), Some("k1"))).await;
    let second = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(first.body, second.body);
    assert_eq!(h.gateway.charges.lock().expect("lock").len(), 1);
    let published = h.publisher.published.lock().expect("lock").clone();
    assert_eq!(
        published.len(),
        2,
        "published with the answer and with its replay"
    );
    assert_eq!(published[0], published[1], "the same order");

    // A replay whose publish fails is a 503 the attendee can retry; the record stays.
    *h.publisher.fail.lock().expect("lock") = true;
    let failed = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    *h.publisher.fail.lock().expect("lock") = false;
    let healed = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(healed.body, first.body);
    assert_eq!(h.publisher.published.lock().expect("lock").len(), 3);
    assert_eq!(h.gateway.charges.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_conflict() {
    let h = harness();
    h.call(json_post(&valid_body(), Some("k1"))).await;
    let mut other = valid_body();
    other["ticket"] = json!("student");
    let response = h.call(json_post(&other, Some("k1"))).await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert_eq!(h.gateway.charges.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn a_decline_is_402_with_the_reason_and_publishes_nothing() {
    let h = harness();
    *h.gateway.outcome.lock().expect("lock") = Some(PaymentError::Declined {
        code: "CARD_REFUSED".into(),
        reason: "The card was refused.".into(),
    });
    let response = h.call(json_post(&valid_body(), None)).await;
    assert_eq!(response.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(body_of(&response)["reason"], "The card was refused.");
    assert!(h.publisher.published.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_provider_outage_is_503_and_the_key_can_be_retried() {
    let h = harness();
    *h.gateway.outcome.lock().expect("lock") = Some(PaymentError::Unavailable("timeout".into()));
    let response = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers.contains_key(http::header::RETRY_AFTER));
    assert!(
        !body_of(&response)["error"]
            .as_str()
            .expect("message")
            .contains("timeout"),
        "no internals"
    );
    *h.gateway.outcome.lock().expect("lock") = None;
    let retried = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(retried.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_failed_publish_heals_on_retry_without_a_second_charge() {
    let h = harness();
    *h.publisher.fail.lock().expect("lock") = true;
    let response = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    *h.publisher.fail.lock().expect("lock") = false;
    let retried = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(retried.status, StatusCode::CREATED);
    assert_eq!(
        *h.gateway.charges.lock().expect("lock"),
        [OrderId::for_idempotency_key("k1").to_string()],
        "the charge replayed, not repeated"
    );
    assert_eq!(h.publisher.published.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn invalid_input_gets_per_field_errors_and_no_charge() {
    let h = harness();
    let mut body = valid_body();
    body["attendee"]["email"] = json!("not-an-email");
    body["card"]["number"] = json!("1234");
    let response = h.call(json_post(&body, None)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = &body_of(&response)["fields"];
    assert!(
        fields["attendee.email"].is_string() && fields["card.number"].is_string(),
        "{fields}"
    );
    assert!(
        !String::from_utf8_lossy(&response.body).contains("1234"),
        "the number is not echoed"
    );
    assert!(h.gateway.charges.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn malformed_requests_get_a_clear_4xx() {
    let h = harness();
    assert_eq!(
        h.call(post("this is not json", None)).await.status,
        StatusCode::BAD_REQUEST
    );
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(
        h.call(post(big, None)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let mut form = json_post(&valid_body(), None);
    form.headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    assert_eq!(
        h.call(form).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert!(h.gateway.charges.lock().expect("lock").is_empty());
}

/// A request whose `Idempotency-Key` header holds these raw bytes.
fn with_raw_key(key: &[u8]) -> HttpRequest {
    let mut request = json_post(&valid_body(), None);
    request.headers.insert(
        "idempotency-key",
        http::HeaderValue::from_bytes(key).expect("a header value"),
    );
    request
}

#[tokio::test]
async fn an_unusable_idempotency_key_is_a_400_naming_the_header_never_ignored() {
    let h = harness();
    let too_long = "k".repeat(256);
    for key in [
        "ключ-dup".as_bytes(),
        "café".as_bytes(),
        "🔑".as_bytes(),
        b"caf\xe9",
        too_long.as_bytes(),
    ] {
        for _ in 0..2 {
            let response = h.call(with_raw_key(key)).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{key:?}");
            let error = body_of(&response)["error"]
                .as_str()
                .expect("error")
                .to_owned();
            assert!(error.starts_with("Idempotency-Key "), "{error}");
        }
    }
    let mut twice = with_raw_key(b"k1");
    twice
        .headers
        .append("idempotency-key", http::HeaderValue::from_static("k2"));
    assert_eq!(h.call(twice).await.status, StatusCode::BAD_REQUEST);
    assert!(h.gateway.charges.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn every_valid_key_charges_once_whatever_its_length() {
    let h = harness();
    for key in ["k", "order 42 / ~!", &"k".repeat(96), &"k".repeat(255)] {
        for _ in 0..2 {
            let response = h.call(with_raw_key(key.as_bytes())).await;
            assert_eq!(response.status, StatusCode::CREATED, "{key}");
        }
    }
    assert_eq!(h.gateway.charges.lock().expect("lock").len(), 4);
}

#[tokio::test]
async fn the_same_json_written_another_way_is_the_same_request() {
    let h = harness();
    let first = h.call(json_post(&valid_body(), Some("k1"))).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let body = valid_body();
    let reordered = format!(
        "{{ \"newsletter\" : true,\n \"billingAddress\": {},\n \"card\": {},\n \"attendee\": {},\n \"ticket\": \"conference\" }}",
        serde_json::to_string_pretty(&body["billingAddress"]).expect("json"),
        serde_json::to_string_pretty(&body["card"]).expect("json"),
        serde_json::to_string_pretty(&body["attendee"]).expect("json"),
    );
    let again = h.call(post(reordered, Some("k1"))).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", body_of(&again));
    assert_eq!(first.body, again.body);
    assert_eq!(h.gateway.charges.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn lists_tickets_and_routes_other_requests() {
    let h = harness();
    let get = |path: &str, method: Method| HttpRequest {
        method,
        path: path.into(),
        ..HttpRequest::default()
    };
    let tickets = h.call(get("/api/tickets", Method::GET)).await;
    assert_eq!(tickets.status, StatusCode::OK);
    assert!(body_of(&tickets)["tickets"].as_array().expect("list").len() >= 2);
    assert_eq!(
        h.call(get("/api/registrations", Method::GET)).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        h.call(get("/api/nope", Method::GET)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(start_paused = true)]
async fn the_charge_keeps_within_the_deadline_and_the_trace_travels_with_the_order() {
    let h = harness();
    let invocation = Invocation::local(
        "payment",
        Duration::from_secs(10),
        Some("Root=1-67891233-abcdef012345678912345678".into()),
    );
    let response = h
        .payment
        .handle(&invocation, json_post(&valid_body(), Some("k1")))
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(
        *h.gateway.budget.lock().expect("lock"),
        Some(Duration::from_secs(8)),
        "the deadline less the time to answer"
    );
    assert_eq!(
        h.publisher.trace.lock().expect("lock").as_deref(),
        Some("Root=1-67891233-abcdef012345678912345678")
    );
}

/// A paid order is published while its answer is recorded, not before (each waits for a write of
/// its own): a publisher that waits for the answer to be recorded still publishes, and the
/// attendee gets the 201. Published first, the registration would wait for ever.
#[tokio::test]
async fn a_paid_order_is_published_while_its_answer_is_recorded() {
    struct SignallingStore {
        records: InMemoryIdempotencyStore,
        recorded: Arc<tokio::sync::Notify>,
    }
    #[async_trait]
    impl IdempotencyStore for SignallingStore {
        async fn claim(
            &self,
            key: &IdempotencyKey,
            fingerprint: [u8; 32],
            abandoned_after: Duration,
        ) -> Result<Claim, IdempotencyError> {
            self.records.claim(key, fingerprint, abandoned_after).await
        }
        async fn complete(
            &self,
            key: &IdempotencyKey,
            answer: &RecordedAnswer,
        ) -> Result<(), IdempotencyError> {
            self.records.complete(key, answer).await?;
            self.recorded.notify_one();
            Ok(())
        }
        async fn release(&self, key: &IdempotencyKey) -> Result<(), IdempotencyError> {
            self.records.release(key).await
        }
    }
    struct WaitingPublisher {
        published: RecordingPublisher,
        recorded: Arc<tokio::sync::Notify>,
    }
    #[async_trait]
    impl OrderPublisher for WaitingPublisher {
        async fn publish(
            &self,
            order: &OrderPlaced,
            trace_id: Option<&str>,
        ) -> Result<(), PublishError> {
            self.recorded.notified().await;
            self.published.publish(order, trace_id).await
        }
    }

    let recorded = Arc::new(tokio::sync::Notify::new());
    let publisher = Arc::new(WaitingPublisher {
        published: RecordingPublisher::default(),
        recorded: recorded.clone(),
    });
    let payment = Payment::new(
        TicketCatalogue::builtin(),
        Arc::new(ScriptedGateway::default()),
        publisher.clone(),
        Arc::new(SignallingStore {
            records: InMemoryIdempotencyStore::default(),
            recorded,
        }),
        Duration::from_secs(29),
        Arc::new(InMemoryDeclineLedger::default()),
        card_testing(),
    );
    let invocation = Invocation::local("payment", Duration::from_secs(29), None);
    let request = json_post(&valid_body(), Some("k1"));
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        payment.handle(&invocation, request),
    )
    .await
    .expect("the order is published without waiting for the answer's record to come first");
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(publisher.published.published.lock().expect("lock").len(), 1);
}

/// The card-testing limits, through the function.
mod card_testing;
