//! The SendGrid client against a local HTTP server (wiremock): the exact request it sends, how it
//! reads each kind of reply, its configuration, and the conformance of its body to a JSON Schema
//! derived from SendGrid's OpenAPI description (`schemas/sendgrid-mail-send.schema.json`, made by
//! `scripts/derive-provider-schemas.py`).

use std::time::{Duration, Instant};

use clients::config::ConfigError;
use clients::email::{EmailSender, OutgoingEmail, SendError};
use clients::sendgrid::{SendGridClient, SendGridConfig};
use domain::{EmailAddress, OrderId};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const API_KEY: &str = "SG.test-key-do-not-log";
const ORDER_ID: &str = "7d3f0c0e-5b8a-4c1e-9f2d-1a2b3c4d5e6f";

fn config(base_url: &str) -> SendGridConfig {
    SendGridConfig {
        base_url: base_url.to_owned(),
        api_key: SecretString::from(API_KEY),
        from: EmailAddress::parse("registrations@conf.example").expect("valid sender"),
        from_name: Some("RustConf Registration".into()),
        sandbox_mode: false,
        timeout: Duration::from_secs(5),
    }
}

fn email() -> OutgoingEmail {
    OutgoingEmail {
        to: EmailAddress::parse("Ada.Lovelace@Example.ORG").expect("valid recipient"),
        to_name: "Ada Lovelace".into(),
        subject: "Your RustConf ticket".into(),
        text: "Thank you, Ada.".into(),
        html: "<p>Thank you, Ada.</p>".into(),
        order_id: OrderId::parse(ORDER_ID).expect("valid order id"),
    }
}

fn expected_body() -> Value {
    json!({
        "personalizations": [{
            "to": [{"email": "Ada.Lovelace@Example.ORG", "name": "Ada Lovelace"}],
            "custom_args": {"order_id": ORDER_ID}
        }],
        "from": {"email": "registrations@conf.example", "name": "RustConf Registration"},
        "subject": "Your RustConf ticket",
        "content": [
            {"type": "text/plain", "value": "Thank you, Ada."},
            {"type": "text/html", "value": "<p>Thank you, Ada.</p>"}
        ]
    })
}

/// Sends `email()` with `config` (its base URL set to a fresh server that answers `reply`), and
/// returns the outcome with the requests the server received.
async fn send_with(
    reply: ResponseTemplate,
    adjust: impl FnOnce(&mut SendGridConfig),
) -> (Result<(), SendError>, Vec<Request>) {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(reply).mount(&server).await;
    let mut config = config(&server.uri());
    adjust(&mut config);
    let outcome = SendGridClient::new(config).send(&email()).await;
    let requests = server.received_requests().await.expect("recording is on");
    (outcome, requests)
}

#[tokio::test]
async fn sends_the_documented_request_and_accepts_202() {
    let (outcome, requests) = send_with(ResponseTemplate::new(202), |_| {}).await;
    assert_eq!(outcome, Ok(()));
    assert_eq!(requests.len(), 1, "one attempt, no retry");
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/v3/mail/send");
    assert_eq!(request.url.query(), None);
    assert_eq!(
        request.headers["authorization"],
        format!("Bearer {API_KEY}")
    );
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(
        request.body_json::<Value>().expect("JSON body"),
        expected_body()
    );
}

#[tokio::test]
async fn sandbox_mode_asks_sendgrid_not_to_deliver_and_accepts_its_200() {
    let (outcome, requests) =
        send_with(ResponseTemplate::new(200), |c| c.sandbox_mode = true).await;
    assert_eq!(outcome, Ok(()));
    let mut expected = expected_body();
    expected["mail_settings"] = json!({"sandbox_mode": {"enable": true}});
    assert_eq!(
        requests[0].body_json::<Value>().expect("JSON body"),
        expected
    );
}

