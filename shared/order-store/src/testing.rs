//! A fresh PostgreSQL database per test, for every crate whose tests run on PostgreSQL (this one,
//! `durable`, the emulator's restart tests): created on the server at `TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432`) and dropped afterwards, whether the test passed
//! or failed.
//!
//! Where no server answers, the test prints `SKIPPED` and passes, unless `CI` or
//! `REQUIRE_POSTGRES` is set: then it fails, so that CI never skips silently.

use std::error::Error;
use std::future::Future;
use std::io::Write;

use crate::{StoreError, create_database, drop_database};

/// The test server when `TEST_POSTGRES_URL` is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// Creates a `<prefix>_<uuid>` database, runs `body` with its URL in a task of its own, and drops
/// the database; a panic of `body` then carries on, so the test fails as it would have.
pub async fn with_fresh_database<F, Fut>(prefix: &str, body: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let server = postgres_server();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let url = match create_database(&server, &name).await {
        Ok(url) => url,
        Err(e @ StoreError::Connect(_)) if !postgres_required() => {
            // Straight to stderr, not through `eprintln!`, which the test harness captures and
            // shows only for failing tests: a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL not reachable at {} ({}); set REQUIRE_POSTGRES=1 to make this a failure",
                redacted(&server),
                chain(&e)
            );
            return;
        }
        Err(e @ StoreError::Connect(_)) => panic!(
            "PostgreSQL not reachable at {} ({}), and CI or REQUIRE_POSTGRES is set: \
             start it, or point TEST_POSTGRES_URL at a server",
            redacted(&server),
            chain(&e)
        ),
        Err(e) => panic!(
            "could not create a test database on the PostgreSQL server at {}: {}",
            redacted(&server),
            chain(&e)
        ),
    };
    // In its own task, a failing assertion comes back here as an error instead of unwinding past
    // the cleanup.
    let outcome = tokio::spawn(body(url)).await;
    let dropped = drop_database(&server, &name).await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
    if let Err(e) = dropped {
        panic!("could not drop the test database {name}: {}", chain(&e));
    }
}

/// The test server: `TEST_POSTGRES_URL`, or [`DEFAULT_POSTGRES_URL`] when it is unset or empty.
pub fn postgres_server() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// Whether a PostgreSQL that cannot be reached fails the tests instead of skipping them.
pub fn postgres_required() -> bool {
    ["CI", "REQUIRE_POSTGRES"]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

/// The URL without its password, if it has one, to print it.
pub fn redacted(url: &str) -> String {
    url.split_once("://")
        .and_then(|(scheme, rest)| {
            let (userinfo, host) = rest.split_once('@')?;
            let (user, _password) = userinfo.split_once(':')?;
            Some(format!("{scheme}://{user}:***@{host}"))
        })
        .unwrap_or_else(|| url.to_owned())
}

/// An error and its sources, on one line.
pub fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
