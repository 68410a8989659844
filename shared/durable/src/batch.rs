//! Group commit: rows that many tasks write at about the same time go to the database as one
//! statement over a multi-row `VALUES` list (`INSERT … VALUES …`, or `UPDATE … FROM (VALUES …)`),
//! instead of one statement each.
//!
//! Why: every statement costs a round trip to the database (for SQLite, a hop to sqlx's worker
//! thread and back, and a commit of its own), and under load the emulator writes thousands of
//! small rows a second (queue messages, executions, checkpoints). The batch forms by itself: the
//! first row is written at once, and the rows that arrive while a statement runs go together in
//! the next one. No timer, so no added latency when the system is idle. Each writer learns whether
//! its row was written (the statement `RETURNING` its key: an insert that `ON CONFLICT DO NOTHING`
//! skipped, or an update whose row did not match, is not), once the statement has committed.

use tokio::sync::{mpsc, oneshot};

use crate::db::{Db, DbError};
use crate::on_pool;

/// Most rows in one statement (SQLite allows 32,766 parameters; PostgreSQL 65,535).
const MAX_ROWS: usize = 256;

/// A value of a column.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

struct Pending {
    /// The row's key, as the statement returns it when the row was written.
    key: String,
    row: Vec<Arg>,
    written: oneshot::Sender<Result<bool, String>>,
}

/// Writes rows with one statement per batch; see the module documentation.
#[derive(Debug, Clone)]
pub struct BatchedWrite {
    rows: mpsc::UnboundedSender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("key", &self.key).finish()
    }
}

impl BatchedWrite {
    /// The statement is `before`, the rows as `($1, $2, …), (…)`, then `after`, which ends with
    /// `RETURNING` the rows' keys: e.g. `INSERT INTO t (id, x) VALUES` and
    /// `ON CONFLICT (id) DO NOTHING RETURNING id`; or `UPDATE t SET x = v.column2 FROM (VALUES`
    /// and `) AS v WHERE t.id = v.column1 RETURNING t.id`.
    pub fn new(db: Db, before: &'static str, after: &'static str) -> Self {
        let (rows, mut pending) = mpsc::unbounded_channel::<Pending>();
        tokio::spawn(async move {
            while let Some(first) = pending.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_ROWS {
                    match pending.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let outcome = write(&db, before, after, &batch).await;
                answer(batch, outcome);
            }
        });
        Self { rows }
    }

    /// Writes one row, identified by `key`; whether it was written (its key returned).
    pub async fn write(&self, key: String, row: Vec<Arg>) -> Result<bool, DbError> {
        let (written, outcome) = oneshot::channel();
        self.rows
            .send(Pending { key, row, written })
            .map_err(|_| DbError::Corrupt("the batch writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| DbError::Corrupt("the batch writer has stopped".into()))?
            .map_err(DbError::Batch)
    }
}

async fn write(
    db: &Db,
    before: &str,
    after: &str,
    batch: &[Pending],
) -> Result<Vec<String>, sqlx::Error> {
    let width = batch[0].row.len();
    let values: Vec<String> = (0..batch.len())
        .map(|row| {
            let params: Vec<String> = (1..=width)
                .map(|c| format!("${}", row * width + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!("{before} {} {after}", values.join(", "));
    on_pool!(db, pool => {
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for pending in batch {
            for arg in &pending.row {
                query = match arg {
                    Arg::Text(text) => query.bind(text.clone()),
                    Arg::Int(int) => query.bind(*int),
                };
            }
        }
        query.fetch_all(pool).await
    })
}

/// Tells each writer whether its row was written. A key written once answers `true` to the first
/// writer of that key only.
fn answer(batch: Vec<Pending>, outcome: Result<Vec<String>, sqlx::Error>) {
    match outcome {
        Ok(mut written) => {
            for pending in batch {
                let position = written.iter().position(|key| *key == pending.key);
                if let Some(position) = position {
                    written.swap_remove(position);
                }
                let _ = pending.written.send(Ok(position.is_some()));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for pending in batch {
                let _ = pending.written.send(Err(message.clone()));
            }
        }
    }
}
