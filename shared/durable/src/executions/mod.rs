//! Durable workflow executions: an execution of an ASL state machine whose every completed task is
//! checkpointed in SQL, so that after a crash it resumes where it was and never runs a completed
//! task again (no second confirmation email).
//!
//! How: the workflow interpreter is deterministic given its tasks' results, so resuming is running
//! the machine again from its input, with every task whose result was checkpointed answered from
//! the checkpoint instead of being invoked (the replay of Durable Functions and Temporal, on the
//! granularity of tasks). A step is named by its state and the visit of that state
//! ([`workflow::TaskRequest::visit`]), so loops and retried Parallel states stay distinct.
//!
//! An execution is named, and a name starts once ([`Executions::start`]). While one runs, the
//! process running it renews its lease; an execution still `RUNNING` whose lease has lapsed (its
//! process died) is claimed, atomically, by whoever looks for work ([`Executions::claim_lapsed`])
//! and resumed with [`run`]. Histories are kept in memory while the execution runs and stored with
//! its outcome when it stops; a resumed execution's history starts again at its resumption, with
//! the checkpointed tasks shown as succeeding at once.
//!
//! An execution can be stopped from outside ([`Executions::stop`], Step Functions'
//! `StopExecution`): it is `ABORTED` at once, and the process running it stops running it, at once
//! if it is this one, else at its next lease renewal (a third of the lease). A task in flight is
//! not called back, and its result is not kept, as on Step Functions. A failed or stopped one can
//! be redriven ([`Executions::redrive`], Step Functions' `RedriveExecution`): it runs again as
//! resumed, its stored history going on.
//!
//! Layout: this file the executions' store and [`run`]; `row.rs` a stored row; `history.rs` the
//! stored history and [`replay`]; `redrive.rs` the redrive's rules.
//!
//! The stored history is compact: every event with its type, state, time and details (errors,
//! causes, attempts, delays, resources, branches), but without the JSON payloads that states pass
//! on (`input`, `output`, `result`), which repeat the order in every event. Those are in the
//! execution's input and output and in the checkpoints of its tasks; storing them again cost about
//! 15 % of the emulator's CPU under load (`cargo run --release -p bench`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use group_commit::{Arg, BatchedWrite};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use workflow::{
    ExecutionFailure, History, HistoryEvent, StateMachine, TaskFailure, TaskInvoker, TaskRequest,
};

use crate::db::{Db, DbError, millis};
use crate::on_pool;
use crate::page::{Page, PageRequest};
use crate::queue::time;

mod history;
mod redrive;
mod row;

use history::compact_history;
pub use history::replay;
pub use redrive::{REDRIVABLE_PERIOD, RedriveError, Redriven};
use row::{ExecutionRow, json};

/// How an execution stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded { output: Value },
    Failed { error: String, cause: String },
    Aborted { error: String, cause: String },
}

/// An execution without its history, as listings show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub name: String,
    #[serde(flatten)]
    pub status: ExecutionStatus,
    pub input: Value,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// How many times it was redriven ([`Executions::redrive`]), and when last.
    pub redrive_count: u64,
    pub redrive_date: Option<DateTime<Utc>>,
}

/// An execution with its history (the events of its last run).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    pub events: Vec<Value>,
}

/// How many executions are in each status.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ExecutionCounts {
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub aborted: u64,
}

/// The executions of one database.
#[derive(Debug, Clone)]
pub struct Executions {
    db: Db,
    /// How long an execution stays claimed by its process without a renewal.
    lease: Duration,
    /// New executions, checkpoints and outcomes, written in batches.
    starts: BatchedWrite,
    checkpoints: BatchedWrite,
    outcomes: BatchedWrite,
    /// The executions this process runs, each with what tells its run to stop.
    running: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
}

impl Executions {
    /// The lease when none is given: a dead process's executions resume within this time.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

