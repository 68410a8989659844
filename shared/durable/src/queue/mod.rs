//! A message queue with Amazon SQS (standard queue) semantics, kept in SQL so that a crash or a
//! restart loses nothing.
//!
//! # SQS behaviours reproduced
//!
//! - **At-least-once delivery with a visibility timeout**: a received message is hidden for the
//!   receive's own timeout, or else the queue's; unless it is deleted in time, it becomes visible
//!   and is delivered again. After a restart, messages that were in flight come back once their
//!   timeout has passed, as in SQS.
//! - **Receive count and receipt handles**: every receive increments the message's receive count
//!   and issues a new receipt handle; once a message has been received again, its earlier handles
//!   no longer delete it or change its visibility ([`QueueError::ReceiptHandleIsInvalid`]). A
//!   handle stays valid while its message was not received again, even if its visibility expired.
//! - **ChangeMessageVisibility**, on in-flight messages only ([`QueueError::MessageNotInflight`]).
//! - **Redrive policy**: a due message already received `maxReceiveCount` times moves to the
//!   dead-letter queue when a receive reaches it, instead of being delivered, keeping its id, body, attributes and sent time;
//!   there it starts with a receive count of 0, visible at once.
//! - **Delivery delay**, per queue or per message; **batches** of 1 to 10; **long polling**.
//!
//! Receives are one atomic `UPDATE … RETURNING`, so two consumers (two processes on one
//! PostgreSQL database) never receive the same message within its visibility timeout.
//!
//! # Not reproduced
//!
//! FIFO queues; retention (messages never expire); SQS's distributed sampling (a receive here sees
//! every visible message, in the order they became visible); service limits (size, the 12-hour
//! visibility cap, the 15-minute delay cap); attribute data types and MD5 digests. Long polling is
//! woken at once by sends from this process, and by its own timer for the rest.
//!
//! This file is what producers and consumers do (send, receive, delete, change visibility);
//! `operator.rs` is what an operator or the inspector does (counters, listing, purge, redrive,
//! delete by id, dead-letter now).

mod operator;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use group_commit::{Arg, BatchedWrite};
use serde::Serialize;
use tokio::sync::Notify;

use crate::db::{Db, DbError, millis};
use crate::on_pool;

/// SQS's default visibility timeout for a queue.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest number of messages one receive returns (SQS `MaxNumberOfMessages` maximum).
pub const MAX_BATCH_SIZE: usize = 10;

/// How a queue is set up.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub name: String,
    /// How long a received message stays invisible unless the receive asks otherwise.
    pub visibility_timeout: Duration,
    /// Delivery delay of messages sent without a delay of their own.
    pub delay: Duration,
    /// Where messages that were received too often go.
    pub redrive: Option<Redrive>,
}

impl QueueConfig {
    /// A queue with SQS's defaults: 30 s visibility timeout, no delay, no dead-letter queue.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            delay: Duration::ZERO,
            redrive: None,
        }
    }
}

/// Redrive policy: the dead-letter queue and after how many receives a message goes there.
#[derive(Debug, Clone)]
pub struct Redrive {
    pub dead_letter_queue: Arc<Queue>,
    /// A message already received this many times is moved instead of delivered again.
    pub max_receive_count: u32,
}

/// A message handed out by a receive.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// Kept when the message moves to a dead-letter queue.
    pub message_id: String,
    /// For [`Queue::delete`] and [`Queue::change_visibility`]; new on every receive.
    pub receipt_handle: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    /// How many times the message was received from this queue, this receive included.
    pub receive_count: u32,
    /// SQS `SentTimestamp`.
    pub sent_at: DateTime<Utc>,
    /// SQS `ApproximateFirstReceiveTimestamp`.
    pub first_received_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The handle is unknown, its message was deleted or dead-lettered, or the message was
    /// received again since (SQS `ReceiptHandleIsInvalid`).
    #[error("the receipt handle {0:?} is invalid")]
    ReceiptHandleIsInvalid(String),
    /// `change_visibility` on a message that is not in flight
    /// (SQS `AWS.SimpleQueueService.MessageNotInflight`).
    #[error("the message of receipt handle {0:?} is not in flight")]
    MessageNotInflight(String),
    /// `dead_letter_now` on a queue without a redrive policy.
    #[error("the queue {0:?} has no dead-letter queue")]
    NoDeadLetterQueue(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for QueueError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Where a message stands, as of now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageState {
    Visible,
    InFlight,
    Delayed,
}

/// Counters of a queue, for the inspector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    pub name: String,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    /// Messages this queue has moved to its dead-letter queue so far.
    pub dead_lettered: u64,
    pub dead_letter_queue: Option<String>,
}

