//! The SQLite order store: one file, WAL journal, migrations from `migrations/sqlite`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::OrderPlaced;
use group_commit::{BatchedWrite, Pool, Rounds};

use crate::row::{OrderRow, stored_orders};
use crate::{OrderStore, Saved, StoreError, StoredOrder, listing_start};

/// The store's migrations for SQLite (`migrations/sqlite`).
pub(crate) const MIGRATIONS: &[embedded_migrations::MigrationFile] = &[
    (
        1,
        "orders",
        include_str!("../migrations/sqlite/0001_orders.sql"),
    ),
    (
        2,
        "orders stored at",
        include_str!("../migrations/sqlite/0002_orders_stored_at.sql"),
    ),
];

#[derive(Debug, Clone)]
pub struct SqliteOrderStore {
    connection: group_commit::sqlite::Connection,
    /// Saves, in the database's group commit.
    inserts: BatchedWrite,
}

impl SqliteOrderStore {
    /// Opens (creating if needed) the database file as every SQLite file of this project is
    /// opened (`group_commit::sqlite`) and applies the migrations.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let connection = group_commit::sqlite::open(database_url)
            .await
            .map_err(StoreError::Connect)?;
        let rounds = Rounds::start(Pool::Sqlite(connection.clone()));
        Self::from_pool(connection, &rounds).await
    }

    /// The store on a connection opened elsewhere, its saves in that database's group commit
    /// `rounds` (the emulator shares one connection and one group commit among all its SQLite
    /// tables), with the migrations applied.
    pub async fn from_pool(
        connection: group_commit::sqlite::Connection,
        rounds: &Rounds,
    ) -> Result<Self, StoreError> {
        connection
            .migrate(&embedded_migrations::migrator(
                MIGRATIONS,
                "_sqlx_migrations",
            ))
            .await
            .map_err(StoreError::Migrate)?;
        // Times are RFC 3339 text; the columns are in `OrderRow::into_insert`'s order.
        let inserts = BatchedWrite::new(
            rounds,
            "INSERT INTO orders (order_id, placed_at, ticket_id, ticket_name, amount_value, amount_currency, \
             first_name, last_name, email, organization, newsletter, payment_provider, capture_id, stored_at) VALUES",
            "ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
        );
        Ok(Self {
            connection,
            inserts,
        })
    }
}

#[async_trait]
impl OrderStore for SqliteOrderStore {
    async fn save(&self, order: &OrderPlaced) -> Result<Saved, StoreError> {
        let (order_id, row) = OrderRow::new(order, Utc::now()).into_insert();
        Ok(if self.inserts.write(order_id, row).await? {
            Saved::Inserted
        } else {
            Saved::AlreadyStored
        })
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError> {
        let rows =
            sqlx::query_as::<_, OrderRow>("SELECT * FROM orders ORDER BY stored_at, order_id")
                .fetch_all(&self.connection)
                .await;
        stored_orders(rows)
    }

    async fn recent(
        &self,
        limit: i64,
        after: Option<(DateTime<Utc>, String)>,
    ) -> Result<Vec<StoredOrder>, StoreError> {
        let (stored_at, order_id) = listing_start(after);
        let rows = sqlx::query_as::<_, OrderRow>(
            "SELECT * FROM orders WHERE stored_at < ?1 OR (stored_at = ?1 AND order_id < ?2) \
             ORDER BY stored_at DESC, order_id DESC LIMIT ?3",
        )
        .bind(stored_at)
        .bind(order_id)
        .bind(limit)
        .fetch_all(&self.connection)
        .await;
        stored_orders(rows)
    }

    async fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
            .fetch_one(&self.connection)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_embedded() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        embedded_migrations::assert_every_file_listed(super::MIGRATIONS, &folder);
    }
}
