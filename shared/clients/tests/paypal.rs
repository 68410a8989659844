//! The PayPal Orders v2 client against a local HTTP server (wiremock): the exact requests it sends
//! (token, create, capture), the token cache, how it reads each kind of answer (captured, declined
//! by the processor or with a 422 issue, approved but not captured, 3-D Secure, our bugs), its
//! retries within the deadline, its configuration, and the conformance of the create-order body to
//! a JSON Schema derived from PayPal's OpenAPI description
//! (`schemas/paypal-order-request.schema.json`, made by `scripts/derive-paypal-schema.py`).
//!
//! The answers are in `fixtures/paypal-*.json`, shaped like the sandbox's.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clients::config::ConfigError;
use clients::payments::{Capture, ChargeRequest, PaymentError, PaymentGateway};
use clients::paypal::{PayPalClient, PayPalConfig};
use domain::{BillingAddress, Card, CardExpiry, CountryCode, Currency, Money, OrderId};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_ID: &str = "test-client-id";
const CLIENT_SECRET: &str = "test-client-secret";
/// `echo -n test-client-id:test-client-secret | base64`
const BASIC_AUTH: &str = "Basic dGVzdC1jbGllbnQtaWQ6dGVzdC1jbGllbnQtc2VjcmV0";
/// The `access_token` of `fixtures/paypal-token.json`.
const TOKEN: &str = "A21AAtest-access-token";
const ORDER_ID: &str = "0b5c1a36-3e1f-4a57-9b8e-2f3d4c5b6a79";
const CARD_NUMBER: &str = "4012888888881881";
const SECURITY_CODE: &str = "737";

const TOKEN_PATH: &str = "/v1/oauth2/token";
const ORDERS_PATH: &str = "/v2/checkout/orders";
/// For the order id of the order fixtures.
const CAPTURE_PATH: &str = "/v2/checkout/orders/5O190127TN364715T/capture";

const TOKEN_REPLY: &str = include_str!("fixtures/paypal-token.json");
const ORDER_COMPLETED: &str = include_str!("fixtures/paypal-order-completed.json");
const ORDER_APPROVED: &str = include_str!("fixtures/paypal-order-approved.json");
const ORDER_DECLINED_5120: &str =
    include_str!("fixtures/paypal-order-declined-insufficient-funds.json");
const ORDER_PAYER_ACTION: &str = include_str!("fixtures/paypal-order-payer-action-required.json");
const ERROR_422_DECLINED: &str = include_str!("fixtures/paypal-error-422-instrument-declined.json");
const ERROR_400: &str = include_str!("fixtures/paypal-error-400-invalid-request.json");
const ORDER_REQUEST_SCHEMA: &str = include_str!("../schemas/paypal-order-request.schema.json");

fn reply(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

/// Answers each request with the next reply, then repeats the last one.
struct InTurn {
    replies: Vec<ResponseTemplate>,
    next: AtomicUsize,
}

fn in_turn(replies: impl IntoIterator<Item = ResponseTemplate>) -> InTurn {
    InTurn {
        replies: replies.into_iter().collect(),
        next: AtomicUsize::new(0),
    }
}

impl Respond for InTurn {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        self.replies[n.min(self.replies.len() - 1)].clone()
    }
}

/// A server that hands out `fixtures/paypal-token.json` and answers creates with `create`.
async fn paypal(create: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(reply(200, TOKEN_REPLY))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ORDERS_PATH))
        .respond_with(create)
        .mount(&server)
        .await;
    server
}

fn config(base_url: &str) -> PayPalConfig {
    PayPalConfig {
        base_url: base_url.to_owned(),
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        request_timeout: Duration::from_secs(5),
        deadline: Duration::from_secs(10),
    }
}

/// A client with a short deadline and request timeout, for the retry tests.
fn impatient(base_url: &str) -> PayPalClient {
    PayPalClient::new(PayPalConfig {
        request_timeout: Duration::from_millis(300),
        deadline: Duration::from_secs(1),
        ..config(base_url)
    })
}

struct Payer {
    card: Card,
    address: BillingAddress,
}

fn payer(name: &str) -> Payer {
    let today = NaiveDate::from_ymd_opt(2026, 1, 15).expect("valid date");
    Payer {
        card: Card::new(
            name.into(),
            Card::parse_number("4012 8888 8888 1881").expect("valid number"),
            CardExpiry::parse("2030-12", today).expect("valid expiry"),
            Card::parse_security_code(SECURITY_CODE, None).expect("valid code"),
        ),
        address: BillingAddress {
            line1: "12 Babbage Square".into(),
            city: "London".into(),
            postal_code: "NW1 6XE".into(),
            country_code: CountryCode::parse("GB").expect("valid country"),
        },
    }
}

