//! Helpers for the end-to-end tests: start an emulator on a free port with a fresh SQLite file,
//! talk to it over HTTP as the site and an operator would, and look for card data everywhere the
//! system writes (logs, queues, tables, responses).

use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

/// The public API's contract, which every response the tests receive is held to.
const OPENAPI: &str = include_str!("../web/openapi.json");

/// Fails unless `status` is documented for the operation and `body` matches its schema.
pub fn assert_documented(method: &str, path: &str, status: u16, body: &Value) {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    let document =
        DOCUMENT.get_or_init(|| serde_json::from_str(OPENAPI).expect("openapi.json is JSON"));
    let response = &document["paths"][path][method]["responses"][status.to_string()];
    assert!(
        !response.is_null(),
        "{method} {path} answered {status}, which web/openapi.json does not describe"
    );
    // The schema refers to `#/components/...`: validate against it with the components beside it.
    let mut schema = response["content"]["application/json"]["schema"].clone();
    schema["components"] = document["components"].clone();
    let validator = jsonschema::validator_for(&schema).expect("the documented schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match web/openapi.json: {errors:?}\n{body}"
    );
}

/// The test card used by every registration (PayPal's sandbox Visa).
pub const CARD_NUMBER: &str = "4012888888881881";

/// Every log line of this test process, for the card-data scan.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct CapturedLogs;

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,sqlx=info,hyper=info,hyper_util=info,reqwest=info",
            ))
            .with_writer(|| CapturedLogs)
            .with_ansi(false)
            .init();
    });
}

/// A running emulator and a client for it.
pub struct TestApp {
    pub url: String,
    client: reqwest::Client,
    database: std::path::PathBuf,
    responses: Mutex<Vec<String>>,
    _emulator: emulator::RunningEmulator,
    _dir: tempfile::TempDir,
}

/// Starts an emulator on 127.0.0.1:0 with its own SQLite file; redelivery is fast (300 ms
/// visibility timeout, 3 receives before the dead-letter queue) so that the tests are quick.
pub async fn spawn_app() -> TestApp {
    capture_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("registrations.db");
    let mut config = emulator::Config::new(format!("sqlite://{}", database.display()));
    config.visibility_timeout = Duration::from_millis(300);
    config.max_receive_count = 3;
    config.paypal_deadline = Duration::from_secs(1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("free port");
    let emulator = emulator::start(config, listener)
        .await
        .expect("emulator starts");
    TestApp {
        url: emulator.url(),
        client: reqwest::Client::new(),
        database,
        responses: Mutex::new(Vec::new()),
        _emulator: emulator,
        _dir: dir,
    }
}

/// A valid registration body.
pub fn registration(email: &str, card_name: &str, newsletter: bool) -> Value {
    json!({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": email, "organization": "Analytical Engines"},
        "card": {"name": card_name, "number": CARD_NUMBER, "expiry": "2030-12", "securityCode": "123"},
        "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": newsletter
    })
}

impl TestApp {
    /// POSTs raw bytes to `/api/registrations`; returns the status and the body as JSON.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: &str,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/api/registrations", self.url))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        self.responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(text.clone());
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn register(&self, body: &Value, key: Option<&str>) -> (u16, Value) {
        self.post_raw(body.to_string(), "application/json", key)
            .await
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request sent");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        let text = response.text().await.expect("body read");
        self.responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(text.clone());
        serde_json::from_str(&text).expect("JSON")
    }

    /// An inspector listing: `queues`, `executions`, `outbox`, `audience`, `payments`, `orders`.
    pub async fn inspect(&self, what: &str) -> Vec<Value> {
        match self.get(&format!("/_emulator/api/{what}")).await {
            Value::Array(items) => items,
            other => panic!("/_emulator/api/{what} is not a list: {other}"),
        }
    }

    pub async fn queue(&self, name: &str) -> Value {
        self.inspect("queues")
            .await
            .into_iter()
            .find(|q| q["name"] == name)
            .expect("queue listed")
    }

    pub async fn inject_fault(&self, fault: Value) {
        let response = self
            .client
            .post(format!("{}/_emulator/api/faults", self.url))
            .json(&fault)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 201, "fault {fault} accepted");
    }

    /// The captures the local PayPal completed (declined ones are listed too, with their status).
    pub async fn completed_payments(&self) -> Vec<Value> {
        self.inspect("payments")
            .await
            .into_iter()
            .filter(|p| p["status"] == "COMPLETED")
            .collect()
    }

    pub async fn clear_faults(&self) {
        let response = self
            .client
            .delete(format!("{}/_emulator/api/faults", self.url))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 204);
    }

    pub async fn send_to_queue(&self, queue: &str, body: &str) {
        let response = self
            .client
            .post(format!(
                "{}/_emulator/api/queues/{queue}/messages",
                self.url
            ))
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 201);
    }

    /// Waits (up to 20 s) until the execution named `name` has stopped, and returns it.
    pub async fn finished_execution(&self, name: &str) -> Value {
        self.eventually(20, || async {
            self.inspect("executions")
                .await
                .into_iter()
                .find(|e| e["name"] == name && e["status"] != "RUNNING")
        })
        .await
        .unwrap_or_else(|| panic!("execution {name} did not finish within 20 s"))
    }

    /// Polls `check` every 50 ms until it returns `Some`, for at most `seconds`.
    pub async fn eventually<T, F, Fut>(&self, seconds: u64, mut check: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Some(found) = check().await {
                return Some(found);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails if the card number appears in any response so far, any inspector listing (queues
    /// with their messages, executions with their histories, emails, audience, payments,
    /// orders), the database files, or any log line of this process.
    pub async fn assert_no_card_data(&self) {
        for what in [
            "queues",
            "executions",
            "outbox",
            "audience",
            "payments",
            "orders",
        ] {
            let listing = serde_json::to_string(&self.inspect(what).await).expect("json");
            assert!(
                !listing.contains(CARD_NUMBER),
                "card number in /_emulator/api/{what}"
            );
        }
        for response in self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            assert!(
                !response.contains(CARD_NUMBER),
                "card number in a response: {response}"
            );
        }
        let dir = self.database.parent().expect("database dir");
        for entry in std::fs::read_dir(dir).expect("database dir listing") {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("database file");
            assert!(
                !bytes
                    .windows(CARD_NUMBER.len())
                    .any(|w| w == CARD_NUMBER.as_bytes()),
                "card number in {}",
                path.display()
            );
        }
        let logs = LOGS.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(!logs.is_empty(), "logs are captured");
        assert!(
            !String::from_utf8_lossy(&logs).contains(CARD_NUMBER),
            "card number in the logs"
        );
    }
}

/// A fresh attendee email address.
pub fn unique_email(who: &str) -> String {
    format!("{who}.{}@example.org", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "does not match web/openapi.json")]
    fn a_body_off_the_contract_fails() {
        assert_documented(
            "post",
            "/api/registrations",
            201,
            &json!({"registrationId": 1}),
        );
    }

    #[test]
    #[should_panic(expected = "which web/openapi.json does not describe")]
    fn an_undocumented_status_fails() {
        assert_documented(
            "post",
            "/api/registrations",
            418,
            &json!({"error": "teapot"}),
        );
    }

    #[test]
    fn a_documented_answer_passes() {
        assert_documented(
            "post",
            "/api/registrations",
            402,
            &json!({"error": "declined", "reason": "refused"}),
        );
        assert_documented(
            "post",
            "/api/registrations",
            413,
            &json!({"message": "Request Entity Too Large"}),
        );
    }
}
