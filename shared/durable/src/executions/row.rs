//! An execution as its row stores it, and how a row is read back.

use serde_json::Value;

use super::{ExecutionStatus, ExecutionSummary};
use crate::db::DbError;
use crate::queue::time;

pub(super) struct ExecutionRow {
    pub(super) name: String,
    status: String,
    input: String,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    pub(super) history: Option<String>,
    pub(super) started_at: i64,
    stopped_at: Option<i64>,
    redrive_count: i64,
    redrive_date: Option<i64>,
}

/// Written out as `#[derive(sqlx::FromRow)]` would write it: the derive needs sqlx's macros,
/// which build both database drivers a second time (see the `embedded-migrations` crate).
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for ExecutionRow
where
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            name: row.try_get("name")?,
            status: row.try_get("status")?,
            input: row.try_get("input")?,
            output: row.try_get("output")?,
            error: row.try_get("error")?,
            cause: row.try_get("cause")?,
            history: row.try_get("history")?,
            started_at: row.try_get("started_at")?,
            stopped_at: row.try_get("stopped_at")?,
            redrive_count: row.try_get("redrive_count")?,
            redrive_date: row.try_get("redrive_date")?,
        })
    }
}

pub(super) fn json(text: &str, what: &str) -> Result<Value, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("{what}: {e}")))
}

impl ExecutionRow {
    pub(super) fn summary(&self) -> Result<ExecutionSummary, DbError> {
        let status = match self.status.as_str() {
            "RUNNING" => ExecutionStatus::Running,
            "SUCCEEDED" => ExecutionStatus::Succeeded {
                output: json(self.output.as_deref().unwrap_or("null"), "execution output")?,
            },
            "FAILED" => ExecutionStatus::Failed {
                error: self.error.clone().unwrap_or_default(),
                cause: self.cause.clone().unwrap_or_default(),
            },
            "ABORTED" => ExecutionStatus::Aborted {
                error: self.error.clone().unwrap_or_default(),
                cause: self.cause.clone().unwrap_or_default(),
            },
            other => return Err(DbError::Corrupt(format!("execution status {other:?}"))),
        };
        Ok(ExecutionSummary {
            name: self.name.clone(),
            status,
            input: json(&self.input, "execution input")?,
            started_at: time(self.started_at),
            stopped_at: self.stopped_at.map(time),
            redrive_count: u64::try_from(self.redrive_count).unwrap_or(0),
            redrive_date: self.redrive_date.map(time),
        })
    }
}