impl Payer {
    fn request(&self, description: &str) -> ChargeRequest<'_> {
        ChargeRequest {
            order_id: OrderId::parse(ORDER_ID).expect("valid order id"),
            budget: std::time::Duration::from_secs(60),
            amount: Money::from_minor_units(25000, Currency::Usd),
            description: description.into(),
            card: &self.card,
            billing_address: &self.address,
        }
    }
}

/// Charges Ada's card for a conference pass.
async fn charge(client: &PayPalClient) -> Result<Capture, PaymentError> {
    let ada = payer("Ada Lovelace");
    client
        .charge(ada.request("RustConf 2026: Conference pass"))
        .await
}

async fn received(server: &MockServer, path: &str) -> Vec<Request> {
    let requests = server.received_requests().await.expect("recording is on");
    requests
        .into_iter()
        .filter(|request| request.url.path() == path)
        .collect()
}

fn header<'r>(request: &'r Request, name: &str) -> &'r str {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

fn captured() -> Result<Capture, PaymentError> {
    Ok(Capture {
        capture_id: "3C679366HH908993F".into(),
    })
}

/// What Ada's charge sends to `POST /v2/checkout/orders`.
fn expected_create_body() -> Value {
    json!({
        "intent": "CAPTURE",
        "purchase_units": [{
            "reference_id": ORDER_ID,
            "description": "RustConf 2026: Conference pass",
            "custom_id": ORDER_ID,
            "amount": {"currency_code": "USD", "value": "250.00"}
        }],
        "payment_source": {"card": {
            "name": "Ada Lovelace",
            "number": CARD_NUMBER,
            "expiry": "2030-12",
            "security_code": SECURITY_CODE,
            "billing_address": {
                "address_line_1": "12 Babbage Square",
                "admin_area_2": "London",
                "postal_code": "NW1 6XE",
                "country_code": "GB"
            }
        }}
    })
}

