//! The order store: paid registrations in SQL, through sqlx.
//!
//! `save` is an upsert by order id (insert, or nothing if the order is already there), so the
//! at-least-once delivery of the workflow's save-order task stores exactly one row per order.
//! Migrations are compiled in and applied when the store connects.
//!
//! SQLite is the embedded default (`sqlite://path/to/file.db`); the store is a trait so that the
//! PostgreSQL implementation can stand beside it, chosen by `DATABASE_URL`'s scheme in [`connect`].
//!
//! Layout: this file holds the port and the row type; `sqlite.rs` the SQLite implementation.

mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::OrderPlaced;
use serde::Serialize;

pub use sqlite::SqliteOrderStore;

/// What `save` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Saved {
    Inserted,
    AlreadyStored,
}

/// An order as stored, with when it was first stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredOrder {
    #[serde(flatten)]
    pub order: OrderPlaced,
    pub stored_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported DATABASE_URL scheme in {0:?}: expected sqlite://…")]
    UnsupportedUrl(String),
    #[error("could not open the database")]
    Connect(#[source] sqlx::Error),
    #[error("could not apply the database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
    #[error("a stored order does not parse: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Stores the order unless a row with its id exists.
    async fn save(&self, order: &OrderPlaced) -> Result<Saved, StoreError>;
    /// Every stored order, oldest first.
    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError>;
}

/// Opens the store `database_url` names and applies the migrations.
pub async fn connect(database_url: &str) -> Result<Arc<dyn OrderStore>, StoreError> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteOrderStore::connect(database_url).await?))
    } else {
        let scheme = database_url.split(':').next().unwrap_or_default();
        Err(StoreError::UnsupportedUrl(format!("{scheme}:…")))
    }
}
