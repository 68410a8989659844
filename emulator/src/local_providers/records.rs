//! What the local providers keep (the PayPal ledger, the SendGrid outbox, the Mailchimp audience),
//! in the emulator's database, so that it survives a restart as the real services' records do: a
//! PayPal request replayed after a crash answers the same order and charges nothing, and the
//! inspector still lists what was sent before.
//!
//! Each listing has `(id, at, record)` columns, with `record` the JSON the inspector shows, so one
//! paged query serves them all. The tables are in `emulator/migrations`. The PayPal ledger is one
//! row per order, so that creating a charged order is one statement, and a concurrent replay of
//! one `PayPal-Request-Id` loses on the unique column instead of charging twice.

use std::sync::atomic::{AtomicU64, Ordering};

use durable::{Db, DbError, Page, PageRequest, on_pool};
use group_commit::{Arg, BatchedWrite};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The emulator's migrations (`migrations/`).
const MIGRATIONS: &[embedded_migrations::MigrationFile] = &[(
    20261130000001,
    "provider records",
    include_str!("../../migrations/20261130000001_provider_records.sql"),
)];

/// The listings, by table.
#[derive(Debug, Clone, Copy)]
pub enum Listing {
    Captures,
    Emails,
    Members,
}

impl Listing {
    /// The table, the column holding the record, and which rows are listed.
    fn source(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Captures => ("paypal_orders", "captures", "capture_status IS NOT NULL"),
            Self::Emails => ("sendgrid_emails", "record", "TRUE"),
            Self::Members => ("mailchimp_members", "record", "TRUE"),
        }
    }
}

/// The local PayPal's captures by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CaptureCounts {
    pub completed: u64,
    pub declined: u64,
}

/// How many records the local providers hold, as `/_emulator/api/stats` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecordCounts {
    pub emails: u64,
    pub members: u64,
    pub payments: CaptureCounts,
}

/// What storing a PayPal order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Stored,
    /// Another request with the same request id (or a capture of the same order) came first.
    LostRace,
}

/// A PayPal request that can be replayed by its `PayPal-Request-Id`.
#[derive(Debug, Clone, Copy)]
pub enum PayPalOperation {
    Create,
    Capture,
}

impl PayPalOperation {
    fn column(self) -> &'static str {
        match self {
            Self::Create => "create_request_id",
            Self::Capture => "capture_request_id",
        }
    }
}

