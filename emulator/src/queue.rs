//! In-memory message queue with Amazon SQS (standard queue) semantics.
//!
//! # Why this exists
//!
//! In production the conference-registration functions are wired together by SQS
//! queues: a function is triggered by the messages of a queue, a message that its
//! handler fails on comes back after the visibility timeout, and one that keeps failing
//! ends up in a dead-letter queue. The emulator runs those functions locally, so it
//! needs a queue that behaves the same way, without AWS and without real waiting: every
//! deadline here is a [`tokio::time::Instant`], so under tokio's paused clock
//! (`#[tokio::test(start_paused = true)]`, `tokio::time::advance`) a test of retries and
//! dead-lettering over minutes of queue time runs in microseconds. Wall-clock time
//! ([`chrono::Utc::now`]) is only used for display (`sentAt`, first receive time).
//!
//! # SQS behaviours reproduced
//!
//! - **At-least-once delivery with a visibility timeout**: a received message is hidden
//!   for the receive's own timeout, or else the queue's (SQS default 30 s); unless it is
//!   deleted in time, it becomes visible and is delivered again.
//! - **Receive count and receipt handles**: every receive increments the message's
//!   receive count and issues a new receipt handle; once a message has been received
//!   again, its earlier handles no longer delete it or change its visibility
//!   ([`QueueError::ReceiptHandleIsInvalid`]). A handle stays valid while its message was
//!   not received again, even if its visibility expired meanwhile (as in SQS).
//! - **ChangeMessageVisibility**: sets the remaining invisibility of an in-flight message
//!   (0 makes it visible at once); on a message that is not in flight it fails with
//!   [`QueueError::MessageNotInflight`].
//! - **Redrive policy**: when a receive reaches a message whose receive count already
//!   equals `maxReceiveCount`, the message is not delivered but moved to the dead-letter
//!   queue, keeping its message id, body, attributes and sent time; there it starts with
//!   a receive count of 0 and is visible at once.
//! - **Delivery delay**: the queue's default delay, or a per-message delay that overrides
//!   it; a delayed message is invisible until its delay has passed.
//! - **Batches**: a receive returns at most `MaxNumberOfMessages`, clamped to 1..=10.
//! - **Long polling**: [`Queue::receive_wait`] returns as soon as a message is available
//!   (sent, made visible by `change_visibility`, or come out of its delay or visibility
//!   timeout) or when the wait has elapsed, with whatever it then has.
//!
//! # Not reproduced
//!
//! - FIFO queues: message groups, deduplication ids, exactly-once processing.
//! - Message retention period: messages never expire. Nor a purge operation.
//! - SQS's distributed sampling: a receive here always sees every visible message (oldest
//!   first) and never returns a message twice within its visibility timeout, whereas a
//!   real short-polling receive may return fewer messages, or none, from a non-empty queue.
//! - Service limits: message size, the 12-hour cap on visibility, the 15-minute cap on
//!   delay, the 20-second cap on long-polling waits, and the 1..=1000 range of
//!   `maxReceiveCount` are not enforced; the caller validates requests if it cares.
//! - System attributes beyond the receive count, sent time and first receive time;
//!   MD5 digests; message attribute data types (attributes are plain strings here);
//!   persistence, permissions, tags, metrics.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;
use tokio::time::Instant;

/// SQS's default visibility timeout for a queue.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest number of messages one receive returns (SQS `MaxNumberOfMessages` maximum).
pub const MAX_BATCH_SIZE: usize = 10;

/// Stand-in for "never" when a duration is too large to be added to an instant.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// How a queue is set up.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Queue name, as shown by the inspector.
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
    /// Queue that receives the messages moved out of this one.
    pub dead_letter_queue: Arc<Queue>,
    /// A message already received this many times is moved instead of delivered again.
    pub max_receive_count: u32,
}

