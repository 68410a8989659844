//! The emulator's binary run as a child process, as a user runs it: started on a free port with a
//! database and flags of the test's, driven over HTTP, stopped by a signal, and killed if the test
//! fails. Used by the tests that need the real process: [`crate::restart`] and [`crate::reload`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub(crate) const CARD: &str = "4012888888881881";

/// A running emulator process.
pub(crate) struct Emulator {
    child: Child,
    pub(crate) url: String,
    log: PathBuf,
}

impl Emulator {
    /// Starts the binary on a free port with `database_url`, short redelivery (2 s visibility
    /// timeout) and a short execution lease (2 s), the functions as `E2E_FUNCTIONS` says
    /// (`process`: their binaries; else in-process), and waits until it is healthy.
    pub(crate) async fn start(database_url: &str, dir: &Path) -> Self {
        let functions = match std::env::var("E2E_FUNCTIONS").as_deref() {
            Ok("process") => "process",
            _ => "in-process",
        };
        Self::start_with(database_url, dir, &["--functions", functions]).await
    }

    /// [`Emulator::start`] with `args` for the functions. Ready is waited for 10 s, or, in
    /// process mode, for as long as cargo builds the functions' binaries (up to 10 minutes, the
    /// first time on a clean machine).
    pub(crate) async fn start_with(database_url: &str, dir: &Path, args: &[&str]) -> Self {
        let log = dir.join(format!("emulator-{}.log", uuid::Uuid::new_v4().simple()));
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_emulator"))
            .args(["--port", &port.to_string()])
            .args(["--visibility-timeout", "2", "--execution-lease", "2"])
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "info,sqlx=warn")
            .stdout(Stdio::from(std::fs::File::create(&log).expect("log file")))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the emulator binary starts");
        let mut emulator = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let patience = if args.contains(&"in-process") {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(600)
        };
        let started = std::time::Instant::now();
        while started.elapsed() < patience {
            if let Ok(response) = reqwest::get(emulator.api("health")).await
                && response.status() == 200
            {
                return emulator;
            }
            if let Ok(Some(status)) = emulator.child.try_wait() {
                panic!("the emulator exited ({status}): {}", emulator.logs());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the emulator is not healthy within {patience:?}: {}",
            emulator.logs()
        );
    }

    pub(crate) fn api(&self, path: &str) -> String {
        format!("{}/_emulator/api/{path}", self.url)
    }

    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (`KILL` or `TERM`) and waits for the process to exit.
    pub(crate) async fn stop(mut self, signal: &str) {
        self.signal(signal);
        self.exited(signal).await;
    }

    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} worked");
    }

    /// Waits up to 30 s for the process to exit after `signal`.
    pub(crate) async fn exited(&mut self, signal: &str) {
        for _ in 0..600 {
            if self
                .child
                .try_wait()
                .expect("the child can be waited on")
                .is_some()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        panic!("the emulator did not exit within 30 s of SIG{signal}");
    }

    pub(crate) async fn post(&self, key: &str, body: &Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/registrations", self.url))
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("the emulator answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn fault(&self, fault: Value) {
        let response = reqwest::Client::new()
            .post(self.api("faults"))
            .json(&fault)
            .send()
            .await
            .expect("the emulator answers");
        assert_eq!(response.status(), 201, "fault {fault} accepted");
    }

    /// How many entries of an inspector listing mention `needle` (every page read).
    pub(crate) async fn count(&self, listing: &str, needle: &str) -> usize {
        let mut found = 0;
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}?limit=1000", self.api(listing));
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let page: Value = reqwest::get(url)
                .await
                .expect("the inspector answers")
                .json()
                .await
                .expect("JSON");
            found += page["items"]
                .as_array()
                .expect("a paged listing")
                .iter()
                .filter(|item| item.to_string().contains(needle))
                .count();
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return found,
            }
        }
    }

    /// The states whose task succeeded so far in the execution `name`.
    pub(crate) async fn succeeded_tasks(&self, name: &str) -> Vec<String> {
        let execution: Value = reqwest::get(self.api(&format!("executions/{name}")))
            .await
            .expect("the inspector answers")
            .json()
            .await
            .unwrap_or(Value::Null);
        execution["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| event["type"] == "TaskSucceeded")
            .filter_map(|event| event["state"].as_str().map(str::to_owned))
            .collect()
    }

    pub(crate) async fn execution_status(&self, name: &str) -> Option<String> {
        let response = reqwest::get(self.api(&format!("executions/{name}")))
            .await
            .expect("the inspector answers");
        if response.status() == 404 {
            return None;
        }
        let execution: Value = response.json().await.expect("JSON");
        execution["status"].as_str().map(str::to_owned)
    }
}

impl Drop for Emulator {
    /// A test that fails leaves no process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

pub(crate) fn registration(email: &str) -> Value {
    json!({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": email},
        "card": {"name": "Ada Lovelace", "number": CARD, "expiry": "2030-12", "securityCode": "123"},
        "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": true
    })
}

/// Polls `done` every 100 ms for up to 60 s.
pub(crate) async fn wait_until<F, Fut>(mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not reached within 60 s");
}
