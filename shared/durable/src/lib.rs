//! What a local or self-hosted cloud must not lose, kept in SQL (SQLite or PostgreSQL, the same
//! `DATABASE_URL` as the order store): queues, workflow executions with a checkpoint of every
//! completed task, and the payment function's idempotency records and declined payments.
//!
//! The emulator runs its queues and its Step Functions on this crate, so that `kill -9` at any
//! moment loses nothing: messages in flight come back after their visibility timeout, and
//! executions resume from their checkpoints without running a completed task again. The Azure
//! orchestrator runs the same durable executions on PostgreSQL (`functions/azure-app`).
//!
//! Layout: `db.rs` opens either database and applies `migrations/` (one portable SQL text for
//! both); `queue/` the SQS-like queue (`mod.rs` its producers' and consumers' side,
//! `operator.rs` its operator's); `executions/` durable executions of the workflow crate's
//! interpreter; `idempotency.rs` the idempotency records; `declines.rs` the declined payments; `page.rs` paged listings; `tasks.rs` a
//! task function called as a workflow task. Rows that many tasks write at once go to the database
//! together, through the `group-commit` crate.

mod db;
pub mod declines;
pub mod executions;
pub mod idempotency;
pub mod page;
pub mod queue;
pub mod tasks;

pub use db::{Db, DbError, Pool};
pub use declines::SqlDeclineLedger;
pub use executions::{
    ExecutionRecord, ExecutionStatus, ExecutionSummary, Executions, RedriveError, Redriven,
};
pub use idempotency::SqlIdempotencyStore;
pub use page::{Page, PageRequest};
pub use queue::{Queue, QueueConfig, QueueError, Redrive};