/// A message handed out by a receive.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// Id given by [`Queue::send`]; kept when the message moves to a dead-letter queue.
    pub message_id: String,
    /// Handle for [`Queue::delete`] and [`Queue::change_visibility`], new on every receive.
    pub receipt_handle: String,
    /// Message body as sent.
    pub body: String,
    /// Message attributes as sent.
    pub attributes: BTreeMap<String, String>,
    /// How many times the message was received from this queue, this receive included.
    pub receive_count: u32,
    /// When the message was sent (SQS `SentTimestamp`); display only.
    pub sent_at: DateTime<Utc>,
    /// When it was first received from this queue (SQS `ApproximateFirstReceiveTimestamp`).
    pub first_received_at: DateTime<Utc>,
}

/// Why a queue operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The handle is unknown, its message was deleted or dead-lettered, or the message
    /// was received again since (SQS `ReceiptHandleIsInvalid`).
    #[error("the receipt handle {0:?} is invalid")]
    ReceiptHandleIsInvalid(String),
    /// `change_visibility` on a message that is visible, i.e. not in flight
    /// (SQS `AWS.SimpleQueueService.MessageNotInflight`).
    #[error("the message of receipt handle {0:?} is not in flight")]
    MessageNotInflight(String),
}

/// Where a message stands, as of now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageState {
    /// Can be received.
    Visible,
    /// Received, and its visibility timeout has not expired.
    InFlight,
    /// Never received, and its delivery delay has not passed.
    Delayed,
}

/// Counters of a queue, for the inspector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// Queue name.
    pub name: String,
    /// Messages that a receive would return now.
    pub visible: usize,
    /// Messages received and not yet deleted nor visible again.
    pub in_flight: usize,
    /// Messages waiting for their delivery delay.
    pub delayed: usize,
    /// Messages this queue has moved to its dead-letter queue so far.
    pub dead_lettered: u64,
    /// Name of the dead-letter queue, if any.
    pub dead_letter_queue: Option<String>,
}

/// One message as the inspector shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Message id.
    pub message_id: String,
    /// Message body.
    pub body: String,
    /// Message attributes as sent.
    pub attributes: BTreeMap<String, String>,
    /// Times received from this queue.
    pub receive_count: u32,
    /// Where the message stands now.
    pub state: MessageState,
    /// When it was sent; serialized as RFC 3339.
    pub sent_at: DateTime<Utc>,
}

/// An SQS-like standard queue, shared behind an [`Arc`] by the tasks that use it.
#[derive(Debug)]
pub struct Queue {
    config: QueueConfig,
    state: Mutex<State>,
    /// Woken whenever a message may have become receivable sooner than waiters planned.
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Messages by arrival order, so iteration is oldest first.
    messages: BTreeMap<u64, StoredMessage>,
    /// Current receipt handle → arrival number of its message.
    handles: HashMap<String, u64>,
    next_seq: u64,
    dead_lettered: u64,
}

#[derive(Debug)]
struct StoredMessage {
    message_id: String,
    body: String,
    attributes: BTreeMap<String, String>,
    sent_at: DateTime<Utc>,
    first_received_at: Option<DateTime<Utc>>,
    receive_count: u32,
    /// Until then the message is delayed (never received) or in flight (received).
    visible_at: Instant,
    /// Handle of the latest receive; `None` while never received here.
    receipt_handle: Option<String>,
}

impl StoredMessage {
    fn state(&self, now: Instant) -> MessageState {
        if self.visible_at <= now {
            MessageState::Visible
        } else if self.receipt_handle.is_some() {
            MessageState::InFlight
        } else {
            MessageState::Delayed
        }
    }
}

impl State {
    fn insert(&mut self, message: StoredMessage) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.messages.insert(seq, message);
    }
}

/// What one receive attempt produced.
struct Poll {
    messages: Vec<ReceivedMessage>,
    /// When nothing was received: the earliest time a message becomes visible.
    next_visible_at: Option<Instant>,
}

