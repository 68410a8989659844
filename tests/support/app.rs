//! The emulator a test talks to: [`spawn_app`] starts one on a free port with a database of its
//! own, and the [`TestApp`] it returns stops both when the test ends, even by a panic. Every
//! request the helpers make goes through it, so that each answer is kept for the card-data scan
//! and each answer of the public API is held to the contract.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;

use crate::contract::assert_documented;
use crate::databases::TestDatabase;
use crate::logs::{capture_logs, warn};
use crate::topology;

/// How long the PayPal client may keep retrying a charge. The local PayPal answers at once, but
/// the 429s and 5xx a test injects make the client wait 200 ms, 400 ms, … (with full jitter)
/// between tries, and on a busy 2-core machine running tests side by side every try is slower:
/// 10 s leaves room for several.
const PAYPAL_DEADLINE: Duration = Duration::from_secs(10);

/// How long the end of a test waits for the emulator to shut down before it drops the database
/// anyway.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

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
    topology::configure(&mut config);
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

impl TestApp {
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

    /// GETs `path` (with its query, if any) and returns the body as JSON; fails unless the
    /// answer is a success.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.get_answer(self.at(path)).await;
        assert!((200..300).contains(&status), "GET {path}: {status} {body}");
        body
    }

    /// GETs `url`; returns the status and the body as JSON.
    pub(crate) async fn get_answer(&self, url: reqwest::Url) -> (u16, Value) {
        let response = self.client.get(url).send().await.expect("request sent");
        self.read_answer("get", response).await
    }

    /// Reads the answer to a `method` request: keeps its body for the card-data scan and holds
    /// an answer of the public API (`/api/…`; not the inspector's `/_emulator/…`) to
    /// web/openapi.json. Returns the status and the body as JSON (a body that is not JSON as a
    /// JSON string).
    pub(crate) async fn read_answer(
        &self,
        method: &str,
        response: reqwest::Response,
    ) -> (u16, Value) {
        let status = response.status().as_u16();
        let path = response.url().path().to_owned();
        let text = response.text().await.expect("body read");
        self.keep_response(text.clone());
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if path.starts_with("/api/") {
            assert_documented(method, &path, status, &body);
        }
        (status, body)
    }

    /// The URL of `path` on the emulator.
    pub(crate) fn at(&self, path: &str) -> reqwest::Url {
        reqwest::Url::parse(&format!("{}{path}", self.url)).expect("a URL on the emulator")
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

    /// Keeps an answer's body for the card-data scan.
    pub(crate) fn keep_response(&self, body: String) {
        self.responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(body);
    }

    /// Every answer's body so far.
    pub(crate) fn responses_so_far(&self) -> Vec<String> {
        self.responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The test's database.
    pub(crate) fn database(&self) -> &TestDatabase {
        &self.database
    }
}
