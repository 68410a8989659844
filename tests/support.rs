//! Helpers for the end-to-end tests: start an emulator on a free port with a database of its own
//! (a SQLite file, or a fresh PostgreSQL database with `E2E_DATABASE=postgres`), talk to it over
//! HTTP as the site and an operator would, hold every answer of the public API to
//! web/openapi.json, and look for card data everywhere the system writes (logs, queues, tables,
//! responses).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};

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

/// The test card's security code, which must not be kept or shown any more than its number.
const SECURITY_CODE: &str = "123";

/// The names of the security code's field in the site's, PayPal's and other card APIs' JSON.
const SECURITY_CODE_FIELDS: [&str; 4] = ["securityCode", "security_code", "cvv", "cvv2"];

/// The card data in `text`, if any, named for a failure message: the card number as sent or
/// grouped by fours (`4012 8888 8888 1881`, `4012-8888-8888-1881`), or the security code as the
/// value of a card field, in JSON (`"cvv":"123"`, `"cvv": "123"`), in JSON escaped inside a JSON
/// string (a queue message's body in a listing) or in Rust's `Debug` form (`cvv: "123"`).
fn card_data_in(text: &str) -> Option<String> {
    let groups: Vec<&str> = CARD_NUMBER
        .as_bytes()
        .chunks(4)
        .map(|group| std::str::from_utf8(group).expect("the card number is ASCII"))
        .collect();
    if let Some(form) = [CARD_NUMBER.to_owned(), groups.join(" "), groups.join("-")]
        .into_iter()
        .find(|form| text.contains(form.as_str()))
    {
        return Some(format!("the card number ({form})"));
    }
    SECURITY_CODE_FIELDS
        .into_iter()
        .find(|field| {
            text.match_indices(field).any(|(at, _)| {
                // The field's own name, not the end of a longer one (`cvv` in `mycvv`).
                let stands_alone =
                    !text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                stands_alone && security_code_follows(&text[at + field.len()..])
            })
        })
        .map(|field| format!("the security code (as {field})"))
}

/// Whether a field's name ending where `after_name` starts is given the security code: maybe a
/// closing quote, then `:` and the quoted code, with any whitespace between.
fn security_code_follows(after_name: &str) -> bool {
    after_quote(after_name)
        .unwrap_or(after_name)
        .trim_start()
        .strip_prefix(':')
        .map(str::trim_start)
        .and_then(after_quote)
        .and_then(|value| value.strip_prefix(SECURITY_CODE))
        .and_then(after_quote)
        .is_some()
}

/// `text` after its leading quote, written as is (`"`) or escaped (`\"`, `\\\"`, …).
fn after_quote(text: &str) -> Option<&str> {
    text.trim_start_matches('\\').strip_prefix('"')
}

/// Fails if `text`, read from `place`, holds card data (see [`card_data_in`]).
fn assert_no_card_data_in(place: std::fmt::Arguments<'_>, text: &str) {
    if let Some(found) = card_data_in(text) {
        panic!("{found} in {place}");
    }
}

/// Every log line of this test process, for the card-data scan.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Whether one line of the captured logs contains every one of `needles`.
pub fn logs_contain(needles: &[&str]) -> bool {
    !log_lines(needles).is_empty()
}

/// The lines of the captured logs that contain every one of `needles`.
pub fn log_lines(needles: &[&str]) -> Vec<String> {
    let logs = LOGS.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&logs)
        .lines()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .map(str::to_owned)
        .collect()
}

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

/// Prints a warning where it is seen: straight to stderr, which the test harness does not capture
/// (it shows what `eprintln!` prints only for failing tests).
fn warn(message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "warning: {message}");
}

/// Where a test's emulator keeps everything it stores (the orders, and its own queues and
/// executions): `E2E_DATABASE` chooses the kind, and each test has one of its own, so that tests
/// running side by side never see each other's data.
enum TestDatabase {
    /// A SQLite file in a temporary directory, removed with the directory.
    Sqlite(tempfile::TempDir),
    /// A database created for the test on a PostgreSQL server, until [`TestDatabase::remove`].
    Postgres {
        server_url: String,
        name: String,
        url: String,
    },
}

