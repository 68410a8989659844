//! Reload on save, as a developer meets it: the emulator's binary in process mode (where reload
//! on save is on by default), and the confirmation email's subject changed in the email
//! function's source while it runs. The new build is served without a restart; a registration in
//! flight during the reload completes once; the next email has the new subject. Then a change
//! that does not compile: the build report holds the compiler's error, and the last good build
//! keeps serving. The same on the Azure Function App, whose custom handler is the binary served.
//!
//! The test edits `functions/email/src/lib.rs` in the workspace and puts it back as it was when
//! it ends, also by a panic (an edit of that file made meanwhile by hand would be overwritten).
//! It waits for the emulator to build the restored source too, so that the binaries on disk are
//! the source's again.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::binary::{Emulator, registration, wait_until};

/// The confirmation's subject as the email function's source writes it, and the one the test
/// saves in its place.
const SUBJECT: &str = "\"You're registered for {}: {}\"";
const NEW_SUBJECT: &str = "\"Reloaded: registered for {}: {}\"";

/// A source file of the workspace, changed by a test and put back when the guard is dropped.
struct Edited {
    path: PathBuf,
    original: String,
}

impl Edited {
    fn open(relative: &str) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(relative);
        let original = std::fs::read_to_string(&path).expect("the source reads");
        Self { path, original }
    }

    /// Saves the file with `text`, as an editor would.
    fn save(&self, text: &str) {
        std::fs::write(&self.path, text).expect("the source is written");
    }
}

impl Drop for Edited {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.original);
    }
}

/// Reload on save's report (`/_emulator/api/build`).
async fn build_report(emulator: &Emulator) -> Value {
    reqwest::get(emulator.api("build"))
        .await
        .expect("the inspector answers")
        .json()
        .await
        .expect("JSON")
}

/// The build report, once build number `n` has finished (up to 10 minutes: a clean machine
/// builds the function's crate from scratch).
async fn finished_build(emulator: &Emulator, n: u64) -> Value {
    let started = Instant::now();
    loop {
        let report = build_report(emulator).await;
        let finished = report["state"] == "succeeded" || report["state"] == "failed";
        if report["builds"].as_u64() >= Some(n) && finished {
            return report;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "build {n} did not finish within 10 minutes: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers `email`, waits until its order, email and audience member are there, and returns
/// the email as the outbox lists it.
async fn register(emulator: &Emulator, email: &str) -> String {
    let (status, paid) = emulator
        .post(&uuid::Uuid::new_v4().to_string(), &registration(email))
        .await;
    assert_eq!(status, 201, "{paid}");
    completed_once(emulator, email).await
}

/// Waits until `email`'s registration has completed, and checks that it did once: one order, one
/// confirmation, one audience member. Returns the confirmation as the outbox lists it.
async fn completed_once(emulator: &Emulator, email: &str) -> String {
    wait_until(|| async {
        emulator.count("orders", email).await > 0
            && emulator.count("outbox", email).await > 0
            && emulator.count("audience", email).await > 0
    })
    .await;
    for listing in ["orders", "outbox", "audience"] {
        assert_eq!(
            emulator.count(listing, email).await,
            1,
            "{listing} of {email}"
        );
    }
    let outbox: Value = reqwest::get(format!("{}?limit=1000", emulator.api("outbox")))
        .await
        .expect("the inspector answers")
        .json()
        .await
        .expect("JSON");
    outbox["items"]
        .as_array()
        .expect("a listing")
        .iter()
        .map(Value::to_string)
        .find(|item| item.contains(email))
        .expect("the confirmation")
}

/// The two tests edit one file: one at a time.
static ONE_EDITOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_change_is_built_and_served_without_a_restart() {
    saved_change_served(&["--functions", "process"], "email").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_change_is_served_by_the_azure_function_app_without_a_restart() {
    saved_change_served(&["--cloud", "azure"], "handler").await;
}

/// Runs the emulator with `args`, and changes the email function's source while it runs; the
/// binary served again is `binary`.
async fn saved_change_served(args: &[&str], binary: &str) {
    let _editing = ONE_EDITOR.lock().await;
    let source = Edited::open("functions/email/src/lib.rs");
    assert!(
        source.original.contains(SUBJECT),
        "the email function writes its subject as {SUBJECT}"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}/reload.db?mode=rwc", dir.path().display());
    let emulator = Emulator::start_with(&database, dir.path(), args).await;
    let report = build_report(&emulator).await;
    assert_eq!(report["watching"], true, "{report}");

    let unique = uuid::Uuid::new_v4().simple().to_string();
    let before = register(&emulator, &format!("before.{unique}@example.org")).await;
    assert!(before.contains("You're registered for"), "{before}");

    // In flight: paid, its workflow's email task held back until the new build is served.
    emulator
        .fault(json!({"target": "email", "mode": "slow", "delayMs": 3000, "times": 1}))
        .await;
    let during = format!("during.{unique}@example.org");
    let (status, paid) = emulator
        .post(&uuid::Uuid::new_v4().to_string(), &registration(&during))
        .await;
    assert_eq!(status, 201, "{paid}");
    source.save(&source.original.replace(SUBJECT, NEW_SUBJECT));
    let report = finished_build(&emulator, 1).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    assert_eq!(report["reloaded"], json!([binary]), "{report}");
    completed_once(&emulator, &during).await;
    let after = register(&emulator, &format!("after.{unique}@example.org")).await;
    assert!(after.contains("Reloaded: registered for"), "{after}");

    // A change that does not compile: the error is reported, the last good build serves.
    source.save(&format!(
        "{}\nfn broken( {{\n",
        source.original.replace(SUBJECT, NEW_SUBJECT)
    ));
    let report = finished_build(&emulator, 2).await;
    assert_eq!(report["state"], "failed", "{report}");
    let errors = report["errors"].as_str().expect("the compiler's output");
    assert!(
        errors.contains("unclosed delimiter") && errors.contains("functions/email/src/lib.rs"),
        "{errors}"
    );
    let still = register(&emulator, &format!("broken.{unique}@example.org")).await;
    assert!(still.contains("Reloaded: registered for"), "{still}");

    // The source as it was, built and served again.
    drop(source);
    let report = finished_build(&emulator, 3).await;
    assert_eq!(report["state"], "succeeded", "{report}");
    let restored = register(&emulator, &format!("restored.{unique}@example.org")).await;
    assert!(restored.contains("You're registered for"), "{restored}");
    emulator.stop("TERM").await;
}