#[tokio::test]
async fn a_200_outside_sandbox_mode_is_not_taken_as_sent() {
    let (outcome, _) = send_with(ResponseTemplate::new(200), |_| {}).await;
    assert!(
        matches!(&outcome, Err(SendError::Rejected(m)) if m.contains("unexpected HTTP 200")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_400_is_rejected_with_sendgrids_messages() {
    let reply = ResponseTemplate::new(400).set_body_raw(
        include_str!("fixtures/sendgrid-error-400.json"),
        "application/json",
    );
    let (outcome, requests) = send_with(reply, |_| {}).await;
    assert_eq!(
        outcome,
        Err(SendError::Rejected(
            "HTTP 400 Bad Request: The from email does not contain a valid address.; \
             The content value must be a string at least one character in length."
                .into()
        ))
    );
    assert_eq!(requests.len(), 1, "a rejection is not retried");
}

#[tokio::test]
async fn other_client_errors_are_rejected() {
    let revoked = "The provided authorization grant is invalid, expired, or revoked";
    let unauthorized = json!({"errors": [{"field": null, "message": revoked, "help": null}]});
    let reply = ResponseTemplate::new(401).set_body_json(unauthorized);
    let (outcome, _) = send_with(reply, |_| {}).await;
    assert_eq!(
        outcome,
        Err(SendError::Rejected(format!(
            "HTTP 401 Unauthorized: {revoked}"
        )))
    );
    for status in [403, 404, 413] {
        let expected = format!("HTTP {status} ");
        let (outcome, _) = send_with(ResponseTemplate::new(status), |_| {}).await;
        assert!(
            matches!(&outcome, Err(SendError::Rejected(m)) if m.starts_with(&expected)),
            "{status}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_unavailable() {
    for status in [429, 500, 502, 503] {
        let expected = format!("HTTP {status} ");
        let (outcome, requests) = send_with(ResponseTemplate::new(status), |_| {}).await;
        assert!(
            matches!(&outcome, Err(SendError::Unavailable(m)) if m.starts_with(&expected)),
            "{status}: {outcome:?}"
        );
        assert_eq!(requests.len(), 1, "the workflow retries, not the client");
    }
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_unavailable() {
    let slow = ResponseTemplate::new(202).set_delay(Duration::from_secs(5));
    let started = Instant::now();
    let (outcome, _) = send_with(slow, |c| c.timeout = Duration::from_millis(200)).await;
    assert!(
        matches!(&outcome, Err(SendError::Unavailable(m)) if m.contains("timed out")),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up in time"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let client = SendGridClient::new(config(&format!("http://{address}")));
    let outcome = client.send(&email()).await;
    assert!(
        matches!(&outcome, Err(SendError::Unavailable(m)) if m.contains("cannot connect")),
        "{outcome:?}"
    );
}

/// The settings `from_env` needs; the lookup takes the first match, so a test overrides one by
/// putting it in front, and leaves one out by renaming it.
const REQUIRED: [(&str, &str); 3] = [
    ("SENDGRID_BASE_URL", "http://127.0.0.1:4010/"),
    ("SENDGRID_API_KEY", API_KEY),
    (
        "EMAIL_FROM",
        "RustConf Registration <registrations@conf.example>",
    ),
];

#[test]
fn config_reads_the_environment() {
    let config = SendGridConfig::from_env(&REQUIRED).expect("valid");
    assert_eq!(config.base_url, "http://127.0.0.1:4010");
    assert_eq!(config.from.as_str(), "registrations@conf.example");
    assert_eq!(config.from_name.as_deref(), Some("RustConf Registration"));
    assert!(!config.sandbox_mode);
    assert_eq!(config.timeout, Duration::from_secs(10));

    let [base_url, api_key, from] = REQUIRED;
    let env = [
        ("SENDGRID_SANDBOX_MODE", "true"),
        ("SENDGRID_TIMEOUT_MS", "2500"),
        base_url,
        api_key,
        from,
    ];
    let config = SendGridConfig::from_env(&env).expect("valid");
    assert!(config.sandbox_mode);
    assert_eq!(config.timeout, Duration::from_millis(2500));

    let env = [
        ("EMAIL_FROM", "registrations@conf.example"),
        base_url,
        api_key,
        from,
    ];
    let config = SendGridConfig::from_env(&env).expect("valid");
    assert_eq!(config.from.as_str(), "registrations@conf.example");
    assert_eq!(config.from_name, None);
}

#[test]
fn config_names_each_missing_variable() {
    for index in 0..REQUIRED.len() {
        let mut env = REQUIRED;
        let left_out = std::mem::replace(&mut env[index].0, "LEFT_OUT");
        let error = SendGridConfig::from_env(&env).expect_err(left_out);
        assert_eq!(error, ConfigError::Missing(left_out));
        assert_eq!(error.to_string(), format!("{left_out} is not set"));
    }
}

#[test]
fn config_names_each_invalid_variable() {
    let [base_url, api_key, from] = REQUIRED;
    for (variable, value) in [
        ("SENDGRID_BASE_URL", "api.sendgrid.com"),
        ("EMAIL_FROM", "RustConf <not-an-address>"),
        ("SENDGRID_SANDBOX_MODE", "yes"),
        ("SENDGRID_TIMEOUT_MS", "10s"),
    ] {
        let env = [(variable, value), base_url, api_key, from];
        let error = SendGridConfig::from_env(&env).expect_err(variable);
        assert!(
            matches!(error, ConfigError::Invalid { variable: v, .. } if v == variable),
            "{variable}: {error:?}"
        );
        assert!(!error.to_string().contains(API_KEY), "{error}");
    }
}

#[test]
fn debug_never_shows_the_key() {
    let config = SendGridConfig::from_env(&REQUIRED).expect("valid");
    let client = SendGridClient::new(config.clone());
    for shown in [format!("{config:?}"), format!("{client:?}")] {
        assert!(!shown.contains(API_KEY), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }
}

fn mail_send_schema() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(include_str!("../schemas/sendgrid-mail-send.schema.json"))
            .expect("the schema is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles")
}

#[tokio::test]
async fn the_bodies_we_send_conform_to_sendgrids_spec() {
    let schema = mail_send_schema();
    for sandbox_mode in [false, true] {
        let (_, requests) = send_with(ResponseTemplate::new(202), |c| {
            c.sandbox_mode = sandbox_mode
        })
        .await;
        let sent = requests[0].body_json::<Value>().expect("JSON body");
        let errors: Vec<String> = schema.iter_errors(&sent).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "sandbox {sandbox_mode}: {errors:?}");
    }

    let (_, requests) = send_with(ResponseTemplate::new(202), |_| {}).await;
    let mut without_from = requests[0].body_json::<Value>().expect("JSON body");
    without_from
        .as_object_mut()
        .expect("an object")
        .remove("from");
    assert!(!schema.is_valid(&without_from), "from is required");
    let mut misspelt = requests[0].body_json::<Value>().expect("JSON body");
    misspelt["mail_setting"] = json!({"sandbox_mode": {"enable": true}});
    assert!(!schema.is_valid(&misspelt), "unknown fields are refused");
}