    /// `lease` is at least 30 ms (it is renewed every third of it).
    pub fn new(db: Db, lease: Duration) -> Self {
        Self {
            starts: BatchedWrite::new(
                db.rounds(),
                "INSERT INTO executions (name, status, input, started_at, lease_until) VALUES",
                "ON CONFLICT (name) DO NOTHING RETURNING name",
            ),
            checkpoints: BatchedWrite::new(
                db.rounds(),
                "INSERT INTO execution_checkpoints (execution, step, output) VALUES",
                "ON CONFLICT (execution, step) DO NOTHING RETURNING execution || '/' || step",
            ),
            outcomes: BatchedWrite::new(
                db.rounds(),
                "UPDATE executions SET status = v.column2, output = v.column3, error = v.column4, \
                 cause = v.column5, history = v.column6, stopped_at = v.column7 FROM (VALUES",
                ") AS v WHERE executions.name = v.column1 AND executions.status = 'RUNNING' \
                 RETURNING executions.name",
            ),
            db,
            lease: lease.max(Duration::from_millis(30)),
            running: Arc::default(),
        }
    }

    /// Stops the execution `name` if it is `RUNNING`: it is `ABORTED`, with `error` and `cause`,
    /// and stops running (see the module documentation). The time it stopped, or `None` when it
    /// was not running (it does not exist, or has stopped already).
    pub async fn stop(
        &self,
        name: &str,
        error: &str,
        cause: &str,
    ) -> Result<Option<DateTime<Utc>>, DbError> {
        let stopped: Option<i64> = on_pool!(self.db, pool => sqlx::query_scalar(
            "UPDATE executions SET status = 'ABORTED', error = $1, cause = $2, stopped_at = $3 \
             WHERE name = $4 AND status = 'RUNNING' RETURNING stopped_at",
        )
        .bind(error)
        .bind(cause)
        .bind(self.db.now_ms())
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        if stopped.is_some()
            && let Some(run) = lock(&self.running).get(name)
        {
            // A permit, if the run is not waiting for one at this moment.
            run.notify_one();
        }
        Ok(stopped.map(time))
    }

    /// Keeps the history of an execution that was stopped from outside.
    async fn keep_aborted_history(&self, name: &str, history: &History) -> Result<(), DbError> {
        let history = compact_history(history)?;
        on_pool!(self.db, pool => sqlx::query(
            "UPDATE executions SET history = $1 WHERE name = $2 AND status = 'ABORTED'",
        )
        .bind(history)
        .bind(name)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    fn lease_until(&self) -> i64 {
        self.db.now_ms().saturating_add(millis(self.lease))
    }

    /// Records a new `RUNNING` execution named `name`, leased to the caller, who then [`run`]s it.
    /// `false` when the name was used before: nothing is started (Step Functions'
    /// `StartExecution` is idempotent by name in the same way).
    pub async fn start(&self, name: &str, input: &Value) -> Result<bool, DbError> {
        let row = vec![
            Arg::Text(Some(name.to_owned())),
            Arg::Text(Some("RUNNING".to_owned())),
            Arg::Text(Some(input.to_string())),
            Arg::Int(Some(self.db.now_ms())),
            Arg::Int(Some(self.lease_until())),
        ];
        Ok(self.starts.write(name.to_owned(), row).await?)
    }

    /// Claims up to `limit` `RUNNING` executions whose lease has lapsed, for the caller to resume:
    /// their names and inputs. Two processes never claim the same one.
    pub async fn claim_lapsed(&self, limit: i64) -> Result<Vec<(String, Value)>, DbError> {
        let now = self.db.now_ms();
        let rows: Vec<(String, String)> = on_pool!(self.db, pool => sqlx::query_as(
            "UPDATE executions SET lease_until = $1 \
             WHERE name IN (SELECT name FROM executions WHERE status = 'RUNNING' AND lease_until < $2 LIMIT $3) \
             AND status = 'RUNNING' AND lease_until < $2 RETURNING name, input",
        )
        .bind(self.lease_until())
        .bind(now)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(name, input)| Ok((name, json(&input, "execution input")?)))
            .collect()
    }

    /// Claims the execution `name` if it is `RUNNING` and its lease has lapsed (its process died):
    /// its input, for the caller to resume; `None` when it has stopped or is still leased. Two
    /// callers never both claim it.
    pub async fn claim(&self, name: &str) -> Result<Option<Value>, DbError> {
        let input: Option<String> = on_pool!(self.db, pool => sqlx::query_scalar(
            "UPDATE executions SET lease_until = $1 \
             WHERE name = $2 AND status = 'RUNNING' AND lease_until < $3 RETURNING input",
        )
        .bind(self.lease_until())
        .bind(name)
        .bind(self.db.now_ms())
        .fetch_optional(pool)
        .await)?;
        input
            .map(|input| json(&input, "execution input"))
            .transpose()
    }

    /// Extends the lease of a running execution; `false` when it is no longer running (it was
    /// stopped from outside).
    async fn renew(&self, name: &str) -> Result<bool, DbError> {
        let renewed = on_pool!(self.db, pool => sqlx::query(
            "UPDATE executions SET lease_until = $1 WHERE name = $2 AND status = 'RUNNING'",
        )
        .bind(self.lease_until())
        .bind(name)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(renewed > 0)
    }

    /// The results of the execution's completed tasks, by step (`State#visit`).
    pub async fn checkpoints(&self, name: &str) -> Result<HashMap<String, Value>, DbError> {
        let rows: Vec<(String, String)> = on_pool!(self.db, pool => sqlx::query_as(
            "SELECT step, output FROM execution_checkpoints WHERE execution = $1",
        )
        .bind(name)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(step, output)| Ok((step, json(&output, "checkpoint")?)))
            .collect()
    }

    async fn checkpoint(&self, name: &str, step: &str, output: &Value) -> Result<(), DbError> {
        let row = vec![
            Arg::Text(Some(name.to_owned())),
            Arg::Text(Some(step.to_owned())),
            Arg::Text(Some(output.to_string())),
        ];
        self.checkpoints
            .write(format!("{name}/{step}"), row)
            .await?;
        Ok(())
    }

    async fn finish(
        &self,
        name: &str,
        result: &Result<Value, ExecutionFailure>,
        history: &History,
    ) -> Result<(), DbError> {
        let history = compact_history(history)?;
        let (status, output, error, cause) = match result {
            Ok(output) => ("SUCCEEDED", Some(output.to_string()), None, None),
            Err(failure) => (
                "FAILED",
                None,
                Some(failure.error.clone()),
                Some(failure.cause.clone()),
            ),
        };
        let row = vec![
            Arg::Text(Some(name.to_owned())),
            Arg::Text(Some(status.to_owned())),
            Arg::Text(output),
            Arg::Text(error),
            Arg::Text(cause),
            Arg::Text(Some(history)),
            Arg::Int(Some(self.db.now_ms())),
        ];
        self.outcomes.write(name.to_owned(), row).await?;
        Ok(())
    }

    /// One execution with its stored history (empty while it runs), if it exists.
    pub async fn get(&self, name: &str) -> Result<Option<ExecutionRecord>, DbError> {
        let sql = "SELECT name, status, input, output, error, cause, history, started_at, stopped_at, \
                   redrive_count, redrive_date FROM executions WHERE name = $1";
        let row: Option<ExecutionRow> = on_pool!(self.db, pool => sqlx::query_as(sql)
            .bind(name)
            .fetch_optional(pool)
            .await)?;
        row.map(|row| {
            let events = match &row.history {
                Some(history) => match json(history, "history")? {
                    Value::Array(events) => events,
                    _ => return Err(DbError::Corrupt("history is not a list".into())),
                },
                None => Vec::new(),
            };
            Ok(ExecutionRecord {
                summary: row.summary()?,
                events,
            })
        })
        .transpose()
    }

    /// Executions, newest first.
    pub async fn page(&self, request: &PageRequest) -> Result<Page<ExecutionSummary>, DbError> {
        self.page_with_status(request, None).await
    }

    /// [`Executions::page`], of the executions in `status` only (as stored: `RUNNING`,
    /// `SUCCEEDED`, `FAILED`, `ABORTED`) when one is given: every page is full, however few of
    /// them there are among the others.
    pub async fn page_with_status(
        &self,
        request: &PageRequest,
        status: Option<&str>,
    ) -> Result<Page<ExecutionSummary>, DbError> {
        let (at, name) = request.after();
        // Listings show no history: it is not read.
        let columns = "SELECT name, status, input, output, error, cause, NULL AS history, started_at, \
             stopped_at, redrive_count, redrive_date FROM executions";
        let after = "(started_at < $1 OR (started_at = $1 AND name < $2))";
        let order = "ORDER BY started_at DESC, name DESC LIMIT $3";
        let sql = match status {
            None => format!("{columns} WHERE {after} {order}"),
            Some(_) => format!("{columns} WHERE status = $4 AND {after} {order}"),
        };
        let rows: Vec<ExecutionRow> = on_pool!(self.db, pool => {
            let query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(at)
                .bind(name.clone())
                .bind(request.limit() + 1);
            match status {
                None => query.fetch_all(pool).await,
                Some(status) => query.bind(status).fetch_all(pool).await,
            }
        })?;
        let page = Page::from_rows(rows, request, |row| (row.started_at, row.name.clone()));
        let items = page
            .items
            .iter()
            .map(ExecutionRow::summary)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// How many executions are in each status, read from a few index pages rather than from
    /// every execution: the succeeded ones, nearly all of them in a long run, are counted as the
    /// rest (SQLite counts a whole table from its page headers; the other statuses are short
    /// ranges of the status index).
    pub async fn counts(&self) -> Result<ExecutionCounts, DbError> {
        let (all, running, stopped, aborted): (i64, i64, i64, i64) = on_pool!(self.db, pool => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM executions), \
                    (SELECT COUNT(*) FROM executions WHERE status = 'RUNNING'), \
                    (SELECT COUNT(*) FROM executions WHERE status < 'RUNNING' OR status > 'SUCCEEDED' \
                        OR (status > 'RUNNING' AND status < 'SUCCEEDED')), \
                    (SELECT COUNT(*) FROM executions WHERE status = 'ABORTED')",
        )
        .fetch_one(pool)
        .await)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(ExecutionCounts {
            running: count(running),
            succeeded: count(all - running - stopped),
            failed: count(stopped - aborted),
            aborted: count(aborted),
        })
    }
}

/// Runs (or, with `resumed`, resumes) the execution `name`, which the caller started or claimed:
/// tasks already checkpointed are answered from their checkpoints (a fresh start has none to
/// read), every other completed task is checkpointed,
/// the lease is renewed while it runs, and the outcome and `history` are stored when it stops.
///
/// A database failure never loses the execution: a checkpoint that cannot be written leaves that
/// task to run again on resumption (at-least-once, like any task); an outcome that cannot be
/// stored leaves the execution `RUNNING`, to be resumed once its lease lapses.
pub async fn run(
    machine: &StateMachine,
    executions: &Executions,
    name: &str,
    input: Value,
    invoker: &dyn TaskInvoker,
    history: &History,
    resumed: bool,
) -> Result<Value, ExecutionFailure> {
    let earlier = async {
        if !resumed {
            return Ok((HashMap::new(), Vec::new()));
        }
        let stored = executions.get(name).await?.map(|record| record.events);
        Ok::<_, DbError>((
            executions.checkpoints(name).await?,
            stored_events(stored.unwrap_or_default())?,
        ))
    };
    let done = match earlier.await {
        Ok((done, events)) => {
            // A redriven execution's history goes on from its stored events.
            history.continue_from(events);
            done
        }
        Err(e) => {
            tracing::warn!(
                execution = name,
                "checkpoints unreadable, the execution waits for its lease to lapse: {e}"
            );
            return Err(ExecutionFailure::new(
                "States.Runtime",
                "the execution store is unavailable",
            ));
        }
    };
    let checkpointing = Checkpointing {
        inner: invoker,
        executions,
        done,
    };
    let stop = Arc::new(Notify::new());
    let _registered = Registered::new(executions, name, stop.clone());
    // Ends when the execution is no longer running: stopped from outside, by another process.
    let renewals = async {
        let mut every = tokio::time::interval(executions.lease / 3);
        every.tick().await;
        loop {
            every.tick().await;
            match executions.renew(name).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(
                    execution = name,
                    "could not renew the execution's lease: {e}"
                ),
            }
        }
    };
    let result = tokio::select! {
        result = machine.run(name, input, &checkpointing, history) => result,
        () = renewals => return aborted(executions, name, history).await,
        () = stop.notified() => return aborted(executions, name, history).await,
    };
    if let Err(e) = executions.finish(name, &result, history).await {
        tracing::warn!(
            execution = name,
            "could not store the outcome; the execution will be resumed: {e}"
        );
    }
    result
}

/// The events of a stored history, as the workflow crate records them (without their payloads).
fn stored_events(events: Vec<Value>) -> Result<Vec<HistoryEvent>, DbError> {
    serde_json::from_value(Value::Array(events))
        .map_err(|e| DbError::Corrupt(format!("history: {e}")))
}

/// What a run whose execution was stopped from outside returns, once it has kept its history
/// (with the `ExecutionAborted` event, the error and cause the stop gave).
async fn aborted(
    executions: &Executions,
    name: &str,
    history: &History,
) -> Result<Value, ExecutionFailure> {
    let stopped = executions.get(name).await.ok().flatten();
    let (error, cause) = match stopped.map(|record| record.summary.status) {
        Some(ExecutionStatus::Aborted { error, cause }) => (error, cause),
        _ => (String::new(), String::new()),
    };
    history.record_aborted(&error, &cause);
    if let Err(e) = executions.keep_aborted_history(name, history).await {
        tracing::warn!(
            execution = name,
            "could not keep the stopped execution's history: {e}"
        );
    }
    tracing::info!(execution = name, "stopped (StopExecution)");
    Err(ExecutionFailure::new(
        "States.Aborted",
        "the execution was stopped",
    ))
}

/// An execution this process runs, in [`Executions`]'s list while its run lasts.
struct Registered<'a> {
    executions: &'a Executions,
    name: &'a str,
}

impl<'a> Registered<'a> {
    fn new(executions: &'a Executions, name: &'a str, stop: Arc<Notify>) -> Self {
        lock(&executions.running).insert(name.to_owned(), stop);
        Self { executions, name }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.executions.running).remove(self.name);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a checkpoint names a completed step: `State#visit`.
pub(super) fn step_name(task: &TaskRequest) -> String {
    format!("{}#{}", task.state_name, task.visit)
}

/// Answers checkpointed steps from their checkpoints and checkpoints the others as they complete.
struct Checkpointing<'a> {
    inner: &'a dyn TaskInvoker,
    executions: &'a Executions,
    done: HashMap<String, Value>,
}

#[async_trait]
impl TaskInvoker for Checkpointing<'_> {
    async fn invoke(&self, task: TaskRequest) -> Result<Value, TaskFailure> {
        let step = step_name(&task);
        if let Some(output) = self.done.get(&step) {
            return Ok(output.clone());
        }
        let execution = task.execution_name.clone();
        let output = self.inner.invoke(task).await?;
        if let Err(e) = self.executions.checkpoint(&execution, &step, &output).await {
            tracing::warn!(
                execution,
                step,
                "could not checkpoint a completed task; it runs again if the execution resumes: {e}"
            );
        }
        Ok(output)
    }
}
