//! Group commit: rows that many tasks write at about the same time go to the database together,
//! each kind of row as one statement over a multi-row `VALUES` list (`INSERT … VALUES …`, or
//! `UPDATE … FROM (VALUES …)`), and all the kinds of one round in one transaction.
//!
//! Why: every statement costs a round trip to the database (for SQLite, a hop to sqlx's worker
//! thread and back), and every commit writes each page it changed to SQLite's WAL. Under load the
//! emulator writes thousands of small rows a second (queue messages, executions, checkpoints,
//! idempotency records, orders, the local providers' records), and the pages they share (a
//! table's last leaf, a time index's right edge, the database header when the file grows) were
//! written again by each kind's own commit. The round forms by itself: the first row is written at
//! once, and the rows that arrive while a round runs, of every kind, go together in the next one
//! (on PostgreSQL, several rounds are written at once, each on a connection of its own). No
//! timer, so no added latency when the system is idle. Each writer learns whether its row was
//! written (the statement `RETURNING` its key: an insert that `ON CONFLICT DO NOTHING` skipped,
//! or an update whose row did not match, is not), once its round has committed.
//!
//! A statement that fails fails its own rows only: the round's transaction is rolled back and
//! each kind is written again on its own.
//!
//! One [`Rounds`] per database, shared by every writer of it: the durable queues and executions
//! (`durable`) and the order store (`order-store`, which a deployed function links without the
//! rest of `durable`); hence a crate of its own.

#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};
#[cfg(feature = "postgres")]
use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("group-commit needs a database: enable its `sqlite` or `postgres` feature");

/// Most rows of one kind in one statement (SQLite allows 32,766 parameters; PostgreSQL 65,535).
const MAX_ROWS: usize = 256;

/// Most rows in one round.
const MAX_ROUND: usize = 1024;

/// How many rounds are written at once to PostgreSQL, each in a transaction on a connection of
/// its own. One at a time, a round's statements waited for each other's round trips to the
/// server, and the registrations' writes queued behind them: 16 clients' POSTs took about 100 ms
/// each at 125 a second, the server and the emulator mostly idle (docs/performance-log.md).
/// Below the pool's size, so that reads find a connection too.
#[cfg(feature = "postgres")]
const POSTGRES_WRITERS: usize = 4;

/// An open pool of either database.
#[derive(Debug, Clone)]
pub enum Pool {
    /// SQLite: the process's one connection to the file.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::Connection),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

impl Pool {
    /// Applies `migrator`'s migrations.
    pub async fn migrate(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(connection) => connection.migrate(migrator).await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => migrator.run(pool).await,
        }
    }
}

/// A value of a column.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Time(DateTime<Utc>),
}

/// Why a row was not written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BatchError {
    /// The statement of the row's kind failed (every row of that statement gets the same error).
    #[error("a batched write failed")]
    Failed(#[source] Arc<sqlx::Error>),
    /// The runtime that ran the writer has shut down.
    #[error("the batch writer has stopped")]
    Stopped,
}

/// The statement of one kind of row: `before`, the rows, `after`.
#[derive(Debug)]
struct Kind {
    before: &'static str,
    /// One row's values with `$1`… placeholders (casts allowed: `($1::uuid, $2)`), or `None` for
    /// plain `($1, $2, …)` as wide as the rows.
    row: Option<&'static str>,
    after: &'static str,
}

struct Pending {
    kind: Arc<Kind>,
    /// The row's key, as the statement returns it when the row was written.
    key: String,
    row: Vec<Arg>,
    written: oneshot::Sender<Result<bool, BatchError>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("key", &self.key).finish()
    }
}

/// The writer of one database's rounds; it stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Rounds {
    rows: mpsc::UnboundedSender<Pending>,
}

impl Rounds {
    /// Starts the writers on `pool` (within a tokio runtime): one for SQLite, which lets one
    /// writer in at a time; four for PostgreSQL (`POSTGRES_WRITERS`).
    pub fn start(pool: Pool) -> Self {
        let (rows, pending) = mpsc::unbounded_channel::<Pending>();
        let writers = match &pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => 1,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => POSTGRES_WRITERS,
        };
        // Each writer in turn takes what has arrived as its round, and lets the next take the
        // rows that arrive while it writes.
        let pending = Arc::new(tokio::sync::Mutex::new(pending));
        for _ in 0..writers {
            let pending = Arc::clone(&pending);
            let pool = pool.clone();
            tokio::spawn(async move {
                loop {
                    let round = {
                        let mut pending = pending.lock().await;
                        let Some(first) = pending.recv().await else {
                            return;
                        };
                        let mut round = vec![first];
                        while round.len() < MAX_ROUND {
                            match pending.try_recv() {
                                Ok(next) => round.push(next),
                                Err(_) => break,
                            }
                        }
                        round
                    };
                    write_round(&pool, round).await;
                }
            });
        }
        Self { rows }
    }
}

