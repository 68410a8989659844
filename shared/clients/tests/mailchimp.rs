//! The Mailchimp client against a local HTTP server (wiremock): the exact request it sends, how it
//! reads each kind of reply, its configuration (including the data centre derived from the key),
//! and the conformance of its body to a JSON Schema derived from Mailchimp's OpenAPI description
//! (`schemas/mailchimp-put-member.schema.json`, made by `scripts/derive-provider-schemas.py`).

use std::time::{Duration, Instant};

use clients::audience::{Audience, AudienceError, Member};
use clients::config::ConfigError;
use clients::mailchimp::{MailchimpClient, MailchimpConfig, StatusIfNew, subscriber_hash};
use domain::{EmailAddress, PersonName};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const API_KEY: &str = "mc-test-key-us6";
/// `echo -n ada.lovelace@example.org | md5sum`
const ADA_HASH: &str = "a0897f0967cd4affeb515028a3447d04";
/// `echo -n registration:mc-test-key-us6 | base64`
const BASIC_AUTH: &str = "Basic cmVnaXN0cmF0aW9uOm1jLXRlc3Qta2V5LXVzNg==";

fn config(base_url: &str) -> MailchimpConfig {
    MailchimpConfig {
        base_url: base_url.to_owned(),
        api_key: SecretString::from(API_KEY),
        list_id: "a1b2c3d4e5".into(),
        status_if_new: StatusIfNew::Subscribed,
        timeout: Duration::from_secs(5),
    }
}

fn member() -> Member {
    Member {
        email: EmailAddress::parse("Ada.Lovelace@Example.ORG").expect("valid email"),
        first_name: PersonName::parse("Ada").expect("valid name"),
        last_name: PersonName::parse("Lovelace").expect("valid name"),
    }
}

/// Upserts `member()` with `config` (its base URL set to a fresh server that answers `reply`),
/// and returns the outcome with the requests the server received.
async fn upsert_with(
    reply: ResponseTemplate,
    adjust: impl FnOnce(&mut MailchimpConfig),
) -> (Result<(), AudienceError>, Vec<Request>) {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(reply).mount(&server).await;
    let mut config = config(&server.uri());
    adjust(&mut config);
    let outcome = MailchimpClient::new(config).upsert_member(&member()).await;
    let requests = server.received_requests().await.expect("recording is on");
    (outcome, requests)
}

fn member_reply() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": ADA_HASH,
        "email_address": "Ada.Lovelace@Example.ORG",
        "status": "subscribed",
        "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"},
        "list_id": "a1b2c3d4e5"
    }))
}

#[test]
fn the_subscriber_hash_is_the_md5_of_the_lower_cased_address() {
    assert_eq!(subscriber_hash(&member().email), ADA_HASH);
}

#[tokio::test]
async fn puts_the_documented_request_and_accepts_200() {
    let (outcome, requests) = upsert_with(member_reply(), |_| {}).await;
    assert_eq!(outcome, Ok(()));
    assert_eq!(requests.len(), 1, "one attempt, no retry");
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "PUT");
    assert_eq!(
        request.url.path(),
        format!("/3.0/lists/a1b2c3d4e5/members/{ADA_HASH}")
    );
    assert_eq!(request.url.query(), None);
    assert_eq!(request.headers["authorization"], BASIC_AUTH);
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(
        request.body_json::<Value>().expect("JSON body"),
        json!({
            "email_address": "Ada.Lovelace@Example.ORG",
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"}
        })
    );
}

#[tokio::test]
async fn double_opt_in_asks_for_pending_new_members() {
    let (outcome, requests) =
        upsert_with(member_reply(), |c| c.status_if_new = StatusIfNew::Pending).await;
    assert_eq!(outcome, Ok(()));
    assert_eq!(
        requests[0].body_json::<Value>().expect("JSON body")["status_if_new"],
        "pending"
    );
}

#[tokio::test]
async fn a_400_problem_is_rejected_with_its_title_and_detail() {
    let reply = ResponseTemplate::new(400).set_body_raw(
        include_str!("fixtures/mailchimp-problem-400.json"),
        "application/problem+json",
    );
    let (outcome, requests) = upsert_with(reply, |_| {}).await;
    assert_eq!(
        outcome,
        Err(AudienceError::Rejected(
            "HTTP 400 Bad Request: Invalid Resource: Ada.Lovelace@Example.ORG looks fake or \
             invalid, please enter a real email address."
                .into()
        ))
    );
    assert_eq!(requests.len(), 1, "a rejection is not retried");
}