/// One message as the inspector shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub message_id: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    pub receive_count: u32,
    pub state: MessageState,
    pub sent_at: DateTime<Utc>,
    /// When a message in flight or delayed can be received again (or now, for a visible one).
    pub visible_at: DateTime<Utc>,
}

struct MessageRow {
    message_id: String,
    body: String,
    attributes: String,
    sent_at: i64,
    first_received_at: Option<i64>,
    receive_count: i64,
    visible_at: i64,
}

/// Written out as `#[derive(sqlx::FromRow)]` would write it: the derive needs sqlx's macros,
/// which build both database drivers a second time (see the `embedded-migrations` crate).
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for MessageRow
where
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            message_id: row.try_get("message_id")?,
            body: row.try_get("body")?,
            attributes: row.try_get("attributes")?,
            sent_at: row.try_get("sent_at")?,
            first_received_at: row.try_get("first_received_at")?,
            receive_count: row.try_get("receive_count")?,
            visible_at: row.try_get("visible_at")?,
        })
    }
}

impl MessageRow {
    fn attributes(&self) -> Result<BTreeMap<String, String>, DbError> {
        serde_json::from_str(&self.attributes)
            .map_err(|e| DbError::Corrupt(format!("message attributes: {e}")))
    }
}

/// An SQS-like standard queue in the database, shared behind an [`Arc`].
#[derive(Debug)]
pub struct Queue {
    db: Db,
    config: QueueConfig,
    /// Sends, written in batches.
    sends: BatchedWrite,
    /// Woken when this process sends or makes a message visible sooner than waiters planned.
    changed: Notify,
}