impl TestDatabase {
    /// Creates the database `E2E_DATABASE` asks for: `sqlite` (the default) or `postgres`.
    async fn create() -> Self {
        match std::env::var("E2E_DATABASE").as_deref() {
            Err(std::env::VarError::NotPresent) | Ok("sqlite") => {
                Self::Sqlite(tempfile::tempdir().expect("temp dir"))
            }
            Ok("postgres") => {
                let server_url = order_store::testing::postgres_server();
                let name = format!("e2e_{}", uuid::Uuid::new_v4().simple());
                let url = order_store::create_database(&server_url, &name)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "could not create the test database {name} on the PostgreSQL server \
                             at TEST_POSTGRES_URL (default {}): {}",
                            order_store::testing::DEFAULT_POSTGRES_URL,
                            order_store::testing::chain(&e)
                        )
                    });
                Self::Postgres {
                    server_url,
                    name,
                    url,
                }
            }
            Ok(other) => panic!(
                "E2E_DATABASE={other:?}: the end-to-end tests run on `sqlite` (the default) or \
                 `postgres`"
            ),
            Err(e) => panic!("E2E_DATABASE: {e}"),
        }
    }

    /// The URL the emulator is given.
    fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join("registrations.db").display())
            }
            Self::Postgres { url, .. } => url.clone(),
        }
    }

    /// Everything the database holds, as text, each piece with where it was read: the SQLite
    /// files (the database and its journal) byte for byte, or every table on PostgreSQL.
    async fn contents(&self) -> Vec<(String, String)> {
        match self {
            Self::Sqlite(dir) => std::fs::read_dir(dir.path())
                .expect("database dir listing")
                .map(|entry| {
                    let path = entry.expect("entry").path();
                    let bytes = std::fs::read(&path).expect("database file");
                    (
                        path.display().to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    )
                })
                .collect(),
            Self::Postgres { url, .. } => postgres_tables(url).await,
        }
    }

    /// Drops a PostgreSQL database, closing whatever connections it still has; a failure is a
    /// warning, not a failed test. (A SQLite directory goes when the value is dropped.)
    async fn remove(&self) {
        if let Self::Postgres {
            server_url, name, ..
        } = self
            && let Err(e) = order_store::drop_database(server_url, name).await
        {
            warn(format_args!(
                "could not drop the test database {name}: {}",
                order_store::testing::chain(&e)
            ));
        }
    }
}

/// The rows of every table of the PostgreSQL database at `url`, one line each, named by table.
/// Each column is read as text, as the database would show it; a `bytea` column as escaped text
/// (`encode(…, 'escape')`), not as hex, so that the words in it can be read.
async fn postgres_tables(url: &str) -> Vec<(String, String)> {
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .expect("the test database accepts a connection");
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text, column_name::text, data_type::text \
         FROM information_schema.columns \
         WHERE table_schema <> 'information_schema' AND table_schema NOT LIKE 'pg\\_%' \
         ORDER BY table_schema, table_name, ordinal_position",
    )
    .fetch_all(&mut connection)
    .await
    .expect("the database's columns");
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (schema, table, column, data_type) in columns {
        let column = quoted(&column);
        tables
            .entry(format!("{}.{}", quoted(&schema), quoted(&table)))
            .or_default()
            .push(if data_type == "bytea" {
                format!("encode({column}, 'escape')")
            } else {
                format!("{column}::text")
            });
    }
    let mut contents = Vec::new();
    for (table, columns) in tables {
        let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT concat_ws(' | ', {}) FROM {table}",
            columns.join(", ")
        )))
        .fetch_all(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("could not read table {table}: {e}"));
        contents.push((format!("table {table}"), rows.join("\n")));
    }
    connection
        .close()
        .await
        .expect("the connection to the test database closes");
    contents
}

/// `identifier` quoted for SQL.
fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// How long the PayPal client may keep retrying a charge. The local PayPal answers at once, but
/// the 429s and 5xx a test injects make the client wait 200 ms, 400 ms, … (with full jitter)
/// between tries, and on a busy 2-core machine running tests side by side every try is slower:
/// 10 s leaves room for several.
const PAYPAL_DEADLINE: Duration = Duration::from_secs(10);

/// How long the end of a test waits for the emulator to shut down before it drops the database
/// anyway.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How many items the inspector gives per page (its maximum): fewer round trips.
const INSPECTOR_PAGE_LIMIT: &str = "1000";

/// A running emulator, its database and a client for it. Dropped, at the end of a test or when
/// the test panics, it shuts the emulator down and removes the database.
pub struct TestApp {
    pub url: String,
    client: reqwest::Client,
    /// Every response body so far, for the card-data scan.
    responses: Mutex<Vec<String>>,
    /// Taken by `drop`, to shut it down.
    emulator: Option<emulator::RunningEmulator>,
    database: TestDatabase,
}