/// The providers' records in one database.
#[derive(Debug, Clone)]
pub struct Records {
    db: Db,
    /// The inserts of the busy path, in batches (group commit).
    emails: BatchedWrite,
    orders: BatchedWrite,
    new_members: BatchedWrite,
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
        let migrator = embedded_migrations::migrator(MIGRATIONS, "_emulator_migrations");
        db.pool()
            .migrate(&migrator)
            .await
            .map_err(|e| DbError::Migrate("emulator", e))?;
        let batched = |insert, after| BatchedWrite::new(db.rounds(), insert, after);
        Ok(Self {
            emails: batched(
                "INSERT INTO sendgrid_emails (id, at, record) VALUES",
                "RETURNING id",
            ),
            orders: batched(
                "INSERT INTO paypal_orders (id, body, create_request_id, at, capture_status, captures) VALUES",
                "ON CONFLICT DO NOTHING RETURNING id",
            ),
            new_members: batched(
                "INSERT INTO mailchimp_members (id, at, record, member) VALUES",
                "ON CONFLICT (id) DO NOTHING RETURNING id",
            ),
            db,
        })
    }

    /// A page of a listing, newest first. The captures of one order are listed together.
    pub async fn page<T: DeserializeOwned>(
        &self,
        listing: Listing,
        request: &PageRequest,
    ) -> Result<Page<T>, DbError> {
        let (at, id) = request.after();
        let (table, record, filter) = listing.source();
        let sql = format!(
            "SELECT id, at, {record} FROM {table} WHERE {filter} AND (at < $1 OR (at = $1 AND id < $2)) \
             ORDER BY at DESC, id DESC LIMIT $3"
        );
        let rows: Vec<(String, i64, String)> = on_pool!(self.db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(at)
            .bind(id)
            .bind(request.limit() + 1)
            .fetch_all(pool)
            .await)?;
        let page = Page::from_rows(rows, request, |(id, at, _)| (*at, id.clone()));
        let mut items = Vec::new();
        for (id, _, record) in &page.items {
            match serde_json::from_str(record).map_err(|e| corrupt("record", e))? {
                Value::Array(records) if matches!(listing, Listing::Captures) => {
                    for record in records {
                        items.push(
                            serde_json::from_value(record).map_err(|e| corrupt("record", e))?,
                        );
                    }
                }
                Value::Object(mut record) => {
                    // An email is named by its id: its HTML part is served on its own (see
                    // `email`), for the inspector to show in a sandboxed frame.
                    if matches!(listing, Listing::Emails) {
                        record.insert("id".into(), Value::String(id.clone()));
                    }
                    items.push(
                        serde_json::from_value(Value::Object(record))
                            .map_err(|e| corrupt("record", e))?,
                    );
                }
                record => {
                    items.push(serde_json::from_value(record).map_err(|e| corrupt("record", e))?)
                }
            }
        }
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// How many records the local providers hold, read from a few pages rather than from every
    /// record (SQLite counts a whole table from its page headers, but reads every row a `WHERE`
    /// keeps): the completed captures, nearly all of the PayPal orders in a long run, are counted
    /// as every order less the uncaptured ones and the other statuses, short ranges of an index.
    pub async fn counts(&self) -> Result<RecordCounts, DbError> {
        let (emails, members, orders, uncaptured, not_completed, declined): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = on_pool!(self.db, pool => sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM sendgrid_emails), \
                        (SELECT COUNT(*) FROM mailchimp_members), \
                        (SELECT COUNT(*) FROM paypal_orders), \
                        (SELECT COUNT(*) FROM paypal_orders WHERE capture_status IS NULL), \
                        (SELECT COUNT(*) FROM paypal_orders \
                            WHERE capture_status < 'COMPLETED' OR capture_status > 'COMPLETED'), \
                        (SELECT COUNT(*) FROM paypal_orders WHERE capture_status = 'DECLINED')",
            )
            .fetch_one(pool)
            .await)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(RecordCounts {
            emails: count(emails),
            members: count(members),
            payments: CaptureCounts {
                completed: count(orders - uncaptured - not_completed),
                declined: count(declined),
            },
        })
    }

    /// The order an earlier request with this `PayPal-Request-Id` created or captured.
    pub async fn paypal_replay(
        &self,
        operation: PayPalOperation,
        request_id: &str,
    ) -> Result<Option<Value>, DbError> {
        let sql = format!(
            "SELECT body FROM paypal_orders WHERE {} = $1",
            operation.column()
        );
        let body: Option<String> = on_pool!(self.db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(request_id)
            .fetch_optional(pool)
            .await)?;
        body.map(|body| serde_json::from_str(&body).map_err(|e| corrupt("order", e)))
            .transpose()
    }

    /// One email of the outbox, by the id its listing gives.
    pub async fn email(&self, id: &str) -> Result<Option<Value>, DbError> {
        self.document(
            "SELECT record FROM sendgrid_emails WHERE id = $1",
            id,
            "email",
        )
        .await
    }

    pub async fn paypal_order(&self, id: &str) -> Result<Option<Value>, DbError> {
        self.document("SELECT body FROM paypal_orders WHERE id = $1", id, "order")
            .await
    }

    /// The JSON document that `sql` selects for `id`, if there is one; `what` names it in the
    /// error when it does not parse.
    async fn document(
        &self,
        sql: &'static str,
        id: &str,
        what: &str,
    ) -> Result<Option<Value>, DbError> {
        let text: Option<String> = on_pool!(self.db, pool => sqlx::query_scalar(sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        text.map(|text| serde_json::from_str(&text).map_err(|e| corrupt(what, e)))
            .transpose()
    }

    /// Stores a new order, created by the request `request_id`, with its captures (`status` and
    /// the records) when it was charged at once.
    pub async fn paypal_create(
        &self,
        order: &Value,
        request_id: Option<&str>,
        captures: Option<(&str, &impl Serialize)>,
    ) -> Result<Stored, DbError> {
        let (status, captures) = match captures {
            Some((status, records)) => (Some(status), Some(to_json(records)?)),
            None => (None, None),
        };
        let id = order["id"].as_str().unwrap_or_default().to_owned();
        let row = vec![
            Arg::Text(Some(id.clone())),
            Arg::Text(Some(to_json(order)?)),
            Arg::Text(request_id.map(str::to_owned)),
            Arg::Int(Some(self.db.now_ms())),
            Arg::Text(status.map(str::to_owned)),
            Arg::Text(captures),
        ];
        let inserted = self.orders.write(id, row).await?;
        Ok(if inserted {
            Stored::Stored
        } else {
            Stored::LostRace
        })
    }

    /// Records the capture of an order not captured before, by the request `request_id`.
    pub async fn paypal_capture(
        &self,
        order: &Value,
        request_id: Option<&str>,
        status: &str,
        captures: &impl Serialize,
    ) -> Result<Stored, DbError> {
        let updated = on_pool!(self.db, pool => sqlx::query(
            "UPDATE paypal_orders SET body = $1, capture_request_id = $2, at = $3, capture_status = $4, captures = $5 \
             WHERE id = $6 AND capture_status IS NULL",
        )
        .bind(to_json(order)?)
        .bind(request_id)
        .bind(self.db.now_ms())
        .bind(status)
        .bind(to_json(captures)?)
        .bind(order["id"].as_str().unwrap_or_default())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(if updated == 1 {
            Stored::Stored
        } else {
            Stored::LostRace
        })
    }

    /// Adds an email to the outbox. Its id orders emails of one millisecond as they were sent
    /// (by this process), so that listings are stable.
    pub async fn add_email(&self, email: &impl Serialize) -> Result<(), DbError> {
        static SENT: AtomicU64 = AtomicU64::new(0);
        let at = self.db.now_ms();
        let id = format!(
            "{at:013}-{:012}-{}",
            SENT.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        );
        let row = vec![
            Arg::Text(Some(id.clone())),
            Arg::Int(Some(at)),
            Arg::Text(Some(to_json(email)?)),
        ];
        self.emails.write(id, row).await?;
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

    /// Adds a member (`replace`: or replaces one): `member` is what the fake keeps, `record` what
    /// the inspector shows. Whether it was written (without `replace`, not when the member exists).
    pub async fn put_member(
        &self,
        list_id: &str,
        address: &str,
        member: &Value,
        record: &impl Serialize,
        replace: bool,
    ) -> Result<bool, DbError> {
        let id = member_id(list_id, address);
        let (at, record, member) = (self.db.now_ms(), to_json(record)?, to_json(member)?);
        if !replace {
            let row = vec![
                Arg::Text(Some(id.clone())),
                Arg::Int(Some(at)),
                Arg::Text(Some(record)),
                Arg::Text(Some(member)),
            ];
            return Ok(self.new_members.write(id, row).await?);
        }
        let written = on_pool!(self.db, pool => sqlx::query(
            "INSERT INTO mailchimp_members (id, at, record, member) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET at = excluded.at, record = excluded.record, member = excluded.member",
        )
        .bind(id)
        .bind(at)
        .bind(record)
        .bind(member)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(written == 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts that the stats endpoint polls, the captures read as differences of short index
    /// ranges: each must come out as counted one by one.
    #[tokio::test]
    async fn records_are_counted_by_kind_and_captures_by_status() {
        let records = testing::records().await;
        let no_captures: Option<(&str, &Vec<Value>)> = None;
        let orders = [
            ("A", Some("COMPLETED")),
            ("B", Some("COMPLETED")),
            ("C", Some("DECLINED")),
            ("D", Some("PENDING")),
            ("E", None),
        ];
        for (id, status) in orders {
            let order = serde_json::json!({ "id": id });
            let stored = match status {
                Some(status) => {
                    records
                        .paypal_create(&order, None, Some((status, &Vec::<Value>::new())))
                        .await
                }
                None => records.paypal_create(&order, None, no_captures).await,
            };
            assert_eq!(stored.expect("stored"), Stored::Stored, "{id}");
        }
        records
            .add_email(&serde_json::json!({ "to": "a@example.org" }))
            .await
            .expect("an email");
        for address in ["a@example.org", "b@example.org"] {
            let member = serde_json::json!({ "email_address": address });
            let added = records
                .put_member("list", address, &member, &member, false)
                .await;
            assert!(added.expect("a member"), "{address}");
        }
        assert_eq!(
            records.counts().await.expect("counts"),
            RecordCounts {
                emails: 1,
                members: 2,
                payments: CaptureCounts {
                    completed: 2,
                    declined: 1
                }
            }
        );
    }

    #[test]
    fn every_migration_file_is_embedded() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        embedded_migrations::assert_every_file_listed(super::MIGRATIONS, &folder);
    }
}
