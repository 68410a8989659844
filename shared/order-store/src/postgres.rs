//! The PostgreSQL order store: a connection pool, migrations from `migrations/postgres`.
//!
//! The columns are those of the SQLite store with PostgreSQL's types: `UUID` for the order id,
//! `TIMESTAMPTZ` for times, `NUMERIC` for the amount (PostgreSQL keeps a numeric's scale, so
//! `250.00` and `25000` read back as written). The SQL casts the id and the amount to and from
//! text, the form the shared [`OrderRow`] carries, so the crate needs no UUID or decimal types.
//!
//! Also here: [`create_database`] and [`drop_database`], which create and drop a database on a
//! server, for tests (a fresh database each), the emulator and operators.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::OrderPlaced;
use group_commit::{BatchedWrite, Pool, Rounds};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::row::{OrderRow, stored_orders};
use crate::{OrderStore, Saved, StoreError, StoredOrder, listing_start};

/// The store's migrations for PostgreSQL (`migrations/postgres`).
pub(crate) const MIGRATIONS: &[embedded_migrations::MigrationFile] = &[
    (
        1,
        "orders",
        include_str!("../migrations/postgres/0001_orders.sql"),
    ),
    (
        2,
        "orders stored at",
        include_str!("../migrations/postgres/0002_orders_stored_at.sql"),
    ),
];

/// How long connecting (or waiting for a pooled connection) may take before the store reports the
/// database unavailable, so that a database that is down fails a request fast instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct PostgresOrderStore {
    pool: PgPool,
    /// Saves, in the database's group commit.
    inserts: BatchedWrite,
}

impl PostgresOrderStore {
    /// Connects to the database `database_url` names (`postgres://user@host:port/database`) and
    /// applies the migrations. The database must exist: see [`create_database`].
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(database_url).map_err(StoreError::Connect)?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        let rounds = Rounds::start(Pool::Postgres(pool.clone()));
        Self::from_pool(pool, &rounds).await
    }

    /// The store on a pool opened elsewhere (the emulator's), its saves in that database's group
    /// commit `rounds`, with the migrations applied.
    pub async fn from_pool(pool: PgPool, rounds: &Rounds) -> Result<Self, StoreError> {
        // The migrator holds an advisory lock, so instances starting together migrate once.
        embedded_migrations::migrator(MIGRATIONS, "_sqlx_migrations")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        // The columns are in `OrderRow::into_insert`'s order.
        let inserts = BatchedWrite::with_row(
            rounds,
            "INSERT INTO orders (order_id, placed_at, ticket_id, ticket_name, amount_value, amount_currency, \
             first_name, last_name, email, organization, newsletter, payment_provider, capture_id, stored_at) VALUES",
            "($1::uuid, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            "ON CONFLICT (order_id) DO NOTHING RETURNING order_id::text",
        );
        Ok(Self { pool, inserts })
    }
}

/// The columns of a row as [`OrderRow`] reads them.
const SELECT_ORDERS: &str = "SELECT order_id::text AS order_id, placed_at, ticket_id, ticket_name, \
     amount_value::text AS amount_value, amount_currency, first_name, last_name, email, \
     organization, newsletter, payment_provider, capture_id, stored_at FROM orders";