impl Drop for TestApp {
    /// Dropping cannot await, and may happen while the test's runtime unwinds from a panic: the
    /// emulator is shut down (so that no connection of its pool is left) and the database
    /// removed on a thread of their own, with a runtime of their own. The emulator's tasks keep
    /// running on the test's multi-thread runtime meanwhile, so they can finish.
    fn drop(&mut self) {
        let emulator = self.emulator.take();
        let database = &self.database;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime to clean up on")
                    .block_on(async {
                        if let Some(emulator) = emulator
                            && tokio::time::timeout(SHUTDOWN_TIMEOUT, emulator.shutdown())
                                .await
                                .is_err()
                        {
                            warn(format_args!(
                                "the emulator did not shut down within {SHUTDOWN_TIMEOUT:?}"
                            ));
                        }
                        database.remove().await;
                    });
            });
        });
    }
}

/// Starts an emulator on 127.0.0.1:0 with a database of its own (`E2E_DATABASE`: `sqlite`, the
/// default, or `postgres`); redelivery is fast (300 ms visibility timeout, 3 receives before the
/// dead-letter queue) so that the tests are quick.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Whether the emulator runs the Azure Function App (`E2E_CLOUD=azure`: `infra/azure`, its custom
/// handler under the emulator's Functions host) instead of the SAM template (`aws`, the default).
pub fn azure() -> bool {
    match std::env::var("E2E_CLOUD").as_deref() {
        Err(_) | Ok("aws") => false,
        Ok("azure") => true,
        Ok(other) => panic!("E2E_CLOUD={other:?}: use aws or azure"),
    }
}

/// The queues of the topology under test, by their role.
pub struct QueueNames {
    /// Where the payment puts the order, and the orchestrator takes it.
    pub registrations: &'static str,
    /// Where the registrations queue's hopeless messages end.
    pub registrations_dead_letters: &'static str,
    /// Where the workflow parks an order whose step failed for good.
    pub follow_up: &'static str,
}

pub fn queues() -> QueueNames {
    if azure() {
        QueueNames {
            registrations: "registrations",
            registrations_dead_letters: "registrations/$DeadLetterQueue",
            follow_up: "registration-followup",
        }
    } else {
        QueueNames {
            registrations: "RegistrationsQueue",
            registrations_dead_letters: "RegistrationsDeadLetterQueue",
            follow_up: "FollowUpDeadLetterQueue",
        }
    }
}

/// The binaries, built with cargo once per test binary.
fn binaries() -> std::collections::HashMap<String, std::path::PathBuf> {
    static BINARIES: OnceLock<std::collections::HashMap<String, std::path::PathBuf>> =
        OnceLock::new();
    BINARIES
        .get_or_init(|| emulator::lambda::build_binaries().expect("the function binaries build"))
        .clone()
}

/// How the emulator runs the functions: the Azure Function App's handler (`E2E_CLOUD=azure`),
/// or on the AWS topology in-process, or with `E2E_FUNCTIONS=process` as their binaries under the
/// Lambda Runtime API.
fn topology(config: &mut emulator::Config) {
    if azure() {
        let mut binaries = binaries();
        config.cloud = emulator::Cloud::Azure(emulator::azure::AzureConfig {
            app_dir: emulator::azure::app::workspace_app(),
            handler: binaries.remove("handler").expect("the handler was built"),
        });
        return;
    }
    config.functions = match std::env::var("E2E_FUNCTIONS").as_deref() {
        Err(_) | Ok("in-process") => emulator::Functions::InProcess,
        Ok("process") => emulator::Functions::Process(binaries()),
        Ok(other) => panic!("E2E_FUNCTIONS={other:?}: use in-process or process"),
    };
}

/// [`spawn_app`], with `configure` applied to the emulator's settings last.
pub async fn spawn_app_with(configure: impl FnOnce(&mut emulator::Config)) -> TestApp {
    capture_logs();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("free port");
    let database = TestDatabase::create().await;
    let mut config = emulator::Config::new(database.url());
    config.visibility_timeout = Some(Duration::from_millis(300));
    config.max_receive_count = Some(3);
    config.paypal_deadline = PAYPAL_DEADLINE;
    topology(&mut config);
    configure(&mut config);
    let emulator = match emulator::start(config, listener).await {
        Ok(emulator) => emulator,
        Err(e) => {
            database.remove().await;
            panic!("the emulator did not start: {e:#}");
        }
    };
    TestApp {
        url: emulator.url(),
        client: reqwest::Client::new(),
        responses: Mutex::new(Vec::new()),
        emulator: Some(emulator),
        database,
    }
}

/// An answer read off a raw connection (see [`TestApp::raw`]).
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// From the first byte sent to the connection's end.
    pub elapsed: Duration,
}

