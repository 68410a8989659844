//! What an operator (or the emulator's inspector) does with a queue, beside its producers and
//! consumers: its counters and messages, a purge, a redrive from the dead-letter queue, deleting
//! one message by id, and moving one to the dead-letter queue at once.

use std::collections::BTreeMap;

use super::{
    MessageRow, MessageState, MessageView, Queue, QueueError, QueueStats, parse_handle, time,
};
use crate::db::DbError;
use crate::on_pool;

/// How many messages the inspector's listing of a queue shows (the newest).
const LISTED_MESSAGES: i64 = 100;

impl Queue {
    /// Deletes every message of the queue (SQS `PurgeQueue`, done at once here) and returns how
    /// many there were.
    pub async fn purge(&self) -> Result<u64, QueueError> {
        let purged = on_pool!(self.db, pool => sqlx::query("DELETE FROM queue_messages WHERE queue = $1")
            .bind(&self.config.name)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(purged)
    }

    /// The queue's counters as of now.
    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let now = self.db.now_ms();
        let (visible, in_flight, delayed): (i64, i64, i64) = on_pool!(self.db, pool => sqlx::query_as(
            "SELECT \
               COALESCE(SUM(CASE WHEN visible_at <= $2 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN visible_at > $2 AND receive_count > 0 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN visible_at > $2 AND receive_count = 0 THEN 1 ELSE 0 END), 0) \
             FROM queue_messages WHERE queue = $1",
        )
        .bind(&self.config.name)
        .bind(now)
        .fetch_one(pool)
        .await)?;
        let dead_lettered: Option<i64> = on_pool!(self.db, pool => sqlx::query_scalar(
            "SELECT dead_lettered FROM queue_counters WHERE queue = $1",
        )
        .bind(&self.config.name)
        .fetch_optional(pool)
        .await)?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(QueueStats {
            name: self.config.name.clone(),
            visible: count(visible),
            in_flight: count(in_flight),
            delayed: count(delayed),
            dead_lettered: count(dead_lettered.unwrap_or(0)),
            dead_letter_queue: self
                .config
                .redrive
                .as_ref()
                .map(|redrive| redrive.dead_letter_queue.name().to_owned()),
        })
    }

    /// The newest messages the queue holds (at most 100), oldest first, as of now.
    pub async fn messages(&self) -> Result<Vec<MessageView>, QueueError> {
        let now = self.db.now_ms();
        let mut rows: Vec<MessageRow> = on_pool!(self.db, pool => sqlx::query_as(
            "SELECT message_id, body, attributes, sent_at, first_received_at, receive_count, visible_at \
             FROM queue_messages WHERE queue = $1 ORDER BY sent_at DESC, message_id DESC LIMIT $2",
        )
        .bind(&self.config.name)
        .bind(LISTED_MESSAGES)
        .fetch_all(pool)
        .await)?;
        rows.reverse();
        rows.into_iter()
            .map(|row| {
                let state = if row.visible_at <= now {
                    MessageState::Visible
                } else if row.receive_count > 0 {
                    MessageState::InFlight
                } else {
                    MessageState::Delayed
                };
                Ok(MessageView {
                    attributes: row.attributes()?,
                    message_id: row.message_id,
                    body: row.body,
                    receive_count: u32::try_from(row.receive_count).unwrap_or(u32::MAX),
                    state,
                    sent_at: time(row.sent_at),
                    visible_at: time(row.visible_at),
                })
            })
            .collect()
    }

    /// Moves this (dead-letter) queue's messages back to `source`, all of them or the one
    /// `message_id`, visible there at once and received there afresh (SQS's redrive, Service
    /// Bus's resubmit). Their attributes stay, the dead-letter reason included: the last failure
    /// is kept until the next one replaces it. Returns how many moved.
    pub async fn redrive_to(
        &self,
        source: &Queue,
        message_id: Option<&str>,
    ) -> Result<u64, QueueError> {
        let now = self.db.now_ms();
        let moved = match message_id {
            Some(id) => on_pool!(self.db, pool => sqlx::query(
                "UPDATE queue_messages SET queue = $1, receive_count = 0, first_received_at = NULL, \
                 visible_at = $2 WHERE queue = $3 AND message_id = $4",
            )
            .bind(&source.config.name)
            .bind(now)
            .bind(&self.config.name)
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?,
            None => on_pool!(self.db, pool => sqlx::query(
                "UPDATE queue_messages SET queue = $1, receive_count = 0, first_received_at = NULL, \
                 visible_at = $2 WHERE queue = $3",
            )
            .bind(&source.config.name)
            .bind(now)
            .bind(&self.config.name)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?,
        };
        if moved > 0 {
            source.changed.notify_waiters();
        }
        Ok(moved)
    }

    /// Deletes the message `message_id`, whatever its state; whether it was there.
    pub async fn delete_message(&self, message_id: &str) -> Result<bool, QueueError> {
        let deleted = on_pool!(self.db, pool => sqlx::query(
            "DELETE FROM queue_messages WHERE queue = $1 AND message_id = $2",
        )
        .bind(&self.config.name)
        .bind(message_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(deleted == 1)
    }

    /// Moves the in-flight message of `receipt_handle` to the dead-letter queue at once, with
    /// `reason` and `description` added to its attributes (as Service Bus's `DeadLetterReason`
    /// and `DeadLetterErrorDescription`): for a message that can never succeed, which redelivery
    /// would only repeat. Fails on a queue without a redrive policy, or a stale handle.
    pub async fn dead_letter_now(
        &self,
        receipt_handle: &str,
        reason: &str,
        description: &str,
    ) -> Result<(), QueueError> {
        let (message_id, receive_count) = parse_handle(receipt_handle)?;
        let Some(redrive) = &self.config.redrive else {
            return Err(QueueError::NoDeadLetterQueue(self.config.name.clone()));
        };
        let attributes: Option<String> = on_pool!(self.db, pool => sqlx::query_scalar(
            "SELECT attributes FROM queue_messages WHERE message_id = $1 AND queue = $2 AND receive_count = $3",
        )
        .bind(message_id)
        .bind(&self.config.name)
        .bind(receive_count)
        .fetch_optional(pool)
        .await)?;
        let Some(attributes) = attributes else {
            return Err(QueueError::ReceiptHandleIsInvalid(
                receipt_handle.to_owned(),
            ));
        };
        let mut attributes: BTreeMap<String, String> = serde_json::from_str(&attributes)
            .map_err(|e| DbError::Corrupt(format!("message attributes: {e}")))?;
        attributes.insert("DeadLetterReason".into(), reason.to_owned());
        attributes.insert("DeadLetterErrorDescription".into(), description.to_owned());
        let attributes = serde_json::to_string(&attributes)
            .map_err(|e| DbError::Corrupt(format!("message attributes: {e}")))?;
        let moved = self
            .dead_letter(
                redrive,
                &[(message_id, receive_count, Some(attributes))],
                self.db.now_ms(),
            )
            .await?;
        if moved == 0 {
            return Err(QueueError::ReceiptHandleIsInvalid(
                receipt_handle.to_owned(),
            ));
        }
        Ok(())
    }
}