#[tokio::test]
async fn other_client_errors_are_rejected() {
    for status in [401, 403, 404] {
        let expected = format!("HTTP {status} ");
        let (outcome, _) = upsert_with(ResponseTemplate::new(status), |_| {}).await;
        assert!(
            matches!(&outcome, Err(AudienceError::Rejected(m)) if m.starts_with(&expected)),
            "{status}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_unavailable() {
    for status in [429, 500, 503] {
        let expected = format!("HTTP {status} ");
        let (outcome, requests) = upsert_with(ResponseTemplate::new(status), |_| {}).await;
        assert!(
            matches!(&outcome, Err(AudienceError::Unavailable(m)) if m.starts_with(&expected)),
            "{status}: {outcome:?}"
        );
        assert_eq!(requests.len(), 1, "the workflow retries, not the client");
    }
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_unavailable() {
    let slow = member_reply().set_delay(Duration::from_secs(5));
    let started = Instant::now();
    let (outcome, _) = upsert_with(slow, |c| c.timeout = Duration::from_millis(200)).await;
    assert!(
        matches!(&outcome, Err(AudienceError::Unavailable(m)) if m.contains("timed out")),
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
    let client = MailchimpClient::new(config(&format!("http://{address}")));
    let outcome = client.upsert_member(&member()).await;
    assert!(
        matches!(&outcome, Err(AudienceError::Unavailable(m)) if m.contains("cannot connect")),
        "{outcome:?}"
    );
}

/// The settings `from_env` needs; the lookup takes the first match, so a test overrides one by
/// putting it in front, and leaves one out by renaming it.
const REQUIRED: [(&str, &str); 2] = [
    ("MAILCHIMP_API_KEY", "abc-us6"),
    ("MAILCHIMP_LIST_ID", "a1b2c3d4e5"),
];

#[test]
fn config_derives_the_base_url_from_the_keys_data_centre() {
    let config = MailchimpConfig::from_env(&REQUIRED).expect("valid");
    assert_eq!(config.base_url, "https://us6.api.mailchimp.com");
    assert_eq!(config.list_id, "a1b2c3d4e5");
    assert_eq!(config.status_if_new, StatusIfNew::Subscribed);
    assert_eq!(config.timeout, Duration::from_secs(10));
}

#[test]
fn an_explicit_base_url_wins_and_needs_no_data_centre() {
    let env = [
        ("MAILCHIMP_API_KEY", "local-emulator"),
        ("MAILCHIMP_LIST_ID", "list1"),
        ("MAILCHIMP_BASE_URL", "http://127.0.0.1:3000/mailchimp/"),
        ("MAILCHIMP_STATUS_IF_NEW", "pending"),
        ("MAILCHIMP_TIMEOUT_MS", "1500"),
    ];
    let config = MailchimpConfig::from_env(&env).expect("valid");
    assert_eq!(config.base_url, "http://127.0.0.1:3000/mailchimp");
    assert_eq!(config.status_if_new, StatusIfNew::Pending);
    assert_eq!(config.timeout, Duration::from_millis(1500));

    let [api_key, list_id] = REQUIRED;
    let env = [
        ("MAILCHIMP_BASE_URL", "https://us19.api.mailchimp.com"),
        api_key,
        list_id,
    ];
    let config = MailchimpConfig::from_env(&env).expect("valid");
    assert_eq!(config.base_url, "https://us19.api.mailchimp.com");
}

#[test]
fn a_key_without_a_data_centre_is_named_but_not_printed() {
    let [_, list_id] = REQUIRED;
    let env = [("MAILCHIMP_API_KEY", "secret0123456789"), list_id];
    let error = MailchimpConfig::from_env(&env).expect_err("no data centre");
    assert!(
        matches!(
            error,
            ConfigError::Invalid {
                variable: "MAILCHIMP_API_KEY",
                ..
            }
        ),
        "{error:?}"
    );
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("secret0123456789"), "{shown}");
}

#[test]
fn config_names_each_missing_variable() {
    for index in 0..REQUIRED.len() {
        let mut env = REQUIRED;
        let left_out = std::mem::replace(&mut env[index].0, "LEFT_OUT");
        let error = MailchimpConfig::from_env(&env).expect_err(left_out);
        assert_eq!(error, ConfigError::Missing(left_out));
        assert_eq!(error.to_string(), format!("{left_out} is not set"));
    }
}

#[test]
fn config_names_each_invalid_variable() {
    let [api_key, list_id] = REQUIRED;
    for (variable, value) in [
        ("MAILCHIMP_BASE_URL", "us6.api.mailchimp.com"),
        ("MAILCHIMP_LIST_ID", "a1b2/../c3"),
        ("MAILCHIMP_STATUS_IF_NEW", "unsubscribed"),
        ("MAILCHIMP_TIMEOUT_MS", "-1"),
    ] {
        let env = [(variable, value), api_key, list_id];
        let error = MailchimpConfig::from_env(&env).expect_err(variable);
        assert!(
            matches!(error, ConfigError::Invalid { variable: v, .. } if v == variable),
            "{variable}: {error:?}"
        );
    }
}

#[test]
fn debug_never_shows_the_key() {
    let config = config("http://127.0.0.1:1");
    let client = MailchimpClient::new(config.clone());
    for shown in [format!("{config:?}"), format!("{client:?}")] {
        assert!(!shown.contains(API_KEY), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }
}

fn put_member_schema() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(include_str!("../schemas/mailchimp-put-member.schema.json"))
            .expect("the schema is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles")
}

#[tokio::test]
async fn the_bodies_we_send_conform_to_mailchimps_spec() {
    let schema = put_member_schema();
    for status_if_new in [StatusIfNew::Subscribed, StatusIfNew::Pending] {
        let (_, requests) = upsert_with(member_reply(), |c| c.status_if_new = status_if_new).await;
        let sent = requests[0].body_json::<Value>().expect("JSON body");
        let errors: Vec<String> = schema.iter_errors(&sent).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{status_if_new:?}: {errors:?}");
    }

    let (_, requests) = upsert_with(member_reply(), |_| {}).await;
    let mut without_status = requests[0].body_json::<Value>().expect("JSON body");
    without_status
        .as_object_mut()
        .expect("an object")
        .remove("status_if_new");
    assert!(
        !schema.is_valid(&without_status),
        "status_if_new is required"
    );
    let mut unknown_status = requests[0].body_json::<Value>().expect("JSON body");
    unknown_status["status_if_new"] = json!("active");
    assert!(
        !schema.is_valid(&unknown_status),
        "status_if_new is an enum"
    );
}