#[tokio::test]
async fn charges_a_card_with_a_token_then_one_create_call() {
    let server = paypal(reply(201, ORDER_COMPLETED)).await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(charge(&client).await, captured());

    let [token] = &received(&server, TOKEN_PATH).await[..] else {
        panic!("expected one token call");
    };
    assert_eq!(token.method.as_str(), "POST");
    assert_eq!(header(token, "authorization"), BASIC_AUTH);
    assert_eq!(
        header(token, "content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(token.body, b"grant_type=client_credentials");

    let [create] = &received(&server, ORDERS_PATH).await[..] else {
        panic!("expected one create call");
    };
    assert_eq!(create.method.as_str(), "POST");
    assert_eq!(header(create, "authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(header(create, "content-type"), "application/json");
    assert_eq!(header(create, "paypal-request-id"), ORDER_ID);
    assert_eq!(header(create, "prefer"), "return=representation");
    assert_eq!(
        create.body_json::<Value>().expect("JSON body"),
        expected_create_body()
    );
    assert!(
        received(&server, CAPTURE_PATH).await.is_empty(),
        "a completed order is not captured again"
    );
}

#[tokio::test]
async fn reuses_the_token_across_charges() {
    let server = paypal(reply(201, ORDER_COMPLETED)).await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(charge(&client).await, captured());
    assert_eq!(charge(&client).await, captured());

    assert_eq!(received(&server, TOKEN_PATH).await.len(), 1);
    assert_eq!(received(&server, ORDERS_PATH).await.len(), 2);
}

#[tokio::test]
async fn renews_a_token_within_a_minute_of_its_expiry() {
    let server = MockServer::start().await;
    let short_lived = json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 60});
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(short_lived))
        .mount(&server)
        .await;
    Mock::given(path(ORDERS_PATH))
        .respond_with(reply(201, ORDER_COMPLETED))
        .mount(&server)
        .await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(charge(&client).await, captured());
    assert_eq!(charge(&client).await, captured());

    assert_eq!(received(&server, TOKEN_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_401_renews_the_token_and_sends_the_call_once_more() {
    let server = MockServer::start().await;
    let token = |value: &str| {
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": value, "expires_in": 32400}))
    };
    Mock::given(path(TOKEN_PATH))
        .respond_with(in_turn([token("A21AA-revoked"), token("A21AA-fresh")]))
        .mount(&server)
        .await;
    let unauthorized = json!({"name": "AUTHENTICATION_FAILURE", "debug_id": "a1b2c3"});
    Mock::given(path(ORDERS_PATH))
        .respond_with(in_turn([
            ResponseTemplate::new(401).set_body_json(unauthorized),
            reply(201, ORDER_COMPLETED),
        ]))
        .mount(&server)
        .await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(charge(&client).await, captured());

    assert_eq!(received(&server, TOKEN_PATH).await.len(), 2);
    let creates = received(&server, ORDERS_PATH).await;
    let bearers: Vec<&str> = creates
        .iter()
        .map(|request| header(request, "authorization"))
        .collect();
    assert_eq!(bearers, ["Bearer A21AA-revoked", "Bearer A21AA-fresh"]);
    assert!(
        creates
            .iter()
            .all(|request| header(request, "paypal-request-id") == ORDER_ID)
    );
}

#[tokio::test]
async fn a_second_401_is_rejected() {
    let server = paypal(reply(
        401,
        r#"{"name": "AUTHENTICATION_FAILURE", "debug_id": "a1b2c3"}"#,
    ))
    .await;
    let client = PayPalClient::new(config(&server.uri()));

    let outcome = charge(&client).await;

    assert!(
        matches!(&outcome, Err(PaymentError::Rejected(message))
            if message.contains("AUTHENTICATION_FAILURE")),
        "{outcome:?}"
    );
    assert_eq!(received(&server, TOKEN_PATH).await.len(), 2);
    assert_eq!(received(&server, ORDERS_PATH).await.len(), 2);
}

#[tokio::test]
async fn refused_client_credentials_are_rejected() {
    let server = MockServer::start().await;
    let oauth_error =
        json!({"error": "invalid_client", "error_description": "Client Authentication failed"});
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(oauth_error))
        .mount(&server)
        .await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(
        charge(&client).await,
        Err(PaymentError::Rejected(
            "PayPal refused the client credentials".into()
        ))
    );
    assert_eq!(received(&server, TOKEN_PATH).await.len(), 1, "not retried");
    assert!(received(&server, ORDERS_PATH).await.is_empty());
}

#[tokio::test]
async fn a_422_instrument_declined_is_declined_with_a_reason() {
    let server = paypal(reply(422, ERROR_422_DECLINED)).await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(
        charge(&client).await,
        Err(PaymentError::Declined {
            code: "INSTRUMENT_DECLINED".into(),
            reason: "Your bank declined the payment. Please use another card or contact your bank."
                .into(),
        })
    );
    assert_eq!(
        received(&server, ORDERS_PATH).await.len(),
        1,
        "a decline is not retried"
    );
}

#[tokio::test]
async fn a_422_about_our_account_is_rejected_not_declined() {
    let issue = json!({
        "name": "UNPROCESSABLE_ENTITY",
        "debug_id": "d4e5f6",
        "details": [{"issue": "NOT_ENABLED_FOR_CARD_PROCESSING"}]
    });
    let server = paypal(ResponseTemplate::new(422).set_body_json(issue)).await;
    let client = PayPalClient::new(config(&server.uri()));

    let outcome = charge(&client).await;

    assert!(
        matches!(&outcome, Err(PaymentError::Rejected(message))
            if message.contains("NOT_ENABLED_FOR_CARD_PROCESSING") && message.contains("d4e5f6")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_declined_capture_with_5120_is_insufficient_funds() {
    let server = paypal(reply(201, ORDER_DECLINED_5120)).await;
    let client = PayPalClient::new(config(&server.uri()));
    let payer = payer("CCREJECT-IF");

    assert_eq!(
        client
            .charge(payer.request("RustConf 2026: Conference pass"))
            .await,
        Err(PaymentError::Declined {
            code: "5120 INSUFFICIENT_FUNDS".into(),
            reason: "The card has insufficient funds. Please use another card.".into(),
        })
    );
    assert_eq!(received(&server, ORDERS_PATH).await.len(), 1);
}

#[tokio::test]
async fn an_approved_order_is_captured_with_its_own_request_id() {
    let server = paypal(reply(201, ORDER_APPROVED)).await;
    Mock::given(path(CAPTURE_PATH))
        .respond_with(reply(201, ORDER_COMPLETED))
        .mount(&server)
        .await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(charge(&client).await, captured());

    let [capture] = &received(&server, CAPTURE_PATH).await[..] else {
        panic!("expected one capture call");
    };
    assert_eq!(capture.method.as_str(), "POST");
    assert_eq!(header(capture, "authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(
        header(capture, "paypal-request-id"),
        format!("{ORDER_ID}-capture")
    );
    assert_eq!(header(capture, "prefer"), "return=representation");
    assert_eq!(header(capture, "content-type"), "application/json");
    assert_eq!(capture.body_json::<Value>().expect("JSON body"), json!({}));
}

#[tokio::test]
async fn an_order_waiting_for_3d_secure_is_declined() {
    let server = paypal(reply(201, ORDER_PAYER_ACTION)).await;
    let client = PayPalClient::new(config(&server.uri()));

    let outcome = charge(&client).await;

    assert!(
        matches!(&outcome, Err(PaymentError::Declined { code, reason })
            if code == "PAYER_ACTION_REQUIRED" && reason.contains("3-D Secure")),
        "{outcome:?}"
    );
    assert!(received(&server, CAPTURE_PATH).await.is_empty());
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_request_id() {
    let failing = reply(
        500,
        r#"{"name": "INTERNAL_SERVER_ERROR", "debug_id": "e7f8a9"}"#,
    );
    let server = paypal(in_turn([failing, reply(201, ORDER_COMPLETED)])).await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(charge(&client).await, captured());

    let creates = received(&server, ORDERS_PATH).await;
    assert_eq!(creates.len(), 2);
    assert!(
        creates
            .iter()
            .all(|request| header(request, "paypal-request-id") == ORDER_ID)
    );
    assert_eq!(creates[0].body, creates[1].body);
}

#[tokio::test]
async fn a_429_is_retried() {
    let server = paypal(in_turn([
        ResponseTemplate::new(429),
        reply(201, ORDER_COMPLETED),
    ]))
    .await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(charge(&client).await, captured());
    assert_eq!(received(&server, ORDERS_PATH).await.len(), 2);
}

#[tokio::test]
async fn a_failing_capture_is_retried_and_replays_the_create() {
    let server = paypal(reply(201, ORDER_APPROVED)).await;
    Mock::given(path(CAPTURE_PATH))
        .respond_with(in_turn([
            ResponseTemplate::new(503),
            reply(201, ORDER_COMPLETED),
        ]))
        .mount(&server)
        .await;
    let client = PayPalClient::new(config(&server.uri()));

    assert_eq!(charge(&client).await, captured());

    let captures = received(&server, CAPTURE_PATH).await;
    assert_eq!(captures.len(), 2);
    assert!(
        captures
            .iter()
            .all(|request| header(request, "paypal-request-id") == format!("{ORDER_ID}-capture"))
    );
}

#[tokio::test]
async fn a_constant_503_is_unavailable_within_the_deadline() {
    let server = paypal(reply(
        503,
        r#"{"name": "SERVICE_UNAVAILABLE", "debug_id": "0a1b2c"}"#,
    ))
    .await;
    let started = Instant::now();

    let outcome = charge(&impatient(&server.uri())).await;

    assert!(
        matches!(&outcome, Err(PaymentError::Unavailable(message)) if message.contains("503")),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(received(&server, ORDERS_PATH).await.len() >= 2, "retried");
}

#[tokio::test]
async fn an_answer_slower_than_the_request_timeout_is_retried_then_unavailable() {
    let server = paypal(reply(201, ORDER_COMPLETED).set_delay(Duration::from_secs(5))).await;
    let started = Instant::now();

    let outcome = charge(&impatient(&server.uri())).await;

    assert!(
        matches!(outcome, Err(PaymentError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(received(&server, ORDERS_PATH).await.len() >= 2, "retried");
}

#[tokio::test]
async fn an_unreachable_paypal_is_unavailable() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let base_url = format!("http://{}", closed.local_addr().expect("bound"));
    drop(closed);

    let outcome = charge(&impatient(&base_url)).await;

    assert!(
        matches!(outcome, Err(PaymentError::Unavailable(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_400_is_rejected_at_once_without_the_card() {
    let server = paypal(reply(400, ERROR_400)).await;
    let client = PayPalClient::new(config(&server.uri()));

    let outcome = charge(&client).await;

    let Err(PaymentError::Rejected(message)) = &outcome else {
        panic!("expected Rejected, got {outcome:?}");
    };
    for part in [
        "INVALID_REQUEST",
        "f3c2a91b7d5e8",
        "INVALID_PARAMETER_VALUE at /payment_source/card/number",
    ] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
    assert!(
        !message.contains(CARD_NUMBER),
        "PayPal echoed the number in details[].value: {message}"
    );
    assert_eq!(received(&server, ORDERS_PATH).await.len(), 1, "not retried");
}

#[test]
fn config_comes_from_the_environment() {
    let env = [
        ("PAYPAL_BASE_URL", "https://api-m.sandbox.paypal.com/"),
        ("PAYPAL_CLIENT_ID", CLIENT_ID),
        ("PAYPAL_CLIENT_SECRET", CLIENT_SECRET),
        ("PAYPAL_DEADLINE_MS", "20000"),
    ];
    let config = PayPalConfig::from_env(&env).expect("complete");
    assert_eq!(config.base_url, "https://api-m.sandbox.paypal.com");
    assert_eq!(config.client_id, CLIENT_ID);
    assert_eq!(config.request_timeout, Duration::from_secs(10));
    assert_eq!(config.deadline, Duration::from_secs(20));

    for missing in [
        "PAYPAL_BASE_URL",
        "PAYPAL_CLIENT_ID",
        "PAYPAL_CLIENT_SECRET",
    ] {
        let partial: Vec<(&str, &str)> = env
            .iter()
            .copied()
            .filter(|(name, _)| *name != missing)
            .collect();
        let partial: [(&str, &str); 3] = partial.try_into().expect("three left");
        let error = PayPalConfig::from_env(&partial).expect_err("incomplete");
        assert_eq!(error, ConfigError::Missing(missing));
        assert_eq!(error.to_string(), format!("{missing} is not set"));
    }
    let slow = [
        ("PAYPAL_BASE_URL", "https://api-m.paypal.com"),
        ("PAYPAL_CLIENT_ID", CLIENT_ID),
        ("PAYPAL_CLIENT_SECRET", CLIENT_SECRET),
        ("PAYPAL_TIMEOUT_MS", "10s"),
    ];
    assert!(matches!(
        PayPalConfig::from_env(&slow),
        Err(ConfigError::Invalid {
            variable: "PAYPAL_TIMEOUT_MS",
            ..
        })
    ));
}

#[tokio::test]
async fn debug_shows_neither_the_secret_nor_the_token() {
    let server = paypal(reply(201, ORDER_COMPLETED)).await;
    let client = PayPalClient::new(config(&server.uri()));
    assert_eq!(charge(&client).await, captured(), "the token is cached");

    for shown in [
        format!("{client:?}"),
        format!("{:?}", config(&server.uri())),
    ] {
        assert!(shown.contains(CLIENT_ID), "{shown}");
        assert!(
            !shown.contains(CLIENT_SECRET) && !shown.contains(TOKEN),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn the_create_body_conforms_to_paypals_schema() {
    let schema: Value = serde_json::from_str(ORDER_REQUEST_SCHEMA).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let server = paypal(reply(201, ORDER_COMPLETED)).await;
    let client = PayPalClient::new(config(&server.uri()));
    let ada = payer("Ada Lovelace");
    let long_description = "é".repeat(200);

    for description in [
        "RustConf 2026: Conference pass",
        "",
        long_description.as_str(),
    ] {
        assert_eq!(client.charge(ada.request(description)).await, captured());
    }

    let bodies: Vec<Value> = received(&server, ORDERS_PATH)
        .await
        .iter()
        .map(|request| request.body_json().expect("JSON body"))
        .collect();
    for body in &bodies {
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    assert_eq!(
        bodies[1]["purchase_units"][0].get("description"),
        None,
        "an empty description is left out"
    );
    assert_eq!(
        bodies[2]["purchase_units"][0]["description"],
        "é".repeat(127),
        "cut to PayPal's 127"
    );

    let mut without_intent = bodies[0].clone();
    without_intent
        .as_object_mut()
        .expect("an object")
        .remove("intent");
    assert!(
        !validator.is_valid(&without_intent),
        "the schema requires intent"
    );
    let mut misspelt = bodies[0].clone();
    misspelt["payment_source"]["card"]["securityCode"] = json!(SECURITY_CODE);
    assert!(!validator.is_valid(&misspelt), "the schema closes objects");
}

#[test]
fn the_environment_it_writes_reads_back_the_same() {
    let env = [
        ("PAYPAL_BASE_URL", "http://127.0.0.1:9/paypal/"),
        ("PAYPAL_CLIENT_ID", "client"),
        ("PAYPAL_CLIENT_SECRET", "s3cret"),
        ("PAYPAL_TIMEOUT_MS", "1500"),
        ("PAYPAL_DEADLINE_MS", "4000"),
    ];
    let config = PayPalConfig::from_env(&env).expect("valid");
    let again = PayPalConfig::from_env(&config.to_env()).expect("reads back");
    assert_eq!(format!("{again:?}"), format!("{config:?}"));
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&again.client_secret),
        "s3cret"
    );
}