impl Queue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Enqueues a message and returns its message id. `delay` overrides the queue's
    /// default delivery delay.
    pub fn send(
        &self,
        body: String,
        attributes: BTreeMap<String, String>,
        delay: Option<Duration>,
    ) -> String {
        let message_id = uuid::Uuid::new_v4().to_string();
        let visible_at = after(Instant::now(), delay.unwrap_or(self.config.delay));
        self.lock().insert(StoredMessage {
            message_id: message_id.clone(),
            body,
            attributes,
            sent_at: Utc::now(),
            first_received_at: None,
            receive_count: 0,
            visible_at,
            receipt_handle: None,
        });
        self.changed.notify_waiters();
        message_id
    }

    /// Receives up to `max_messages` (clamped to 1..=10) visible messages, oldest first,
    /// without waiting. Each becomes invisible for `visibility_timeout`, or the queue's.
    pub fn receive(
        &self,
        max_messages: usize,
        visibility_timeout: Option<Duration>,
    ) -> Vec<ReceivedMessage> {
        self.poll(max_messages, visibility_timeout).messages
    }

    /// Long polling: like [`Queue::receive`], but when nothing is visible waits until a
    /// message is or until `wait` has elapsed, whichever comes first.
    pub async fn receive_wait(
        &self,
        max_messages: usize,
        visibility_timeout: Option<Duration>,
        wait: Duration,
    ) -> Vec<ReceivedMessage> {
        let deadline = after(Instant::now(), wait);
        loop {
            // Registered before polling, so a change made right after the poll still wakes us.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();

            let poll = self.poll(max_messages, visibility_timeout);
            if !poll.messages.is_empty() || Instant::now() >= deadline {
                return poll.messages;
            }
            let wake_at = poll
                .next_visible_at
                .map_or(deadline, |visible_at| visible_at.min(deadline));
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// Deletes the message that `receipt_handle` was issued for.
    pub fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut state = self.lock();
        let seq = state
            .handles
            .remove(receipt_handle)
            .ok_or_else(|| QueueError::ReceiptHandleIsInvalid(receipt_handle.to_owned()))?;
        state.messages.remove(&seq);
        Ok(())
    }

    /// Makes the in-flight message of `receipt_handle` visible again after `timeout` from
    /// now (at once for zero).
    pub fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        let now = Instant::now();
        {
            let mut guard = self.lock();
            let state = &mut *guard;
            let message = state
                .handles
                .get(receipt_handle)
                .and_then(|seq| state.messages.get_mut(seq))
                .ok_or_else(|| QueueError::ReceiptHandleIsInvalid(receipt_handle.to_owned()))?;
            if message.state(now) != MessageState::InFlight {
                return Err(QueueError::MessageNotInflight(receipt_handle.to_owned()));
            }
            message.visible_at = after(now, timeout);
        }
        self.changed.notify_waiters();
        Ok(())
    }

    /// The queue's counters as of now.
    pub fn stats(&self) -> QueueStats {
        let now = Instant::now();
        let state = self.lock();
        let mut stats = QueueStats {
            name: self.config.name.clone(),
            visible: 0,
            in_flight: 0,
            delayed: 0,
            dead_lettered: state.dead_lettered,
            dead_letter_queue: self
                .config
                .redrive
                .as_ref()
                .map(|redrive| redrive.dead_letter_queue.name().to_owned()),
        };
        for message in state.messages.values() {
            match message.state(now) {
                MessageState::Visible => stats.visible += 1,
                MessageState::InFlight => stats.in_flight += 1,
                MessageState::Delayed => stats.delayed += 1,
            }
        }
        stats
    }

    /// Every message the queue holds, oldest first, as of now.
    pub fn messages(&self) -> Vec<MessageView> {
        let now = Instant::now();
        self.lock()
            .messages
            .values()
            .map(|message| MessageView {
                message_id: message.message_id.clone(),
                body: message.body.clone(),
                attributes: message.attributes.clone(),
                receive_count: message.receive_count,
                state: message.state(now),
                sent_at: message.sent_at,
            })
            .collect()
    }

    /// One receive attempt: delivers visible messages, dead-letters those received too
    /// often, and tells when to look again if it delivered nothing.
    fn poll(&self, max_messages: usize, visibility_timeout: Option<Duration>) -> Poll {
        let max_messages = max_messages.clamp(1, MAX_BATCH_SIZE);
        let now = Instant::now();
        let invisible_until = after(
            now,
            visibility_timeout.unwrap_or(self.config.visibility_timeout),
        );
        let received_at = Utc::now();
        let mut messages = Vec::new();
        let mut dead_letters = Vec::new();
        let next_visible_at;
        {
            let mut guard = self.lock();
            let state = &mut *guard;
            let candidates: Vec<u64> = state
                .messages
                .iter()
                .filter(|(_, message)| message.visible_at <= now)
                .map(|(&seq, _)| seq)
                .collect();
            for seq in candidates {
                if messages.len() == max_messages {
                    break;
                }
                let Some(message) = state.messages.get_mut(&seq) else {
                    continue;
                };
                if let Some(redrive) = &self.config.redrive
                    && message.receive_count >= redrive.max_receive_count
                {
                    if let Some(handle) = &message.receipt_handle {
                        state.handles.remove(handle);
                    }
                    if let Some(message) = state.messages.remove(&seq) {
                        dead_letters.push(message);
                        state.dead_lettered += 1;
                    }
                    continue;
                }
                let receipt_handle = uuid::Uuid::new_v4().to_string();
                if let Some(stale) = message.receipt_handle.replace(receipt_handle.clone()) {
                    state.handles.remove(&stale);
                }
                state.handles.insert(receipt_handle.clone(), seq);
                message.receive_count += 1;
                message.visible_at = invisible_until;
                messages.push(ReceivedMessage {
                    message_id: message.message_id.clone(),
                    receipt_handle,
                    body: message.body.clone(),
                    attributes: message.attributes.clone(),
                    receive_count: message.receive_count,
                    sent_at: message.sent_at,
                    first_received_at: *message.first_received_at.get_or_insert(received_at),
                });
            }
            next_visible_at = if messages.is_empty() {
                state
                    .messages
                    .values()
                    .map(|message| message.visible_at)
                    .filter(|&visible_at| visible_at > now)
                    .min()
            } else {
                None
            };
        }
        // Outside our lock: the dead-letter queue has a lock of its own.
        if let Some(redrive) = &self.config.redrive {
            for message in dead_letters {
                redrive.dead_letter_queue.accept_dead_letter(message);
            }
        }
        Poll {
            messages,
            next_visible_at,
        }
    }

    /// Takes in a message moved from a source queue: visible now, never received here.
    fn accept_dead_letter(&self, message: StoredMessage) {
        self.lock().insert(StoredMessage {
            first_received_at: None,
            receive_count: 0,
            visible_at: Instant::now(),
            receipt_handle: None,
            ..message
        });
        self.changed.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No critical section here can panic halfway, so a poisoned state is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `now + duration`, saturating at a far-future instant instead of overflowing.
fn after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .unwrap_or_else(|| now + FAR_FUTURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VISIBILITY: Duration = Duration::from_secs(30);

    fn queue(name: &str) -> Queue {
        Queue::new(QueueConfig::new(name))
    }

    fn send(queue: &Queue, body: &str) -> String {
        queue.send(body.to_owned(), BTreeMap::new(), None)
    }

    fn receive_one(queue: &Queue) -> ReceivedMessage {
        let mut received = queue.receive(1, None);
        assert_eq!(received.len(), 1, "expected exactly one message");
        received.remove(0)
    }

    fn bodies(messages: &[ReceivedMessage]) -> Vec<&str> {
        messages
            .iter()
            .map(|message| message.body.as_str())
            .collect()
    }

    #[test]
    fn queue_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Queue>();
    }

    #[tokio::test(start_paused = true)]
    async fn visibility_timeout_hides_then_redelivers_with_new_handle() {
        let queue = queue("orders");
        let mut attributes = BTreeMap::new();
        attributes.insert("kind".to_owned(), "order".to_owned());
        let id = queue.send("hello".to_owned(), attributes.clone(), None);

        let first = receive_one(&queue);
        assert_eq!(first.message_id, id);
        assert_eq!(first.body, "hello");
        assert_eq!(first.attributes, attributes);
        assert_eq!(first.receive_count, 1);
        assert!(queue.receive(10, None).is_empty(), "in flight, so hidden");
        let stats = queue.stats();
        assert_eq!((stats.visible, stats.in_flight, stats.delayed), (0, 1, 0));

        tokio::time::advance(VISIBILITY - Duration::from_millis(1)).await;
        assert!(
            queue.receive(10, None).is_empty(),
            "hidden until the timeout"
        );

        tokio::time::advance(Duration::from_millis(1)).await;
        let second = receive_one(&queue);
        assert_eq!(second.message_id, id);
        assert_eq!(second.receive_count, 2);
        assert_ne!(second.receipt_handle, first.receipt_handle);
        assert_eq!(second.first_received_at, first.first_received_at);
        assert_eq!(second.sent_at, first.sent_at);
    }

    #[tokio::test(start_paused = true)]
    async fn receive_uses_its_own_visibility_timeout_over_the_queues() {
        let queue = queue("orders");
        send(&queue, "a");
        queue.receive(1, Some(Duration::from_secs(5)));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(receive_one(&queue).receive_count, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_removes_the_message() {
        let queue = queue("orders");
        send(&queue, "a");
        let received = receive_one(&queue);
        queue
            .delete(&received.receipt_handle)
            .expect("fresh handle deletes");

        tokio::time::advance(VISIBILITY * 2).await;
        assert!(queue.receive(10, None).is_empty());
        assert!(queue.messages().is_empty());
        let stats = queue.stats();
        assert_eq!((stats.visible, stats.in_flight, stats.delayed), (0, 0, 0));
        assert_eq!(
            queue.delete(&received.receipt_handle),
            Err(QueueError::ReceiptHandleIsInvalid(
                received.receipt_handle.clone()
            ))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn handle_still_deletes_after_expiry_until_received_again() {
        let queue = queue("orders");
        send(&queue, "a");
        let received = receive_one(&queue);
        tokio::time::advance(VISIBILITY).await;
        assert_eq!(queue.stats().visible, 1);
        queue
            .delete(&received.receipt_handle)
            .expect("not received again, still valid");
        assert!(queue.receive(10, None).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn stale_or_unknown_handle_is_invalid() {
        let queue = queue("orders");
        send(&queue, "a");
        let first = receive_one(&queue);
        tokio::time::advance(VISIBILITY).await;
        let second = receive_one(&queue);

        let invalid = Err(QueueError::ReceiptHandleIsInvalid(
            first.receipt_handle.clone(),
        ));
        assert_eq!(queue.delete(&first.receipt_handle), invalid);
        assert_eq!(
            queue.change_visibility(&first.receipt_handle, Duration::ZERO),
            invalid
        );
        assert_eq!(
            queue.delete("no-such-handle"),
            Err(QueueError::ReceiptHandleIsInvalid(
                "no-such-handle".to_owned()
            ))
        );
        assert_eq!(queue.stats().in_flight, 1, "failed calls left it in flight");

        queue
            .delete(&second.receipt_handle)
            .expect("latest handle deletes");
        assert!(queue.messages().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn change_visibility_zero_redelivers_at_once() {
        let queue = queue("orders");
        send(&queue, "a");
        let first = receive_one(&queue);
        queue
            .change_visibility(&first.receipt_handle, Duration::ZERO)
            .expect("in flight");
        let second = receive_one(&queue);
        assert_eq!(second.message_id, first.message_id);
        assert_eq!(second.receive_count, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn change_visibility_extends_and_rejects_messages_not_in_flight() {
        let queue = queue("orders");
        send(&queue, "a");
        let received = receive_one(&queue);
        queue
            .change_visibility(&received.receipt_handle, Duration::from_secs(60))
            .expect("in flight");
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(queue.receive(10, None).is_empty(), "extended past the 30 s");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            queue.change_visibility(&received.receipt_handle, Duration::from_secs(10)),
            Err(QueueError::MessageNotInflight(
                received.receipt_handle.clone()
            ))
        );
        assert_eq!(receive_one(&queue).receive_count, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn moves_to_dead_letter_queue_after_max_receive_count() {
        let dlq = Arc::new(queue("orders-dlq"));
        let queue = Queue::new(QueueConfig {
            redrive: Some(Redrive {
                dead_letter_queue: Arc::clone(&dlq),
                max_receive_count: 2,
            }),
            ..QueueConfig::new("orders")
        });
        let mut attributes = BTreeMap::new();
        attributes.insert("attempt".to_owned(), "x".to_owned());
        let id = queue.send("poison".to_owned(), attributes.clone(), None);
        send(&queue, "healthy");

        // Received exactly max_receive_count times...
        let first = queue.receive(10, None);
        assert_eq!(bodies(&first), ["poison", "healthy"]);
        queue
            .delete(&first[1].receipt_handle)
            .expect("delete healthy");
        tokio::time::advance(VISIBILITY).await;
        let second = receive_one(&queue);
        assert_eq!((second.body.as_str(), second.receive_count), ("poison", 2));
        assert_eq!(queue.stats().dead_lettered, 0);
        assert!(dlq.messages().is_empty());

        // ...and the next receive moves it instead of delivering it.
        tokio::time::advance(VISIBILITY).await;
        assert!(queue.receive(10, None).is_empty());
        assert!(queue.messages().is_empty());
        assert_eq!(
            queue.delete(&second.receipt_handle),
            Err(QueueError::ReceiptHandleIsInvalid(
                second.receipt_handle.clone()
            ))
        );
        assert_eq!(
            queue.stats(),
            QueueStats {
                name: "orders".to_owned(),
                visible: 0,
                in_flight: 0,
                delayed: 0,
                dead_lettered: 1,
                dead_letter_queue: Some("orders-dlq".to_owned()),
            }
        );

        let views = dlq.messages();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].message_id, id);
        assert_eq!(views[0].receive_count, 0);
        assert_eq!(views[0].state, MessageState::Visible);
        let dlq_stats = dlq.stats();
        assert_eq!((dlq_stats.visible, dlq_stats.dead_lettered), (1, 0));
        assert_eq!(dlq_stats.dead_letter_queue, None);

        let dead = receive_one(&dlq);
        assert_eq!(dead.message_id, id);
        assert_eq!(dead.body, "poison");
        assert_eq!(dead.attributes, attributes);
        assert_eq!(dead.receive_count, 1);
        assert_eq!(dead.sent_at, second.sent_at);
    }

    #[tokio::test(start_paused = true)]
    async fn batch_size_is_clamped_to_one_through_ten() {
        let queue = queue("orders");
        for n in 0..15 {
            send(&queue, &format!("m{n}"));
        }
        assert_eq!(bodies(&queue.receive(0, None)), ["m0"]);
        let batch = queue.receive(50, None);
        assert_eq!(batch.len(), MAX_BATCH_SIZE);
        assert_eq!(batch[0].body, "m1", "oldest first");
        assert_eq!(queue.receive(50, None).len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn partial_batch_failure_redelivers_only_the_undeleted_message() {
        let queue = queue("orders");
        for body in ["a", "b", "c"] {
            send(&queue, body);
        }
        let batch = queue.receive(10, None);
        assert_eq!(bodies(&batch), ["a", "b", "c"]);
        queue.delete(&batch[0].receipt_handle).expect("delete a");
        queue.delete(&batch[2].receipt_handle).expect("delete c");

        tokio::time::advance(VISIBILITY - Duration::from_millis(1)).await;
        assert!(queue.receive(10, None).is_empty());
        tokio::time::advance(Duration::from_millis(1)).await;
        let retry = queue.receive(10, None);
        assert_eq!(bodies(&retry), ["b"]);
        assert_eq!(retry[0].receive_count, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn queue_default_delay_hides_new_messages() {
        let queue = Queue::new(QueueConfig {
            delay: Duration::from_secs(5),
            ..QueueConfig::new("orders")
        });
        send(&queue, "later");
        assert!(queue.receive(10, None).is_empty());
        let stats = queue.stats();
        assert_eq!((stats.visible, stats.in_flight, stats.delayed), (0, 0, 1));
        assert_eq!(queue.messages()[0].state, MessageState::Delayed);

        tokio::time::advance(Duration::from_millis(4999)).await;
        assert!(queue.receive(10, None).is_empty());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(receive_one(&queue).receive_count, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn per_message_delay_overrides_the_queue_default() {
        let delayed_queue = Queue::new(QueueConfig {
            delay: Duration::from_secs(60),
            ..QueueConfig::new("delayed")
        });
        delayed_queue.send("now".to_owned(), BTreeMap::new(), Some(Duration::ZERO));
        assert_eq!(receive_one(&delayed_queue).body, "now");

        let queue = queue("orders");
        queue.send(
            "later".to_owned(),
            BTreeMap::new(),
            Some(Duration::from_secs(10)),
        );
        send(&queue, "now");
        assert_eq!(bodies(&queue.receive(10, None)), ["now"]);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(queue.receive(10, None).is_empty());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(bodies(&queue.receive(10, None)), ["later"]);
    }

    #[tokio::test(start_paused = true)]
    async fn receive_wait_returns_as_soon_as_another_task_sends() {
        let queue = Arc::new(queue("orders"));
        let sender = Arc::clone(&queue);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            send(&sender, "ping");
        });
        let start = Instant::now();
        let received = queue.receive_wait(10, None, Duration::from_secs(20)).await;
        assert_eq!(bodies(&received), ["ping"]);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn receive_wait_returns_empty_after_the_wait() {
        let queue = Arc::new(queue("orders"));
        let waiter = Arc::clone(&queue);
        let start = Instant::now();
        let received =
            tokio::spawn(
                async move { waiter.receive_wait(10, None, Duration::from_secs(5)).await },
            )
            .await
            .expect("waiter task");
        assert!(received.is_empty());
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn receive_wait_wakes_when_visibility_expires() {
        let queue = queue("orders");
        send(&queue, "retry-me");
        queue.receive(1, Some(Duration::from_secs(10)));
        let start = Instant::now();
        let received = queue.receive_wait(10, None, Duration::from_secs(20)).await;
        assert_eq!(bodies(&received), ["retry-me"]);
        assert_eq!(received[0].receive_count, 2);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn receive_wait_wakes_when_a_delay_passes_or_visibility_is_changed() {
        let queue = Arc::new(queue("orders"));
        queue.send(
            "delayed".to_owned(),
            BTreeMap::new(),
            Some(Duration::from_secs(3)),
        );
        let start = Instant::now();
        let received = queue.receive_wait(10, None, Duration::from_secs(20)).await;
        assert_eq!(bodies(&received), ["delayed"]);
        assert_eq!(start.elapsed(), Duration::from_secs(3));

        let changer = Arc::clone(&queue);
        let handle = received[0].receipt_handle.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            changer
                .change_visibility(&handle, Duration::ZERO)
                .expect("in flight");
        });
        let start = Instant::now();
        let received = queue.receive_wait(10, None, Duration::from_secs(20)).await;
        assert_eq!(bodies(&received), ["delayed"]);
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn inspector_views_serialize_in_camel_case() {
        let dlq = Arc::new(queue("orders-dlq"));
        let queue = Queue::new(QueueConfig {
            redrive: Some(Redrive {
                dead_letter_queue: dlq,
                max_receive_count: 3,
            }),
            ..QueueConfig::new("orders")
        });
        send(&queue, "in-flight");
        receive_one(&queue);
        send(&queue, "visible");
        queue.send(
            "delayed".to_owned(),
            BTreeMap::new(),
            Some(Duration::from_secs(9)),
        );

        let stats = serde_json::to_value(queue.stats()).expect("stats serialize");
        assert_eq!(
            stats,
            serde_json::json!({
                "name": "orders",
                "visible": 1,
                "inFlight": 1,
                "delayed": 1,
                "deadLettered": 0,
                "deadLetterQueue": "orders-dlq",
            })
        );

        let views = serde_json::to_value(queue.messages()).expect("views serialize");
        let views = views.as_array().expect("an array");
        let states: Vec<_> = views.iter().map(|view| view["state"].clone()).collect();
        assert_eq!(states, ["inFlight", "visible", "delayed"]);
        assert_eq!(views[0]["receiveCount"], 1);
        assert_eq!(views[0]["body"], "in-flight");
        assert!(views[0]["attributes"].is_object());
        assert!(views[0]["messageId"].is_string());
        let sent_at = views[0]["sentAt"].as_str().expect("sentAt is a string");
        DateTime::parse_from_rfc3339(sent_at).expect("sentAt is RFC 3339");
    }
}
