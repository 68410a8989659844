//! The SQLite order store: one file, WAL journal, migrations from `migrations/sqlite`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Attendee, Currency, EmailAddress, Money, OrderId, OrderPlaced, Organization, PaymentReceipt,
    PersonName, TicketId, TicketRef,
};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};

use crate::{OrderStore, Saved, StoreError, StoredOrder};

#[derive(Debug, Clone)]
pub struct SqliteOrderStore {
    pool: SqlitePool,
}

impl SqliteOrderStore {
    /// Opens (creating if needed) the database file and applies the migrations.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(StoreError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl OrderStore for SqliteOrderStore {
    async fn save(&self, order: &OrderPlaced) -> Result<Saved, StoreError> {
        let result = sqlx::query(
            "INSERT INTO orders (order_id, placed_at, ticket_id, ticket_name, amount_value, amount_currency, \
             first_name, last_name, email, organization, newsletter, payment_provider, capture_id, stored_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order.order_id.to_string())
        .bind(order.placed_at.to_rfc3339())
        .bind(order.ticket.id.as_str())
        .bind(&order.ticket.name)
        .bind(order.amount.value())
        .bind(order.amount.currency().code())
        .bind(order.attendee.first_name.as_str())
        .bind(order.attendee.last_name.as_str())
        .bind(order.attendee.email.as_str())
        .bind(order.attendee.organization.as_ref().map(|o| o.as_str()))
        .bind(order.newsletter)
        .bind(&order.payment.provider)
        .bind(&order.payment.capture_id)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(if result.rows_affected() == 1 {
            Saved::Inserted
        } else {
            Saved::AlreadyStored
        })
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError> {
        let rows = sqlx::query("SELECT * FROM orders ORDER BY stored_at, order_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(order_from_row).collect()
    }
}

/// Rebuilds an order from its row, through the domain's parsers.
fn order_from_row(row: &SqliteRow) -> Result<StoredOrder, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(StoreError::Query);
    let corrupt =
        |column: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{column}: {e}"));
    let time = |column: &str| {
        DateTime::parse_from_rfc3339(&text(column)?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| corrupt(column, &e))
    };
    let currency =
        Currency::parse(&text("amount_currency")?).map_err(|e| corrupt("amount_currency", &e))?;
    let organization: Option<String> = row.try_get("organization")?;
    let order = OrderPlaced {
        version: OrderPlaced::VERSION,
        order_id: OrderId::parse(&text("order_id")?).map_err(|e| corrupt("order_id", &e))?,
        placed_at: time("placed_at")?,
        ticket: TicketRef {
            id: TicketId::parse(&text("ticket_id")?).map_err(|e| corrupt("ticket_id", &e))?,
            name: text("ticket_name")?,
        },
        amount: Money::parse(&text("amount_value")?, currency)
            .map_err(|e| corrupt("amount_value", &e))?,
        attendee: Attendee {
            first_name: PersonName::parse(&text("first_name")?)
                .map_err(|e| corrupt("first_name", &e))?,
            last_name: PersonName::parse(&text("last_name")?)
                .map_err(|e| corrupt("last_name", &e))?,
            email: EmailAddress::parse(&text("email")?).map_err(|e| corrupt("email", &e))?,
            organization: organization
                .map(|o| Organization::parse(&o).map_err(|e| corrupt("organization", &e)))
                .transpose()?,
        },
        newsletter: row.try_get("newsletter")?,
        payment: PaymentReceipt {
            provider: text("payment_provider")?,
            capture_id: text("capture_id")?,
        },
    };
    Ok(StoredOrder {
        order,
        stored_at: time("stored_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(id: &str, email: &str) -> OrderPlaced {
        let mut order: serde_json::Value = serde_json::from_str(include_str!(
            "../../../shared/domain/data/order-placed.example.json"
        ))
        .expect("JSON");
        order["orderId"] = json!(id);
        order["attendee"]["email"] = json!(email);
        OrderPlaced::from_value(order).expect("valid order")
    }

    #[tokio::test]
    async fn saves_once_per_order_id_and_reads_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/orders.db", dir.path().display());
        let store = crate::connect(&url).await.expect("connects and migrates");
        let first = order("0b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10", "ada@example.org");
        assert_eq!(store.save(&first).await.expect("saves"), Saved::Inserted);
        assert_eq!(
            store.save(&first).await.expect("saves"),
            Saved::AlreadyStored
        );
        let second = order("1b6e5b2c-9a55-4cde-8b27-3b4a8e3f9c10", "bob@example.org");
        assert_eq!(store.save(&second).await.expect("saves"), Saved::Inserted);
        let stored = store.orders().await.expect("lists");
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].order, first);

        // A second connection to the same file re-applies nothing and sees the rows.
        let again = crate::connect(&url).await.expect("reconnects");
        assert_eq!(again.orders().await.expect("lists").len(), 2);
    }

    #[tokio::test]
    async fn rejects_unknown_schemes() {
        let err = crate::connect("mysql://localhost/x")
            .await
            .err()
            .expect("rejected");
        assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{err}");
    }
}