impl Queue {
    /// The queue `config` names, in `db` (which keeps its messages across restarts).
    pub fn new(db: Db, config: QueueConfig) -> Self {
        let sends = BatchedWrite::new(
            db.rounds(),
            "INSERT INTO queue_messages (message_id, queue, body, attributes, sent_at, receive_count, visible_at) VALUES",
            "RETURNING message_id",
        );
        Self {
            db,
            config,
            sends,
            changed: Notify::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// How the queue is set up.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Enqueues a message and returns its id. `delay` overrides the queue's delivery delay.
    pub async fn send(
        &self,
        body: String,
        attributes: BTreeMap<String, String>,
        delay: Option<Duration>,
    ) -> Result<String, QueueError> {
        let message_id = uuid::Uuid::new_v4().to_string();
        let now = self.db.now_ms();
        let visible_at = now.saturating_add(millis(delay.unwrap_or(self.config.delay)));
        let attributes = serde_json::to_string(&attributes)
            .map_err(|e| DbError::Corrupt(format!("message attributes: {e}")))?;
        let row = vec![
            Arg::Text(Some(message_id.clone())),
            Arg::Text(Some(self.config.name.clone())),
            Arg::Text(Some(body)),
            Arg::Text(Some(attributes)),
            Arg::Int(Some(now)),
            Arg::Int(Some(0)),
            Arg::Int(Some(visible_at)),
        ];
        self.sends
            .write(message_id.clone(), row)
            .await
            .map_err(DbError::from)?;
        self.changed.notify_waiters();
        Ok(message_id)
    }

    /// Receives up to `max_messages` (clamped to 1..=10) visible messages without waiting. Each
    /// becomes invisible for `visibility_timeout`, or the queue's.
    pub async fn receive(
        &self,
        max_messages: usize,
        visibility_timeout: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        Ok(self.poll(max_messages, visibility_timeout).await?.0)
    }

    /// Long polling: like [`Queue::receive`], but when nothing is visible waits until a message
    /// is, or until `wait` has elapsed.
    pub async fn receive_wait(
        &self,
        max_messages: usize,
        visibility_timeout: Option<Duration>,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let deadline = self.db.now_ms().saturating_add(millis(wait));
        loop {
            // Registered before polling, so that a send right after the poll still wakes us.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();

            let (messages, next_visible_at) = self.poll(max_messages, visibility_timeout).await?;
            let now = self.db.now_ms();
            if !messages.is_empty() || now >= deadline {
                return Ok(messages);
            }
            let wake_at = next_visible_at.map_or(deadline, |at| at.min(deadline));
            let sleep = Duration::from_millis(u64::try_from(wake_at - now).unwrap_or(0));
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Deletes the message that `receipt_handle` was issued for.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let (message_id, receive_count) = parse_handle(receipt_handle)?;
        let deleted = on_pool!(self.db, pool => sqlx::query(
            "DELETE FROM queue_messages WHERE message_id = $1 AND queue = $2 AND receive_count = $3",
        )
        .bind(message_id)
        .bind(&self.config.name)
        .bind(receive_count)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        if deleted == 0 {
            return Err(QueueError::ReceiptHandleIsInvalid(
                receipt_handle.to_owned(),
            ));
        }
        Ok(())
    }

    /// Deletes the messages of several receipt handles in one statement (what a consumer does
    /// with a handled batch); handles that are no longer valid are skipped. Returns how many
    /// messages were deleted.
    pub async fn delete_batch(&self, receipt_handles: &[&str]) -> Result<u64, QueueError> {
        let handles: Vec<(&str, i64)> = receipt_handles
            .iter()
            .filter_map(|handle| parse_handle(handle).ok())
            .collect();
        if handles.is_empty() {
            return Ok(0);
        }
        let pairs: Vec<String> = (0..handles.len())
            .map(|i| {
                format!(
                    "(message_id = ${} AND receive_count = ${})",
                    2 * i + 2,
                    2 * i + 3
                )
            })
            .collect();
        let sql = format!(
            "DELETE FROM queue_messages WHERE queue = $1 AND ({})",
            pairs.join(" OR ")
        );
        let deleted = on_pool!(self.db, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&self.config.name);
            for (message_id, receive_count) in &handles {
                query = query.bind(*message_id).bind(*receive_count);
            }
            query.execute(pool).await.map(|done| done.rows_affected())
        })?;
        Ok(deleted)
    }

    /// Makes the in-flight message of `receipt_handle` visible again `timeout` from now (at once
    /// for zero).
    pub async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let (message_id, receive_count) = parse_handle(receipt_handle)?;
        let now = self.db.now_ms();
        let changed = on_pool!(self.db, pool => sqlx::query(
            "UPDATE queue_messages SET visible_at = $1 \
             WHERE message_id = $2 AND queue = $3 AND receive_count = $4 AND visible_at > $5",
        )
        .bind(now.saturating_add(millis(timeout)))
        .bind(message_id)
        .bind(&self.config.name)
        .bind(receive_count)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        if changed == 1 {
            self.changed.notify_waiters();
            return Ok(());
        }
        let exists: Option<i64> = on_pool!(self.db, pool => sqlx::query_scalar(
            "SELECT receive_count FROM queue_messages WHERE message_id = $1 AND queue = $2 AND receive_count = $3",
        )
        .bind(message_id)
        .bind(&self.config.name)
        .bind(receive_count)
        .fetch_optional(pool)
        .await)?;
        Err(match exists {
            Some(_) => QueueError::MessageNotInflight(receipt_handle.to_owned()),
            None => QueueError::ReceiptHandleIsInvalid(receipt_handle.to_owned()),
        })
    }

    /// One receive attempt: moves the messages received too often to the dead-letter queue,
    /// delivers visible ones, and, when it delivered none, tells when one is or becomes visible.
    /// (On PostgreSQL a receive that raced another process for the same rows delivers none while
    /// others are visible: then that time is not in the future, and a long poll polls again
    /// instead of sleeping.)
    async fn poll(
        &self,
        max_messages: usize,
        visibility_timeout: Option<Duration>,
    ) -> Result<(Vec<ReceivedMessage>, Option<i64>), QueueError> {
        let max_messages = i64::try_from(max_messages.clamp(1, MAX_BATCH_SIZE)).unwrap_or(1);
        let now = self.db.now_ms();
        let invisible_until = now.saturating_add(millis(
            visibility_timeout.unwrap_or(self.config.visibility_timeout),
        ));
        // The outer `visible_at <= now` is checked again on the row being updated, so that of two
        // concurrent receivers (two processes on PostgreSQL) only one takes a message.
        let mut rows: Vec<MessageRow> = on_pool!(self.db, pool => sqlx::query_as(
            "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = $1, \
               first_received_at = COALESCE(first_received_at, $2) \
             WHERE message_id IN ( \
               SELECT message_id FROM queue_messages WHERE queue = $3 AND visible_at <= $2 \
               ORDER BY visible_at LIMIT $4) \
             AND queue = $3 AND visible_at <= $2 \
             RETURNING message_id, body, attributes, sent_at, first_received_at, receive_count, visible_at",
        )
        .bind(invisible_until)
        .bind(now)
        .bind(&self.config.name)
        .bind(max_messages)
        .fetch_all(pool)
        .await)?;
        if rows.is_empty() {
            let next: Option<i64> = on_pool!(self.db, pool => sqlx::query_scalar(
                "SELECT MIN(visible_at) FROM queue_messages WHERE queue = $1",
            )
            .bind(&self.config.name)
            .fetch_one(pool)
            .await)?;
            return Ok((Vec::new(), next));
        }
        if let Some(redrive) = &self.config.redrive {
            // Received once more than the redrive policy allows: moved, not delivered.
            let (over, due): (Vec<_>, Vec<_>) = rows
                .into_iter()
                .partition(|row| row.receive_count > i64::from(redrive.max_receive_count));
            rows = due;
            if !over.is_empty() {
                let moves: Vec<_> = over
                    .iter()
                    .map(|row| (row.message_id.as_str(), row.receive_count, None))
                    .collect();
                self.dead_letter(redrive, &moves, now).await?;
                if rows.is_empty() {
                    // Others may be visible behind the ones moved: look again at once.
                    return Ok((Vec::new(), Some(now)));
                }
            }
        }
        rows.sort_by(|a, b| (a.sent_at, &a.message_id).cmp(&(b.sent_at, &b.message_id)));
        let messages = rows
            .into_iter()
            .map(|row| {
                Ok(ReceivedMessage {
                    attributes: row.attributes()?,
                    receipt_handle: format!("{}#{}", row.message_id, row.receive_count),
                    message_id: row.message_id,
                    body: row.body,
                    receive_count: u32::try_from(row.receive_count).unwrap_or(u32::MAX),
                    sent_at: time(row.sent_at),
                    first_received_at: time(row.first_received_at.unwrap_or(now)),
                })
            })
            .collect::<Result<_, DbError>>()?;
        Ok((messages, None))
    }

    /// Moves messages (by id and the receive count they were received with, and, when given,
    /// new attributes) to the dead-letter queue: visible there at once, never received there.
    /// Returns how many moved.
    async fn dead_letter(
        &self,
        redrive: &Redrive,
        moves: &[(&str, i64, Option<String>)],
        now: i64,
    ) -> Result<u64, QueueError> {
        let mut moved = 0;
        for (message_id, receive_count, attributes) in moves {
            moved += on_pool!(self.db, pool => sqlx::query(
                "UPDATE queue_messages SET queue = $1, receive_count = 0, first_received_at = NULL, visible_at = $2, \
                   attributes = COALESCE($6, attributes) \
                 WHERE message_id = $3 AND queue = $4 AND receive_count = $5",
            )
            .bind(redrive.dead_letter_queue.name())
            .bind(now)
            .bind(*message_id)
            .bind(&self.config.name)
            .bind(*receive_count)
            .bind(attributes.as_deref())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        }
        on_pool!(self.db, pool => sqlx::query(
            "INSERT INTO queue_counters (queue, dead_lettered) VALUES ($1, $2) \
             ON CONFLICT (queue) DO UPDATE SET dead_lettered = queue_counters.dead_lettered + $2",
        )
        .bind(&self.config.name)
        .bind(i64::try_from(moved).unwrap_or(i64::MAX))
        .execute(pool)
        .await
        .map(drop))?;
        redrive.dead_letter_queue.changed.notify_waiters();
        Ok(moved)
    }
}

/// A receipt handle is `message id#receive count`: a later receive makes earlier handles stale,
/// and no handle names a message before its first receive.
fn parse_handle(handle: &str) -> Result<(&str, i64), QueueError> {
    handle
        .rsplit_once('#')
        .and_then(|(id, count)| Some((id, count.parse().ok().filter(|&n: &i64| n >= 1)?)))
        .ok_or_else(|| QueueError::ReceiptHandleIsInvalid(handle.to_owned()))
}

pub(crate) fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
