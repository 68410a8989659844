//! What every durable test binary shares: running a scenario on both databases, and moving the
//! clock.
//!
//! `on_both_databases!` turns each scenario, an async fn taking the open [`Db`] and the URL it was
//! opened with (to open a second handle, as a restarted or a second process would), into two
//! tests: `sqlite::<scenario>` on a file in a temporary directory, and `postgres::<scenario>` on a
//! fresh database of the server at `TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`), created with [`order_store::create_database`] and dropped
//! afterwards, also when the test fails. When that server cannot be reached the PostgreSQL tests
//! print `SKIPPED: …` and pass; with `CI` or `REQUIRE_POSTGRES` set they fail instead.
//!
//! Time: a `Db` reads tokio's clock. A clock paused for the whole test does not work here: while a
//! statement is in flight the paused runtime has nothing to run, so it auto-advances to the next
//! timer, which is sqlx's own acquire timeout (every statement then fails with `PoolTimedOut`, on
//! SQLite as on PostgreSQL) or its pool maintenance. So the clock runs in real time and [`skip`]
//! moves it ahead at once, with no statement awaited while it is paused.

use std::error::Error;
use std::future::Future;
use std::io::Write;
use std::time::Duration;

use durable::Db;
use order_store::StoreError;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// `on_both_databases!(a, b)` makes the tests `sqlite::a`, `postgres::a`, `sqlite::b`, … of the
/// scenarios `scenarios::a`, `scenarios::b` of the test file.
macro_rules! on_both_databases {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    crate::support::on_sqlite(crate::scenarios::$scenario).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    crate::support::on_postgres(crate::scenarios::$scenario).await;
                }
            )+
        }
    };
}
pub(crate) use on_both_databases;

/// Moves tokio's clock, and with it the clock of every open [`Db`], `by` ahead at once; it then
/// runs on in real time. (A `Db` connected later does not see the skip: its clock starts at the
/// wall clock. So connect every handle of a scenario before its first skip.)
pub async fn skip(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

/// A second handle on the same database: another pool, as another process (or the same one after
/// a restart) would have.
pub async fn connect(url: &str) -> Db {
    Db::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connects again: {}", chain(&e)))
}

/// Runs `scenario` on a fresh SQLite file.
pub async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Db, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let db = Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connects and migrates: {}", chain(&e)));
    scenario(db.clone(), url).await;
    db.close().await;
}

/// Runs `scenario` on a fresh PostgreSQL database, dropped afterwards.
pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Db, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let server = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned());
    let name = format!("durable_test_{}", uuid::Uuid::new_v4().simple());
    let url = match order_store::create_database(&server, &name).await {
        Ok(url) => url,
        Err(e @ StoreError::Connect(_)) if !postgres_required() => {
            // Straight to stderr: the harness shows what `eprintln!` prints only for failures.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL not reachable at {} ({}); set REQUIRE_POSTGRES=1 to make this a failure",
                redacted(&server),
                chain(&e)
            );
            return;
        }
        Err(e) => panic!(
            "could not create a test database on the PostgreSQL server at {} \
             (start it, or point TEST_POSTGRES_URL at one): {}",
            redacted(&server),
            chain(&e)
        ),
    };
    // In its own task, a failing assertion comes back here as an error instead of unwinding past
    // the cleanup.
    let outcome = tokio::spawn(async move {
        let db = Db::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connects and migrates: {}", chain(&e)));
        scenario(db.clone(), url).await;
        db.close().await;
    })
    .await;
    let dropped = order_store::drop_database(&server, &name).await;
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

/// Whether a PostgreSQL that cannot be reached fails the tests instead of skipping them.
fn postgres_required() -> bool {
    ["CI", "REQUIRE_POSTGRES"]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

/// The URL without its password, if it has one, to print it.
fn redacted(url: &str) -> String {
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
