//! The payment function's declined payments in SQL (the port of `clients::declines`): one row
//! per decline and subject in `payment_declines`, read back for the subjects of a new payment
//! within the window, and deleted once older than it. The rule that turns them into a wait is
//! the port's own (`clients::declines::blocked_for`).
//!
//! The ledger is on the idempotency records' database, so every instance of the function sees
//! every decline. Two tries at once may both pass the check and both be declined: a limit can be
//! overrun by the number of concurrent tries, never more, and the wait then covers the overrun.

use std::time::Duration;

use async_trait::async_trait;
use clients::declines::{DeclineLedger, DeclineLedgerError, Limit};

use crate::db::{Db, DbError, millis};
use crate::on_pool;

/// Declined payments in the `payment_declines` table.
#[derive(Debug, Clone)]
pub struct SqlDeclineLedger {
    db: Db,
}

impl SqlDeclineLedger {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn unavailable(e: impl Into<DbError>) -> DeclineLedgerError {
    DeclineLedgerError(Box::new(e.into()))
}

/// `$first, $first + 1, …` for `count` parameters: the only text a statement is built from
/// (every value is bound).
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl DeclineLedger for SqlDeclineLedger {
    async fn blocked_for(
        &self,
        limits: &[Limit],
        window: Duration,
    ) -> Result<Option<Duration>, DeclineLedgerError> {
        if limits.is_empty() {
            return Ok(None);
        }
        let now = self.db.now_ms();
        let sql = format!(
            "SELECT subject, declined_at FROM payment_declines \
             WHERE declined_at > $1 AND subject IN ({})",
            placeholders(2, limits.len())
        );
        let declines: Vec<(String, i64)> = on_pool!(self.db, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(now.saturating_sub(millis(window)));
            for limit in limits {
                query = query.bind(&limit.subject);
            }
            query.fetch_all(pool).await
        })
        .map_err(unavailable)?;
        Ok(clients::declines::blocked_for(
            limits, &declines, now, window,
        ))
    }

    async fn record(
        &self,
        subjects: &[String],
        window: Duration,
    ) -> Result<(), DeclineLedgerError> {
        if subjects.is_empty() {
            return Ok(());
        }
        let now = self.db.now_ms();
        let rows = (0..subjects.len())
            .map(|i| format!("(${}, $1)", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!("INSERT INTO payment_declines (subject, declined_at) VALUES {rows}");
        let forget = format!(
            "DELETE FROM payment_declines WHERE declined_at <= $1 AND subject IN ({})",
            placeholders(2, subjects.len())
        );
        on_pool!(self.db, pool => {
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(insert.as_str())).bind(now);
            let mut forget = sqlx::query(sqlx::AssertSqlSafe(forget.as_str())).bind(now.saturating_sub(millis(window)));
            for subject in subjects {
                insert = insert.bind(subject);
                forget = forget.bind(subject);
            }
            match insert.execute(pool).await {
                // Housekeeping: a failure here only leaves old rows for the next decline.
                Ok(_) => forget.execute(pool).await.map(drop),
                Err(e) => Err(e),
            }
        })
        .map_err(unavailable)
    }
}