#[async_trait]
impl OrderStore for PostgresOrderStore {
    async fn save(&self, order: &OrderPlaced) -> Result<Saved, StoreError> {
        let (order_id, row) = OrderRow::new(order, Utc::now()).into_insert();
        Ok(if self.inserts.write(order_id, row).await? {
            Saved::Inserted
        } else {
            Saved::AlreadyStored
        })
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError> {
        let rows = sqlx::query_as::<_, OrderRow>(AssertSqlSafe(format!(
            "{SELECT_ORDERS} ORDER BY stored_at, order_id"
        )))
        .fetch_all(&self.pool)
        .await;
        stored_orders(rows)
    }

    async fn recent(
        &self,
        limit: i64,
        after: Option<(DateTime<Utc>, String)>,
    ) -> Result<Vec<StoredOrder>, StoreError> {
        let (stored_at, order_id) = listing_start(after);
        let rows = sqlx::query_as::<_, OrderRow>(AssertSqlSafe(format!(
            "{SELECT_ORDERS} WHERE stored_at < $1 OR (stored_at = $1 AND order_id::text < $2) \
             ORDER BY stored_at DESC, order_id DESC LIMIT $3"
        )))
        .bind(stored_at)
        .bind(order_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await;
        stored_orders(rows)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Creates the database `name` on the PostgreSQL server at `server_url` and returns its URL.
///
/// `server_url` is a `postgres://` (or `postgresql://`) URL; a database in its path is ignored and
/// its query is kept: `create_database("postgres://postgres@127.0.0.1:5432", "orders_test")`
/// returns `postgres://postgres@127.0.0.1:5432/orders_test`. The statement runs in the server's
/// `postgres` maintenance database. `name` must be a plain identifier (lower-case ASCII letters,
/// digits and `_`, not starting with a digit, at most 63 bytes), so it needs no quoting in SQL or
/// in the URL; any other name is [`StoreError::InvalidDatabaseName`]. A server that cannot be
/// reached within a few seconds is [`StoreError::Connect`]; an existing database is
/// [`StoreError::Query`].
pub async fn create_database(server_url: &str, name: &str) -> Result<String, StoreError> {
    let database_url = database_url(server_url, name)?;
    admin(server_url, &format!("CREATE DATABASE \"{name}\"")).await?;
    Ok(database_url)
}

/// Drops the database `name` on the PostgreSQL server at `server_url`, if it exists, closing
/// whatever connections it still has (`DROP DATABASE … WITH (FORCE)`, PostgreSQL 13 or later).
///
/// `server_url` and `name` are read as by [`create_database`].
pub async fn drop_database(server_url: &str, name: &str) -> Result<(), StoreError> {
    database_url(server_url, name)?;
    admin(
        server_url,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await
}

/// Runs one statement in the maintenance database of the server at `server_url`.
async fn admin(server_url: &str, statement: &str) -> Result<(), StoreError> {
    let options = PgConnectOptions::from_str(server_url)
        .map_err(StoreError::Connect)?
        .database("postgres");
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(StoreError::Connect)?;
    let result = sqlx::query(AssertSqlSafe(statement.to_owned()))
        .execute(&pool)
        .await;
    pool.close().await;
    result?;
    Ok(())
}

/// The URL of database `name` on the server at `server_url`, once `name` is known to be safe.
fn database_url(server_url: &str, name: &str) -> Result<String, StoreError> {
    let plain_identifier = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !plain_identifier {
        return Err(StoreError::InvalidDatabaseName(name.to_owned()));
    }
    let Some((scheme, rest)) = server_url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "postgres" | "postgresql"))
    else {
        return Err(crate::unsupported_url(server_url));
    };
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let authority = location.split('/').next().unwrap_or_default();
    Ok(match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_embedded() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        embedded_migrations::assert_every_file_listed(super::MIGRATIONS, &folder);
    }

    use super::*;

    #[test]
    fn builds_the_database_url_from_the_server_url() {
        let url = |server: &str| database_url(server, "orders_1").expect("valid");
        assert_eq!(
            url("postgres://postgres@127.0.0.1:5432"),
            "postgres://postgres@127.0.0.1:5432/orders_1"
        );
        assert_eq!(url("postgresql://u:p@db/"), "postgresql://u:p@db/orders_1");
        assert_eq!(
            url("postgres://u@db:5433/postgres?sslmode=disable"),
            "postgres://u@db:5433/orders_1?sslmode=disable"
        );
    }

    #[test]
    fn rejects_names_that_would_need_quoting_and_other_schemes() {
        for name in ["", "Orders", "1orders", "a-b", "a\"; DROP", &"a".repeat(64)] {
            assert!(
                matches!(
                    database_url("postgres://db", name),
                    Err(StoreError::InvalidDatabaseName(_))
                ),
                "{name:?}"
            );
        }
        assert!(matches!(
            database_url("mysql://db", "orders"),
            Err(StoreError::UnsupportedUrl(_))
        ));
    }
}
