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

use std::future::Future;
use std::time::Duration;

use durable::Db;
pub use order_store::testing::chain;

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

/// Runs `scenario` on a fresh PostgreSQL database, dropped afterwards
/// ([`order_store::testing::with_fresh_database`]).
pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Db, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    order_store::testing::with_fresh_database("durable_test", |url| async move {
        let db = Db::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connects and migrates: {}", chain(&e)));
        scenario(db.clone(), url).await;
        db.close().await;
    })
    .await;
}