/// Writes rows of one kind in rounds; see the module documentation.
#[derive(Debug, Clone)]
pub struct BatchedWrite {
    kind: Arc<Kind>,
    rounds: Rounds,
}

impl BatchedWrite {
    /// The statement is `before`, the rows as `($1, $2, …), (…)`, then `after`, which ends with
    /// `RETURNING` the rows' keys: e.g. `INSERT INTO t (id, x) VALUES` and
    /// `ON CONFLICT (id) DO NOTHING RETURNING id`; or `UPDATE t SET x = v.column2 FROM (VALUES`
    /// and `) AS v WHERE t.id = v.column1 RETURNING t.id`.
    pub fn new(rounds: &Rounds, before: &'static str, after: &'static str) -> Self {
        Self {
            kind: Arc::new(Kind {
                before,
                row: None,
                after,
            }),
            rounds: rounds.clone(),
        }
    }

    /// Like [`BatchedWrite::new`], with each row written as `row` says, its placeholders
    /// numbered from `$1` (e.g. `($1::uuid, $2, $3::numeric)` for PostgreSQL's casts).
    pub fn with_row(
        rounds: &Rounds,
        before: &'static str,
        row: &'static str,
        after: &'static str,
    ) -> Self {
        Self {
            kind: Arc::new(Kind {
                before,
                row: Some(row),
                after,
            }),
            rounds: rounds.clone(),
        }
    }

    /// Writes one row, identified by `key`; whether it was written (its key returned).
    pub async fn write(&self, key: String, row: Vec<Arg>) -> Result<bool, BatchError> {
        let (written, outcome) = oneshot::channel();
        let pending = Pending {
            kind: Arc::clone(&self.kind),
            key,
            row,
            written,
        };
        self.rounds
            .rows
            .send(pending)
            .map_err(|_| BatchError::Stopped)?;
        outcome.await.map_err(|_| BatchError::Stopped)?
    }
}

/// The rows of a round by statement, in chunks of at most [`MAX_ROWS`]: the kinds in the order of
/// their statements' text and each statement's rows in the order of their keys (rows of one key
/// in the order they came, so that the first writer of a key is the one told it was written), so
/// that two rounds written at once (PostgreSQL) lock the rows they share in the same order.
fn statements(mut round: Vec<Pending>) -> Vec<Vec<Pending>> {
    round.sort_by(|a, b| {
        (a.kind.before, a.kind.after, &a.key).cmp(&(b.kind.before, b.kind.after, &b.key))
    });
    let mut groups: Vec<Vec<Pending>> = Vec::new();
    for pending in round {
        let group = groups.iter_mut().find(|group| {
            Arc::ptr_eq(&group[0].kind, &pending.kind)
                && group[0].row.len() == pending.row.len()
                && group.len() < MAX_ROWS
        });
        match group {
            Some(group) => group.push(pending),
            None => groups.push(vec![pending]),
        }
    }
    groups
}

/// The SQL of one statement over `batch`'s rows.
fn sql(batch: &[Pending]) -> String {
    let width = batch[0].row.len();
    let kind = &batch[0].kind;
    let plain;
    let row = match kind.row {
        Some(row) => row,
        None => {
            let params: Vec<String> = (1..=width).map(|c| format!("${c}")).collect();
            plain = format!("({})", params.join(", "));
            &plain
        }
    };
    let values: Vec<String> = (0..batch.len()).map(|r| renumber(row, r * width)).collect();
    format!("{} {} {}", kind.before, values.join(", "), kind.after)
}

/// `row` with each placeholder `$k` made `$(offset + k)`.
fn renumber(row: &str, offset: usize) -> String {
    let mut out = String::with_capacity(row.len() + 8);
    let mut rest = row;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(k) => out.push_str(&(offset + k).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Runs one statement over `batch`'s rows on `$executor` (a pool, or a transaction), giving the
/// keys it returned.
macro_rules! returned_keys {
    ($executor:expr, $batch:expr) => {{
        let batch: &[Pending] = $batch;
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql(batch)));
        for pending in batch {
            for arg in &pending.row {
                query = match arg {
                    Arg::Text(text) => query.bind(text.clone()),
                    Arg::Int(int) => query.bind(*int),
                    Arg::Bool(flag) => query.bind(*flag),
                    Arg::Time(time) => query.bind(*time),
                };
            }
        }
        query.fetch_all($executor).await
    }};
}

