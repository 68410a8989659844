//! Redrives (Step Functions' `RedriveExecution`): which stopped executions can be started again,
//! and starting one again from where it stopped. The run itself is the module's [`run`](super::run), resumed:
//! the tasks the execution completed answer from their checkpoints.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use workflow::History;

use super::{ExecutionStatus, ExecutionSummary, Executions, compact_history, stored_events};
use crate::db::DbError;
use crate::on_pool;
use crate::queue::time;

impl ExecutionSummary {
    /// Why it cannot be redriven at `now`, in Step Functions' words (its `redriveStatusReason`),
    /// or `None` when it can be.
    pub fn not_redrivable(&self, now: DateTime<Utc>) -> Option<&'static str> {
        match (&self.status, self.stopped_at) {
            (ExecutionStatus::Running, _) => Some("Execution is RUNNING and cannot be redriven."),
            (ExecutionStatus::Succeeded { .. }, _) => {
                Some("Execution is SUCCEEDED and cannot be redriven.")
            }
            (_, Some(stopped))
                if (now - stopped).to_std().unwrap_or_default() > REDRIVABLE_PERIOD =>
            {
                Some("Execution redrivable period exceeded.")
            }
            _ => None,
        }
    }
}

/// How long after it stopped an execution can be redriven: Step Functions' 14 days.
pub const REDRIVABLE_PERIOD: Duration = Duration::from_secs(14 * 24 * 60 * 60);
/// Step Functions' limit on a history's events, less room for the redrive's own.
const REDRIVE_EVENT_LIMIT: usize = 24_999;

/// Why [`Executions::redrive`] did not redrive.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("no execution named {0:?}")]
    NotFound(String),
    /// Step Functions' `ExecutionNotRedrivable`, with its reason.
    #[error("{0}")]
    NotRedrivable(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A redriven execution, `RUNNING` again and leased to the caller, who resumes it with [`run`](super::run).
#[derive(Debug, Clone)]
pub struct Redriven {
    pub input: Value,
    pub redrive_count: u64,
    pub redrive_date: DateTime<Utc>,
}

impl Executions {
    /// Redrives the execution `name` (Step Functions' `RedriveExecution`): if it failed or was
    /// stopped within [`REDRIVABLE_PERIOD`], it is `RUNNING` again, leased to the caller, with its
    /// redrive counted and an `ExecutionRedriven` event after its stored history. The caller then
    /// [`run`](super::run)s it as resumed: the tasks it completed answer from their checkpoints, and the rest
    /// (the failed ones, and those stopped with them) run again, with their retries anew.
    pub async fn redrive(&self, name: &str) -> Result<Redriven, RedriveError> {
        let record = self
            .get(name)
            .await?
            .ok_or_else(|| RedriveError::NotFound(name.to_owned()))?;
        let summary = &record.summary;
        let now = self.db.now_ms();
        if let Some(reason) = summary.not_redrivable(time(now)) {
            return Err(RedriveError::NotRedrivable(reason));
        }
        if record.events.len() >= REDRIVE_EVENT_LIMIT {
            return Err(RedriveError::NotRedrivable(
                "Execution history event limit exceeded.",
            ));
        }
        let history = History::new();
        history.continue_from(stored_events(record.events)?);
        let redrive_count = summary.redrive_count + 1;
        history.record_redriven(redrive_count);
        let status = match summary.status {
            ExecutionStatus::Aborted { .. } => "ABORTED",
            _ => "FAILED",
        };
        // Only if nothing changed it since it was read: two redrives at once redrive once.
        let redriven = on_pool!(self.db, pool => sqlx::query(
            "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, \
             stopped_at = NULL, history = $1, redrive_count = $2, redrive_date = $3, lease_until = $4 \
             WHERE name = $5 AND status = $6 AND redrive_count = $7",
        )
        .bind(compact_history(&history)?)
        .bind(i64::try_from(redrive_count).unwrap_or(i64::MAX))
        .bind(now)
        .bind(self.lease_until())
        .bind(name)
        .bind(status)
        .bind(i64::try_from(summary.redrive_count).unwrap_or(i64::MAX))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(DbError::from)?;
        if redriven == 0 {
            return Err(RedriveError::NotRedrivable(
                "Execution is RUNNING and cannot be redriven.",
            ));
        }
        Ok(Redriven {
            input: record.summary.input,
            redrive_count,
            redrive_date: time(now),
        })
    }
}
