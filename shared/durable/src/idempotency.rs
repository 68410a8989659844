//! The payment function's idempotency records in SQL.
//!
//! A claim is one `INSERT … ON CONFLICT DO NOTHING`: of any number of concurrent requests with one
//! key, in any number of processes sharing the database, exactly one inserts the record and goes
//! on to charge; the others read it and get the stored answer, a mismatch, or "in progress". A
//! claim whose holder died between the charge and the answer is taken over, by one compare-and-set
//! update, once the function's timeout has passed; the retry then replays the charge through the
//! provider's request id and publishes the order.

use std::time::Duration;

use async_trait::async_trait;
use clients::idempotency::{
    Claim, IdempotencyError, IdempotencyKey, IdempotencyStore, RecordedAnswer,
};
use group_commit::{Arg, BatchedWrite};

use crate::db::{Db, DbError, millis};
use crate::on_pool;

/// Idempotency records in the `idempotency_records` table.
#[derive(Debug, Clone)]
pub struct SqlIdempotencyStore {
    db: Db,
    /// Claims and answers, written in batches (each claim still atomic: the unique key decides).
    claims: BatchedWrite,
    answers: BatchedWrite,
}

impl SqlIdempotencyStore {
    pub fn new(db: Db) -> Self {
        Self {
            claims: BatchedWrite::new(
                db.rounds(),
                "INSERT INTO idempotency_records (idempotency_key, fingerprint, claimed_at) VALUES",
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
            ),
            answers: BatchedWrite::new(
                db.rounds(),
                "UPDATE idempotency_records SET response = v.column2 FROM (VALUES",
                ") AS v WHERE idempotency_records.idempotency_key = v.column1 \
                 RETURNING idempotency_records.idempotency_key",
            ),
            db,
        }
    }
}

fn unavailable(e: impl Into<DbError>) -> IdempotencyError {
    IdempotencyError(Box::new(e.into()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl IdempotencyStore for SqlIdempotencyStore {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: [u8; 32],
        abandoned_after: Duration,
    ) -> Result<Claim, IdempotencyError> {
        let fingerprint = hex(&fingerprint);
        let now = self.db.now_ms();
        let row = vec![
            Arg::Text(Some(key.as_str().to_owned())),
            Arg::Text(Some(fingerprint.clone())),
            Arg::Int(Some(now)),
        ];
        let inserted = self
            .claims
            .write(key.as_str().to_owned(), row)
            .await
            .map_err(unavailable)?;
        if inserted {
            return Ok(Claim::New);
        }
        let record: Option<(String, i64, Option<String>)> = on_pool!(self.db, pool => sqlx::query_as(
            "SELECT fingerprint, claimed_at, response FROM idempotency_records WHERE idempotency_key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(pool)
        .await)
        .map_err(unavailable)?;
        let Some((stored_fingerprint, claimed_at, response)) = record else {
            // Released between our insert and our read: the caller may simply try again.
            return Ok(Claim::InProgress);
        };
        if stored_fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if let Some(response) = response {
            let answer = serde_json::from_str(&response)
                .map_err(|e| unavailable(DbError::Corrupt(format!("recorded answer: {e}"))))?;
            return Ok(Claim::Replay(answer));
        }
        if now.saturating_sub(claimed_at) < millis(abandoned_after) {
            return Ok(Claim::InProgress);
        }
        let taken = on_pool!(self.db, pool => sqlx::query(
            "UPDATE idempotency_records SET claimed_at = $1 \
             WHERE idempotency_key = $2 AND claimed_at = $3 AND response IS NULL",
        )
        .bind(now)
        .bind(key.as_str())
        .bind(claimed_at)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(unavailable)?;
        Ok(if taken == 1 {
            tracing::info!("took over an abandoned Idempotency-Key claim");
            Claim::New
        } else {
            Claim::InProgress
        })
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        answer: &RecordedAnswer,
    ) -> Result<(), IdempotencyError> {
        let response = serde_json::to_string(answer)
            .map_err(|e| unavailable(DbError::Corrupt(format!("answer: {e}"))))?;
        let row = vec![
            Arg::Text(Some(key.as_str().to_owned())),
            Arg::Text(Some(response)),
        ];
        self.answers
            .write(key.as_str().to_owned(), row)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), IdempotencyError> {
        on_pool!(self.db, pool => sqlx::query(
            "DELETE FROM idempotency_records WHERE idempotency_key = $1 AND response IS NULL",
        )
        .bind(key.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(unavailable)?;
        Ok(())
    }
}