/// Writes a round: one statement, or one transaction of several; a failed transaction is written
/// again statement by statement, so that a failure stays with its own rows.
async fn write_round(pool: &Pool, round: Vec<Pending>) {
    let groups = statements(round);
    if groups.len() > 1 {
        match in_one_transaction(pool, &groups).await {
            Ok(outcomes) => {
                for (group, keys) in groups.into_iter().zip(outcomes) {
                    answer(group, Ok(keys));
                }
                return;
            }
            Err(e) => tracing::debug!("a round failed as one transaction, retried alone: {e}"),
        }
    }
    for group in groups {
        let outcome = on_each_pool(pool, &group).await;
        answer(group, outcome);
    }
}

async fn on_each_pool(pool: &Pool, batch: &[Pending]) -> Result<Vec<String>, sqlx::Error> {
    match pool {
        #[cfg(feature = "sqlite")]
        Pool::Sqlite(pool) => returned_keys!(pool, batch),
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => returned_keys!(pool, batch),
    }
}

/// Every statement in one transaction; their returned keys, or the first failure (after which
/// nothing is committed).
async fn in_one_transaction(
    pool: &Pool,
    groups: &[Vec<Pending>],
) -> Result<Vec<Vec<String>>, sqlx::Error> {
    macro_rules! transaction {
        ($connection:expr) => {{
            let mut tx = sqlx::Acquire::begin($connection).await?;
            let mut outcomes = Vec::with_capacity(groups.len());
            for group in groups {
                outcomes.push(returned_keys!(&mut *tx, group)?);
            }
            tx.commit().await?;
            Ok(outcomes)
        }};
    }
    match pool {
        #[cfg(feature = "sqlite")]
        Pool::Sqlite(connection) => {
            let mut locked = connection.lock().await?;
            transaction!(&mut *locked)
        }
        #[cfg(feature = "postgres")]
        Pool::Postgres(pool) => transaction!(pool),
    }
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
            let e = Arc::new(e);
            for pending in batch {
                let _ = pending
                    .written
                    .send(Err(BatchError::Failed(Arc::clone(&e))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(kind: &Arc<Kind>, key: &str, tag: i64) -> Pending {
        Pending {
            kind: Arc::clone(kind),
            key: key.to_owned(),
            row: vec![Arg::Int(Some(tag))],
            written: oneshot::channel().0,
        }
    }

    #[test]
    fn a_round_is_written_kind_by_kind_and_key_by_key_in_one_order() {
        let kind = |before| {
            Arc::new(Kind {
                before,
                row: None,
                after: "RETURNING id",
            })
        };
        let (orders, messages) = (kind("INSERT INTO orders"), kind("INSERT INTO messages"));
        let round = vec![
            pending(&orders, "b", 1),
            pending(&messages, "z", 2),
            pending(&orders, "a", 3),
            pending(&orders, "b", 4),
            pending(&messages, "y", 5),
        ];
        let written: Vec<Vec<(String, i64)>> = statements(round)
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .map(|p| match p.row[0] {
                        Arg::Int(Some(tag)) => (p.key, tag),
                        _ => unreachable!("an int"),
                    })
                    .collect()
            })
            .collect();
        let owned = |rows: &[(&str, i64)]| -> Vec<(String, i64)> {
            rows.iter().map(|(k, t)| ((*k).to_owned(), *t)).collect()
        };
        assert_eq!(
            written,
            vec![
                owned(&[("y", 5), ("z", 2)]),
                // Key "b" twice: the first to come (1) before the second (4).
                owned(&[("a", 3), ("b", 1), ("b", 4)]),
            ]
        );
    }

    #[test]
    fn placeholders_are_numbered_on_from_the_rows_before() {
        assert_eq!(renumber("($1, $2)", 0), "($1, $2)");
        assert_eq!(
            renumber("($1::uuid, $2, $3::numeric)", 6),
            "($7::uuid, $8, $9::numeric)"
        );
        assert_eq!(renumber("($1, '$', $10)", 10), "($11, '$', $20)");
    }
}