impl RawAnswer {
    /// A header's value (the first, if repeated), by its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error message of a JSON error body: `error` (ours) or `message` (the gateway's, in
    /// API Gateway's shape), if it is a non-empty string.
    pub fn error_message(&self) -> Option<String> {
        if !self.header("content-type")?.starts_with("application/json") {
            return None;
        }
        let body: Value = serde_json::from_str(&self.body).ok()?;
        ["error", "message"]
            .into_iter()
            .find_map(|key| body[key].as_str().filter(|m| !m.is_empty()))
            .map(str::to_owned)
    }
}

/// Parses the one answer in `bytes`: status line, headers, then the body to the end.
fn parse_raw_answer(bytes: &[u8], elapsed: Duration) -> Option<RawAnswer> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Some(RawAnswer {
        status,
        headers,
        body: body.to_owned(),
        elapsed,
    })
}

/// A valid registration body.
pub fn registration(email: &str, card_name: &str, newsletter: bool) -> Value {
    json!({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": email, "organization": "Analytical Engines"},
        "card": {"name": card_name, "number": CARD_NUMBER, "expiry": "2030-12", "securityCode": SECURITY_CODE},
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
            .post(self.at("/api/registrations"))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        self.read_answer("post", request.send().await.expect("request sent"))
            .await
    }

    /// Sends `bytes`, as they are, on a connection of its own, then closes its sending side and
    /// reads until the emulator closes the connection; `None` if there is no complete answer
    /// within `within`. For requests no HTTP client would send.
    pub async fn raw(&self, bytes: &[u8], within: Duration) -> Option<RawAnswer> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let started = std::time::Instant::now();
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(self.addr()).await.ok()?;
            // The emulator may answer and close before reading everything: a failed write is fine.
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer).await;
            Some(answer)
        };
        let answer = tokio::time::timeout(within, exchange).await.ok()??;
        let parsed = parse_raw_answer(&answer, started.elapsed())?;
        self.responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(parsed.body.clone());
        Some(parsed)
    }

    /// The emulator's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.emulator
            .as_ref()
            .expect("the emulator runs until the test ends")
            .addr()
    }

    /// A client for requests the helpers do not make; answers are not checked against the
    /// contract.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub async fn register(&self, body: &Value, key: Option<&str>) -> (u16, Value) {
        self.post_raw(body.to_string(), "application/json", key)
            .await
    }

    /// GETs `path` (with its query, if any) and returns the body as JSON; fails unless the
    /// answer is a success.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.get_answer(self.at(path)).await;
        assert!((200..300).contains(&status), "GET {path}: {status} {body}");
        body
    }

    /// GETs `url`; returns the status and the body as JSON.
    async fn get_answer(&self, url: reqwest::Url) -> (u16, Value) {
        let response = self.client.get(url).send().await.expect("request sent");
        self.read_answer("get", response).await
    }

    /// Reads the answer to a `method` request: keeps its body for the card-data scan and holds
    /// an answer of the public API (`/api/…`; not the inspector's `/_emulator/…`) to
    /// web/openapi.json. Returns the status and the body as JSON (a body that is not JSON as a
    /// JSON string).
    async fn read_answer(&self, method: &str, response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let path = response.url().path().to_owned();
        let text = response.text().await.expect("body read");
        self.responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(text.clone());
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if path.starts_with("/api/") {
            assert_documented(method, &path, status, &body);
        }
        (status, body)
    }

    /// The URL of `path` on the emulator.
    fn at(&self, path: &str) -> reqwest::Url {
        reqwest::Url::parse(&format!("{}{path}", self.url)).expect("a URL on the emulator")
    }

    /// An inspector listing, whole: `queues`, `executions`, `outbox`, `audience`, `payments`,
    /// `orders`. A paged listing (`{"items": [...], "nextCursor": ...}`, newest first) is read
    /// page by page until `nextCursor` is null; a plain array is the whole listing at once.
    pub async fn inspect(&self, what: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = self.at(&format!("/_emulator/api/{what}"));
            url.query_pairs_mut()
                .append_pair("limit", INSPECTOR_PAGE_LIMIT);
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let (status, page) = self.get_answer(url).await;
            assert_eq!(status, 200, "/_emulator/api/{what}: {page}");
            let (page_items, next_cursor) = match page {
                Value::Array(all) => (all, None),
                Value::Object(mut page) => {
                    match (page.remove("items"), page.remove("nextCursor")) {
                        (Some(Value::Array(some)), Some(Value::String(next))) => (some, Some(next)),
                        (Some(Value::Array(some)), Some(Value::Null)) => (some, None),
                        other => panic!("/_emulator/api/{what} is not a page of items: {other:?}"),
                    }
                }
                other => panic!("/_emulator/api/{what} is not a listing: {other}"),
            };
            items.extend(page_items);
            cursor = next_cursor;
            if cursor.is_none() {
                return items;
            }
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
            .post(self.queue_url(queue, "messages"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 201);
    }

    /// The inspector's URL of `what` under a queue (a Service Bus dead-letter queue's name,
    /// `registrations/$DeadLetterQueue`, percent-encoded).
    pub fn queue_url(&self, queue: &str, what: &str) -> String {
        let name = queue.replace('/', "%2F").replace('$', "%24");
        format!("{}/_emulator/api/queues/{name}/{what}", self.url)
    }

    /// Sends an inspector request with a JSON body (or none): its status and JSON answer (`null`
    /// when it has none).
    pub async fn inspector_call(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, url)
            .header("content-type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Waits (up to 20 s) until the execution named `name` has stopped, and returns it whole,
    /// with its `events` (a listing's items leave them out). Until it has started, the
    /// inspector answers 404.
    pub async fn finished_execution(&self, name: &str) -> Value {
        self.eventually(20, || async {
            let (status, execution) = self
                .get_answer(self.at(&format!("/_emulator/api/executions/{name}")))
                .await;
            match status {
                404 => None,
                200 => (execution["status"] != "RUNNING").then_some(execution),
                _ => panic!("/_emulator/api/executions/{name}: {status} {execution}"),
            }
        })
        .await
        .unwrap_or_else(|| panic!("execution {name} did not finish within 20 s"))
    }

    /// Waits (up to 20 s) until `queue` holds no message: none visible, in flight or delayed.
    /// Whatever was sent to it by then has been taken up (or dead-lettered), so that a check
    /// that something did not happen can follow.
    pub async fn drained(&self, queue: &str) {
        let drained = self
            .eventually(20, || async {
                let q = self.queue(queue).await;
                (q["visible"] == 0 && q["inFlight"] == 0 && q["delayed"] == 0).then_some(())
            })
            .await;
        assert!(
            drained.is_some(),
            "queue {queue} not drained within 20 s: {}",
            self.queue(queue).await
        );
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

    /// Fails if card data (the number in any of its forms, or the security code next to a card
    /// field: see [`card_data_in`]) is in any inspector listing (queues with their messages,
    /// executions, emails, audience, payments, orders), the database (its files on SQLite,
    /// every table on PostgreSQL), any log line of this process, or any response so far.
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
            assert_no_card_data_in(format_args!("/_emulator/api/{what}"), &listing);
        }
        for (place, content) in self.database.contents().await {
            assert_no_card_data_in(format_args!("the database: {place}"), &content);
        }
        let logs = LOGS.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(!logs.is_empty(), "logs are captured");
        assert_no_card_data_in(format_args!("the logs"), &String::from_utf8_lossy(&logs));
        for response in self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            assert_no_card_data_in(format_args!("a response: {response}"), response);
        }
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

    #[test]
    fn the_card_number_is_found_as_sent_and_grouped() {
        for text in [
            r#"{"card":{"number":"4012888888881881"}}"#,
            "charged 4012 8888 8888 1881",
            "charged 4012-8888-8888-1881",
        ] {
            assert!(
                card_data_in(text).is_some_and(|found| found.contains("card number")),
                "{text}"
            );
        }
    }

    #[test]
    fn the_security_code_is_found_as_a_card_field() {
        for text in [
            r#"{"card":{"securityCode":"123"}}"#,
            // As PostgreSQL shows a `jsonb`.
            r#"{"security_code": "123"}"#,
            // A message body (JSON in a JSON string) in a listing.
            r#"{"body":"{\"cvv\":\"123\"}"}"#,
            // A `Debug` struct in a log line.
            r#"Card { cvv2: "123" }"#,
        ] {
            assert!(
                card_data_in(text).is_some_and(|found| found.contains("security code")),
                "{text}"
            );
        }
    }

    #[test]
    fn other_numbers_are_not_card_data() {
        for text in [
            r#"{"card":{"brand":"VISA","lastDigits":"1881"}}"#,
            r#"{"number":"4012888888881882"}"#,
            r#"{"cvv":"1234"}"#,
            r#"{"cvv_result":"123"}"#,
            r#"{"mycvv":"123"}"#,
            r#"{"line1":"123 Main Street"}"#,
        ] {
            assert_eq!(card_data_in(text), None, "{text}");
        }
    }
}
