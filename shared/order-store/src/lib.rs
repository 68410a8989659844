//! The order store: paid registrations in SQL, through sqlx.
//!
//! `save` is an upsert by order id (insert, or nothing if the order is already there), so the
//! at-least-once delivery of the workflow's save-order task stores exactly one row per order.
//! Migrations are compiled in and applied when the store connects.
//!
//! Two stores implement the [`OrderStore`] port, chosen by `DATABASE_URL`'s scheme in [`connect`]:
//! SQLite, the embedded default for the emulator and tests (`sqlite://path/to/file.db`), and
//! PostgreSQL, for a deployment whose functions share one database server
//! (`postgres://user@host:5432/database`). Both have the same columns and behave alike: the
//! crate's tests run one set of scenarios against each.
//!
//! [`create_database`] and [`drop_database`] are PostgreSQL administration helpers. They are public,
//! not test-only, because every crate whose tests use PostgreSQL (this one, the end-to-end tests)
//! needs a fresh database per test and must drop it afterwards, and operators and the emulator
//! can use them to prepare a server.
//!
//! Layout: this file holds the port, the stored order and [`connect`]; `row.rs` the one mapping
//! between an order and its row, shared by both stores; `sqlite.rs` and `postgres.rs` the stores
//! (and, in `postgres.rs`, the administration helpers); `testing.rs` a fresh PostgreSQL database
//! per test, for the tests of every crate that uses one. Migrations live in `migrations/sqlite` and
//! `migrations/postgres`, one directory per database. Each database is a cargo feature (`sqlite`,
//! `postgres`, both by default), so that a binary links only the ones it opens.

#[cfg(feature = "postgres")]
mod postgres;
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "postgres")]
pub mod testing;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("order-store needs a database: enable its `sqlite` or `postgres` feature");

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::OrderPlaced;
use serde::Serialize;

#[cfg(feature = "postgres")]
pub use postgres::{PostgresOrderStore, create_database, drop_database};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteOrderStore;

/// What `save` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Saved {
    Inserted,
    AlreadyStored,
}

/// An order as stored, with when it was first stored.
///
/// Times (`placed_at`, `stored_at`) are kept to the microsecond, PostgreSQL's resolution, in every
/// store; everything else reads back exactly as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredOrder {
    #[serde(flatten)]
    pub order: OrderPlaced,
    pub stored_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported DATABASE_URL scheme in {0:?}: expected sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error(
        "{0:?} is not a plain database name: lower-case ASCII letters, digits and _, \
         not starting with a digit, at most 63 bytes"
    )]
    InvalidDatabaseName(String),
    #[error("could not open the database")]
    Connect(#[source] sqlx::Error),
    #[error("could not apply the database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
    /// A save failed (saves are written in group commits: see the `group-commit` crate).
    #[error("database write failed")]
    Write(#[from] group_commit::BatchError),
    #[error("a stored order does not parse: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Stores the order unless a row with its id exists.
    async fn save(&self, order: &OrderPlaced) -> Result<Saved, StoreError>;
    /// Every stored order, oldest first.
    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError>;
    /// Up to `limit` orders, newest first (by `stored_at`, then order id), from those that sort
    /// after `after` (the last order of the previous page) when it is given.
    async fn recent(
        &self,
        limit: i64,
        after: Option<(DateTime<Utc>, String)>,
    ) -> Result<Vec<StoredOrder>, StoreError>;
    /// How many orders are stored.
    async fn count(&self) -> Result<u64, StoreError>;
}

/// The start of the newest-first listing: after a time no order is stored at (the last second
/// of year 9999, which SQLite's text times still order correctly).
fn listing_start(after: Option<(DateTime<Utc>, String)>) -> (DateTime<Utc>, String) {
    after.unwrap_or_else(|| {
        let end_of_9999 = DateTime::from_timestamp(253_402_300_799, 0).unwrap_or_default();
        (end_of_9999, String::new())
    })
}

/// Opens the store `database_url` names and applies the migrations.
///
/// - `sqlite:…` (`sqlite://path/to/file.db`, `sqlite::memory:`): SQLite, creating the file if
///   needed;
/// - `postgres://…` or `postgresql://…`: PostgreSQL; the database must exist (see
///   [`create_database`]), and a server that does not answer within a few seconds is
///   [`StoreError::Connect`].
///
/// Any other scheme is [`StoreError::UnsupportedUrl`].
/// A database left out of this build (its cargo feature) is [`StoreError::UnsupportedUrl`] too.
pub async fn connect(database_url: &str) -> Result<Arc<dyn OrderStore>, StoreError> {
    #[cfg(feature = "sqlite")]
    if database_url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteOrderStore::connect(database_url).await?));
    }
    #[cfg(feature = "postgres")]
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresOrderStore::connect(database_url).await?));
    }
    Err(unsupported_url(database_url))
}

/// The store on a database opened elsewhere (the emulator's, or the Azure app's own), its saves
/// in that database's group commit `rounds`, with the migrations applied: one connection and one
/// group commit for every table of the process.
pub async fn on_pool(
    pool: &group_commit::Pool,
    rounds: &group_commit::Rounds,
) -> Result<Arc<dyn OrderStore>, StoreError> {
    Ok(match pool {
        #[cfg(feature = "sqlite")]
        group_commit::Pool::Sqlite(pool) => {
            Arc::new(SqliteOrderStore::from_pool(pool.clone(), rounds).await?)
        }
        #[cfg(feature = "postgres")]
        group_commit::Pool::Postgres(pool) => {
            Arc::new(PostgresOrderStore::from_pool(pool.clone(), rounds).await?)
        }
    })
}

/// The error for a URL of another scheme; it names only the scheme, never credentials.
fn unsupported_url(url: &str) -> StoreError {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .filter(|scheme| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
    StoreError::UnsupportedUrl(match scheme {
        Some(scheme) => format!("{scheme}:…"),
        None => "…".to_owned(),
    })
}
