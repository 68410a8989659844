//! What the local providers keep (the PayPal ledger, the SendGrid outbox, the Mailchimp audience),
//! in the emulator's database, so that it survives a restart as the real services' records do: a
//! PayPal request replayed after a crash answers the same order and charges nothing, and the
//! inspector still lists what was sent before.
//!
//! Each listing table holds `(id, at, record)`, with `record` the JSON the inspector shows, so one
//! paged query serves them all. The tables are in `emulator/migrations`.

use durable::{Db, DbError, Page, PageRequest, on_pool};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The listings, by table.
#[derive(Debug, Clone, Copy)]
pub enum Listing {
    Captures,
    Emails,
    Members,
}

impl Listing {
    fn table(self) -> &'static str {
        match self {
            Self::Captures => "paypal_captures",
            Self::Emails => "sendgrid_emails",
            Self::Members => "mailchimp_members",
        }
    }
}

/// A PayPal request that can be replayed by its `PayPal-Request-Id`.
#[derive(Debug, Clone, Copy)]
pub enum PayPalOperation {
    Create,
    Capture,
}

impl PayPalOperation {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Capture => "capture",
        }
    }
}

/// The providers' records in one database.
#[derive(Debug, Clone)]
pub struct Records {
    db: Db,
}

fn corrupt(what: &str, e: serde_json::Error) -> DbError {
    DbError::Corrupt(format!("{what}: {e}"))
}

fn to_json(value: &impl Serialize) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| corrupt("record", e))
}

impl Records {
    /// The records in `db`, with the emulator's migrations applied.
    pub async fn open(db: Db) -> Result<Self, DbError> {
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.dangerous_set_table_name("_emulator_migrations");
        on_pool!(db, pool => migrator.run(pool).await)
            .map_err(|e| DbError::Migrate("emulator", e))?;
        Ok(Self { db })
    }

    pub fn now_ms(&self) -> i64 {
        self.db.now_ms()
    }

    /// A page of a listing, newest first.
    pub async fn page<T: DeserializeOwned>(
        &self,
        listing: Listing,
        request: &PageRequest,
    ) -> Result<Page<T>, DbError> {
        let (at, id) = request.after();
        let sql = format!(
            "SELECT id, at, record FROM {} WHERE at < $1 OR (at = $1 AND id < $2) \
             ORDER BY at DESC, id DESC LIMIT $3",
            listing.table()
        );
        let rows: Vec<(String, i64, String)> = on_pool!(self.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(at)
            .bind(id)
            .bind(request.limit() + 1)
            .fetch_all(pool)
            .await)?;
        let page = Page::from_rows(rows, request, |(id, at, _)| (*at, id.clone()));
        let items = page
            .items
            .iter()
            .map(|(_, _, record)| serde_json::from_str(record).map_err(|e| corrupt("record", e)))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// How many records a listing holds; with `status`, only the captures of that status.
    pub async fn count(&self, listing: Listing, status: Option<&str>) -> Result<u64, DbError> {
        let n: i64 = match status {
            None => {
                let sql = format!("SELECT COUNT(*) FROM {}", listing.table());
                on_pool!(self.db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)?
            }
            Some(status) => on_pool!(self.db, pool => sqlx::query_scalar(
                "SELECT COUNT(*) FROM paypal_captures WHERE status = $1",
            )
            .bind(status)
            .fetch_one(pool)
            .await)?,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The order an earlier request with this `PayPal-Request-Id` created or captured.
    pub async fn paypal_replay(
        &self,
        operation: PayPalOperation,
        request_id: &str,
    ) -> Result<Option<Value>, DbError> {
        let body: Option<String> = on_pool!(self.db, pool => sqlx::query_scalar(
            "SELECT o.body FROM paypal_request_ids r JOIN paypal_orders o ON o.id = r.order_id \
             WHERE r.operation = $1 AND r.request_id = $2",
        )
        .bind(operation.name())
        .bind(request_id)
        .fetch_optional(pool)
        .await)?;
        body.map(|body| serde_json::from_str(&body).map_err(|e| corrupt("order", e)))
            .transpose()
    }

    pub async fn paypal_order(&self, id: &str) -> Result<Option<Value>, DbError> {
        let body: Option<String> = on_pool!(self.db, pool => sqlx::query_scalar(
            "SELECT body FROM paypal_orders WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        body.map(|body| serde_json::from_str(&body).map_err(|e| corrupt("order", e)))
            .transpose()
    }

    /// Stores an order as it now stands, the request id that made it so, and its new captures
    /// (`(capture id, status, record)`), in one transaction.
    pub async fn paypal_store(
        &self,
        order: &Value,
        operation: PayPalOperation,
        request_id: Option<&str>,
        captures: &[(String, &'static str, String)],
    ) -> Result<(), DbError> {
        let id = order["id"].as_str().unwrap_or_default();
        let body = to_json(order)?;
        let at = self.db.now_ms();
        on_pool!(self.db, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO paypal_orders (id, body) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            )
            .bind(id)
            .bind(&body)
            .execute(&mut *tx)
            .await?;
            if let Some(request_id) = request_id {
                sqlx::query(
                    "INSERT INTO paypal_request_ids (operation, request_id, order_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (operation, request_id) DO NOTHING",
                )
                .bind(operation.name())
                .bind(request_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            for (capture_id, status, record) in captures {
                sqlx::query("INSERT INTO paypal_captures (id, at, status, record) VALUES ($1, $2, $3, $4)")
                    .bind(capture_id)
                    .bind(at)
                    .bind(*status)
                    .bind(record)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Adds an email to the outbox.
    pub async fn add_email(&self, email: &impl Serialize) -> Result<(), DbError> {
        on_pool!(self.db, pool => sqlx::query("INSERT INTO sendgrid_emails (id, at, record) VALUES ($1, $2, $3)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(self.db.now_ms())
            .bind(to_json(email)?)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    /// A member of a list, as last stored.
    pub async fn member(&self, list_id: &str, address: &str) -> Result<Option<Value>, DbError> {
        let member: Option<String> = on_pool!(self.db, pool => sqlx::query_scalar(
            "SELECT member FROM mailchimp_members WHERE id = $1",
        )
        .bind(member_id(list_id, address))
        .fetch_optional(pool)
        .await)?;
        member
            .map(|member| serde_json::from_str(&member).map_err(|e| corrupt("member", e)))
            .transpose()
    }

    /// Adds or replaces a member: `member` is what the API answers, `record` what the inspector
    /// shows.
    pub async fn put_member(
        &self,
        list_id: &str,
        address: &str,
        member: &Value,
        record: &impl Serialize,
    ) -> Result<(), DbError> {
        on_pool!(self.db, pool => sqlx::query(
            "INSERT INTO mailchimp_members (id, at, record, member) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET at = excluded.at, record = excluded.record, member = excluded.member",
        )
        .bind(member_id(list_id, address))
        .bind(self.db.now_ms())
        .bind(to_json(record)?)
        .bind(to_json(member)?)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }
}

fn member_id(list_id: &str, address: &str) -> String {
    format!("{list_id}/{}", address.to_lowercase())
}

#[cfg(test)]
pub(crate) mod testing {
    /// Records in a fresh SQLite file that lives as long as the test process.
    pub(crate) async fn records() -> super::Records {
        let dir = tempfile::tempdir().expect("a temporary directory").keep();
        let url = format!("sqlite://{}/records.db", dir.display());
        let db = durable::Db::connect(&url).await.expect("a database");
        super::Records::open(db).await.expect("migrations apply")
    }
}
