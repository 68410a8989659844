//! The SQS-like queue (`durable::Queue`), each scenario on SQLite and on PostgreSQL.
//!
//! Covered, because the emulator's queues rely on it to lose nothing and deliver like SQS:
//! receive counts, receipt handles and the visibility timeout; ChangeMessageVisibility; delivery
//! delays; batch sizes; redrive to a dead-letter queue, after `maxReceiveCount` receives or at
//! once for a message that can never succeed; the counters; long polling; messages
//! surviving a restart (a second `Db` on the same database), in flight ones included; two
//! processes receiving from one queue never both getting a message; and two processes'
//! long polls both getting messages when they race for the same rows.
//!
//! Timeouts and delays are real SQS-sized durations, passed with `support::skip`.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use durable::queue::{MessageState, QueueStats, ReceivedMessage};
use durable::{Db, Queue, QueueConfig, QueueError, Redrive};
use tokio::task::JoinHandle;

/// The queues' visibility timeout (SQS's default).
const VISIBILITY: Duration = Duration::from_secs(30);
/// A little more than a duration, to be past it.
const MARGIN: Duration = Duration::from_secs(1);

support::on_both_databases!(
    receives_hides_and_redelivers_with_a_new_handle,
    changes_visibility_of_in_flight_messages_only,
    delays_per_message_and_per_queue,
    clamps_batches_to_1_to_10,
    moves_messages_received_too_often_to_the_dead_letter_queue,
    dead_letters_a_hopeless_message_at_once_with_its_reason,
    long_polling_returns_on_send_on_delay_end_and_after_the_wait,
    messages_survive_a_restart_and_in_flight_ones_come_back,
    two_processes_never_receive_one_message_twice,
    long_polls_of_two_processes_both_get_messages_at_once,
);

fn queue(db: &Db, name: &str) -> Queue {
    Queue::new(db.clone(), QueueConfig::new(name))
}

fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Sends a message and lets two milliseconds pass, so that messages sent one after another have
/// distinct sent times (and so a known order within a receive).
async fn send_with(
    queue: &Queue,
    body: &str,
    attributes: BTreeMap<String, String>,
    delay: Option<Duration>,
) -> String {
    let id = queue
        .send(body.to_owned(), attributes, delay)
        .await
        .expect("sends");
    tokio::time::sleep(Duration::from_millis(2)).await;
    id
}

async fn send(queue: &Queue, body: &str) -> String {
    send_with(queue, body, BTreeMap::new(), None).await
}

async fn receive(queue: &Queue, max: usize) -> Vec<ReceivedMessage> {
    queue.receive(max, None).await.expect("receives")
}

/// The one message a receive must return.
async fn receive_one(queue: &Queue) -> ReceivedMessage {
    let mut messages = receive(queue, 10).await;
    assert_eq!(messages.len(), 1, "one message expected: {messages:?}");
    messages.remove(0)
}

async fn stats(queue: &Queue) -> QueueStats {
    queue.stats().await.expect("reads the counters")
}

/// `(visible, in flight, delayed)`.
async fn counts(queue: &Queue) -> (u64, u64, u64) {
    let stats = stats(queue).await;
    (stats.visible, stats.in_flight, stats.delayed)
}

/// Lets a long poll start, in real time, and checks that it has not returned yet.
async fn assert_still_waiting<T>(waiter: &JoinHandle<T>) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "the long poll returned early");
}

/// What a long poll returns, which it must do at once.
async fn answer(
    waiter: JoinHandle<Result<Vec<ReceivedMessage>, QueueError>>,
) -> Vec<ReceivedMessage> {
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the long poll returns at once")
        .expect("the long poll does not panic")
        .expect("receives")
}

fn bodies(messages: &[ReceivedMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

mod scenarios {
    use std::collections::{HashMap, HashSet};

    use tokio::task::JoinSet;

    use super::*;
    use crate::support::{connect, skip};

    pub async fn receives_hides_and_redelivers_with_a_new_handle(db: Db, _url: String) {
        let queue = queue(&db, "orders");
        let sent_attributes = attributes(&[("type", "OrderPlaced"), ("trace", "t-1")]);
        let id = send_with(&queue, "{\"order\":1}", sent_attributes.clone(), None).await;
        assert_eq!(counts(&queue).await, (1, 0, 0));

        let first = receive_one(&queue).await;
        assert_eq!(first.message_id, id);
        assert_eq!(first.body, "{\"order\":1}");
        assert_eq!(first.attributes, sent_attributes);
        assert_eq!(first.receive_count, 1);
        assert!(first.sent_at <= first.first_received_at, "{first:?}");
        // In flight: hidden from other receives.
        assert!(
            receive(&queue, 10).await.is_empty(),
            "hidden while in flight"
        );
        assert_eq!(counts(&queue).await, (0, 1, 0));

        skip(VISIBILITY + MARGIN).await;
        assert_eq!(counts(&queue).await, (1, 0, 0));
        let second = receive_one(&queue).await;
        assert_eq!(second.message_id, id);
        assert_eq!(second.body, first.body);
        assert_eq!(second.attributes, sent_attributes);
        assert_eq!(second.receive_count, 2);
        assert_eq!(second.first_received_at, first.first_received_at);
        assert_ne!(second.receipt_handle, first.receipt_handle);

        // The handle of the first receive is stale now; the new one deletes.
        let stale = queue.delete(&first.receipt_handle).await;
        assert!(
            matches!(stale, Err(QueueError::ReceiptHandleIsInvalid(_))),
            "{stale:?}"
        );
        queue
            .delete(&second.receipt_handle)
            .await
            .expect("the newest handle deletes");
        assert_eq!(counts(&queue).await, (0, 0, 0));
        skip(VISIBILITY + MARGIN).await;
        assert!(receive(&queue, 10).await.is_empty(), "deleted for good");
        for handle in [second.receipt_handle.as_str(), "not a handle", ""] {
            let again = queue.delete(handle).await;
            assert!(
                matches!(again, Err(QueueError::ReceiptHandleIsInvalid(_))),
                "{handle:?}: {again:?}"
            );
        }
    }

    pub async fn changes_visibility_of_in_flight_messages_only(db: Db, _url: String) {
        let queue = queue(&db, "emails");
        send(&queue, "hello").await;
        // A receive's own timeout overrides the queue's.
        let first = queue
            .receive(1, Some(Duration::from_secs(5)))
            .await
            .expect("receives");
        assert_eq!(bodies(&first), ["hello"]);
        skip(Duration::from_secs(5) + MARGIN).await;
        let received = receive_one(&queue).await;
        assert_eq!(received.receive_count, 2);

        // Zero: visible again at once, and the handle stays valid.
        queue
            .change_visibility(&received.receipt_handle, Duration::ZERO)
            .await
            .expect("changes the visibility of an in-flight message");
        assert_eq!(counts(&queue).await, (1, 0, 0));
        let visible = queue
            .change_visibility(&received.receipt_handle, Duration::from_secs(60))
            .await;
        assert!(
            matches!(visible, Err(QueueError::MessageNotInflight(_))),
            "{visible:?}"
        );
        let stale = queue
            .change_visibility(&first[0].receipt_handle, Duration::ZERO)
            .await;
        assert!(
            matches!(stale, Err(QueueError::ReceiptHandleIsInvalid(_))),
            "{stale:?}"
        );

        // Longer: hidden past the queue's timeout, then back.
        let third = receive_one(&queue).await;
        assert_eq!(third.receive_count, 3);
        queue
            .change_visibility(&third.receipt_handle, VISIBILITY * 4)
            .await
            .expect("extends the visibility");
        skip(VISIBILITY * 2).await;
        assert!(receive(&queue, 10).await.is_empty(), "still hidden");
        assert_eq!(counts(&queue).await, (0, 1, 0));
        skip(VISIBILITY * 2 + MARGIN).await;
        assert_eq!(receive_one(&queue).await.receive_count, 4);
    }

    pub async fn delays_per_message_and_per_queue(db: Db, _url: String) {
        let config = QueueConfig {
            delay: Duration::from_secs(10),
            ..QueueConfig::new("delayed")
        };
        let queue = Queue::new(db.clone(), config);
        send(&queue, "queue delay").await;
        send_with(&queue, "no delay", BTreeMap::new(), Some(Duration::ZERO)).await;
        send_with(
            &queue,
            "long delay",
            BTreeMap::new(),
            Some(Duration::from_secs(60)),
        )
        .await;
        assert_eq!(counts(&queue).await, (1, 0, 2));
        let states: Vec<_> = queue
            .messages()
            .await
            .expect("lists")
            .into_iter()
            .map(|m| (m.body, m.state))
            .collect();
        assert_eq!(
            states,
            [
                ("queue delay".to_owned(), MessageState::Delayed),
                ("no delay".to_owned(), MessageState::Visible),
                ("long delay".to_owned(), MessageState::Delayed),
            ]
        );
        let listed = queue.messages().await.expect("lists");
        let long = listed
            .iter()
            .find(|m| m.body == "long delay")
            .expect("listed");
        assert_eq!(
            (long.visible_at - long.sent_at).num_seconds(),
            60,
            "a delayed message says when it is visible"
        );

        assert_eq!(bodies(&receive(&queue, 10).await), ["no delay"]);
        skip(Duration::from_secs(10) + MARGIN).await;
        assert_eq!(bodies(&receive(&queue, 10).await), ["queue delay"]);
        assert_eq!(counts(&queue).await, (0, 2, 1));
        skip(Duration::from_secs(50)).await;
        // Both received ones came back (30 s timeout) along with the long-delayed one.
        let all = receive(&queue, 10).await;
        assert_eq!(bodies(&all), ["queue delay", "no delay", "long delay"]);
        let received: Vec<_> = all.iter().map(|m| m.receive_count).collect();
        assert_eq!(received, [2, 2, 1]);
    }

    pub async fn clamps_batches_to_1_to_10(db: Db, _url: String) {
        let queue = queue(&db, "batches");
        for i in 0..25 {
            send(&queue, &format!("m{i:02}")).await;
        }
        assert_eq!(receive(&queue, 0).await.len(), 1, "0 means 1");
        assert_eq!(receive(&queue, 3).await.len(), 3);
        assert_eq!(receive(&queue, 100).await.len(), 10, "at most 10");
        assert_eq!(receive(&queue, usize::MAX).await.len(), 10, "at most 10");
        assert_eq!(counts(&queue).await, (1, 24, 0));
        assert_eq!(receive(&queue, 10).await.len(), 1, "all that is left");
    }

    pub async fn moves_messages_received_too_often_to_the_dead_letter_queue(db: Db, _url: String) {
        let dead_letters = Arc::new(queue(&db, "orders-dlq"));
        let config = QueueConfig {
            redrive: Some(Redrive {
                dead_letter_queue: Arc::clone(&dead_letters),
                max_receive_count: 2,
            }),
            ..QueueConfig::new("orders")
        };
        let queue = Queue::new(db.clone(), config);
        let sent_attributes = attributes(&[("type", "OrderPlaced")]);
        let id = send_with(&queue, "poison", sent_attributes.clone(), None).await;

        assert_eq!(receive_one(&queue).await.receive_count, 1);
        skip(VISIBILITY + MARGIN).await;
        let second = receive_one(&queue).await;
        assert_eq!(second.receive_count, 2);
        // In flight after its second receive: not moved yet.
        assert_eq!(counts(&dead_letters).await, (0, 0, 0));
        skip(VISIBILITY + MARGIN).await;

        // Received twice already: the next receive moves it instead of delivering it, and still
        // delivers the others.
        send(&queue, "fine").await;
        assert_eq!(bodies(&receive(&queue, 10).await), ["fine"]);
        let source = stats(&queue).await;
        assert_eq!(source.dead_lettered, 1);
        assert_eq!(source.dead_letter_queue.as_deref(), Some("orders-dlq"));
        assert_eq!((source.visible, source.in_flight), (0, 1));
        let stale = queue.delete(&second.receipt_handle).await;
        assert!(
            matches!(stale, Err(QueueError::ReceiptHandleIsInvalid(_))),
            "{stale:?}"
        );

        // In the dead-letter queue: the same message, never received there, visible at once.
        assert_eq!(counts(&dead_letters).await, (1, 0, 0));
        let listed = dead_letters.messages().await.expect("lists");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].message_id, id);
        assert_eq!(listed[0].receive_count, 0);
        assert_eq!(listed[0].state, MessageState::Visible);
        let dead = receive_one(&dead_letters).await;
        assert_eq!(dead.message_id, id);
        assert_eq!(dead.body, "poison");
        assert_eq!(dead.attributes, sent_attributes);
        assert_eq!(dead.receive_count, 1);
        assert_eq!(stats(&dead_letters).await.dead_lettered, 0);
        assert_eq!(stats(&dead_letters).await.dead_letter_queue, None);
    }

    pub async fn dead_letters_a_hopeless_message_at_once_with_its_reason(db: Db, _url: String) {
        let dead_letters = Arc::new(queue(&db, "orders-dlq"));
        let config = QueueConfig {
            redrive: Some(Redrive {
                dead_letter_queue: Arc::clone(&dead_letters),
                max_receive_count: 5,
            }),
            ..QueueConfig::new("orders")
        };
        let queue = Queue::new(db.clone(), config);
        let id = send_with(&queue, "poison", attributes(&[("type", "x")]), None).await;
        let received = receive_one(&queue).await;
        queue
            .dead_letter_now(&received.receipt_handle, "InvalidMessage", "not an order")
            .await
            .expect("moved");
        assert_eq!(counts(&queue).await, (0, 0, 0));
        assert_eq!(stats(&queue).await.dead_lettered, 1);
        let dead = receive_one(&dead_letters).await;
        assert_eq!(dead.message_id, id);
        assert_eq!(
            dead.attributes,
            attributes(&[
                ("type", "x"),
                ("DeadLetterReason", "InvalidMessage"),
                ("DeadLetterErrorDescription", "not an order"),
            ])
        );
        // A stale handle moves nothing; a queue without a dead-letter queue refuses.
        let stale = queue
            .dead_letter_now(&received.receipt_handle, "InvalidMessage", "again")
            .await;
        assert!(
            matches!(stale, Err(QueueError::ReceiptHandleIsInvalid(_))),
            "{stale:?}"
        );
        let refused = dead_letters
            .dead_letter_now(&dead.receipt_handle, "InvalidMessage", "no DLQ")
            .await;
        assert!(
            matches!(refused, Err(QueueError::NoDeadLetterQueue(_))),
            "{refused:?}"
        );
    }

    pub async fn long_polling_returns_on_send_on_delay_end_and_after_the_wait(
        db: Db,
        _url: String,
    ) {
        const WAIT: Duration = Duration::from_secs(20);
        let queue = Arc::new(queue(&db, "long-poll"));
        let long_poll = || {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move { queue.receive_wait(10, None, WAIT).await })
        };

        // A send from another task ends the wait at once.
        let waiter = long_poll();
        assert_still_waiting(&waiter).await;
        send(&queue, "hello").await;
        let got = answer(waiter).await;
        assert_eq!(bodies(&got), ["hello"]);
        queue.delete(&got[0].receipt_handle).await.expect("deletes");

        // So does a delayed message becoming visible.
        send_with(
            &queue,
            "later",
            BTreeMap::new(),
            Some(Duration::from_secs(5)),
        )
        .await;
        let waiter = long_poll();
        assert_still_waiting(&waiter).await;
        skip(Duration::from_secs(5) + MARGIN).await;
        let got = answer(waiter).await;
        assert_eq!(bodies(&got), ["later"]);
        queue.delete(&got[0].receipt_handle).await.expect("deletes");

        // With nothing to receive it returns empty once the wait is over, not before.
        let waiter = long_poll();
        assert_still_waiting(&waiter).await;
        skip(WAIT / 2).await;
        assert_still_waiting(&waiter).await;
        skip(WAIT / 2 + MARGIN).await;
        assert!(answer(waiter).await.is_empty());
    }

    pub async fn messages_survive_a_restart_and_in_flight_ones_come_back(db: Db, url: String) {
        let before = queue(&db, "orders");
        let ids = [
            send(&before, "one").await,
            send(&before, "two").await,
            send(&before, "three").await,
        ];
        let in_flight = receive(&before, 1).await;
        assert_eq!(bodies(&in_flight), ["one"]);
        db.close().await;

        // The process restarts: a new pool, the migrations run again, and it finds the messages.
        let restarted = connect(&url).await;
        let after = queue(&restarted, "orders");
        assert_eq!(counts(&after).await, (2, 1, 0));
        let visible = receive(&after, 10).await;
        assert_eq!(bodies(&visible), ["two", "three"]);
        let received_ids: Vec<_> = visible.iter().map(|m| m.message_id.clone()).collect();
        assert_eq!(received_ids, ids[1..]);

        skip(VISIBILITY + MARGIN).await;
        let back = receive(&after, 10).await;
        assert_eq!(bodies(&back), ["one", "two", "three"]);
        assert_eq!(back[0].message_id, ids[0]);
        assert_eq!(back[0].receive_count, 2);
        let stale = after.delete(&in_flight[0].receipt_handle).await;
        assert!(
            matches!(stale, Err(QueueError::ReceiptHandleIsInvalid(_))),
            "{stale:?}"
        );
        for message in &back {
            after
                .delete(&message.receipt_handle)
                .await
                .expect("deletes");
        }
        assert_eq!(counts(&after).await, (0, 0, 0));
        restarted.close().await;
    }

    pub async fn two_processes_never_receive_one_message_twice(db: Db, url: String) {
        const MESSAGES: usize = 100;
        let other = connect(&url).await;
        let mine = Arc::new(queue(&db, "work"));
        let theirs = Arc::new(queue(&other, "work"));
        let mut sent = HashSet::new();
        for i in 0..MESSAGES {
            sent.insert(send(&mine, &format!("job {i}")).await);
        }

        // Each consumer receives until the queue is empty (a receive can come back empty while
        // the other consumer holds the rows it raced for, so "empty" is read from the counters).
        let mut consumers = JoinSet::new();
        for queue in [&mine, &theirs, &mine, &theirs].map(Arc::clone) {
            consumers.spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..1000 {
                    let batch = queue.receive(10, None).await.expect("receives");
                    if batch.is_empty() && queue.stats().await.expect("counts").visible == 0 {
                        return ids;
                    }
                    ids.extend(batch.into_iter().map(|m| m.message_id));
                }
                panic!("the queue never emptied");
            });
        }
        let mut times_received: HashMap<String, usize> = HashMap::new();
        let mut per_consumer = Vec::new();
        while let Some(ids) = consumers.join_next().await {
            let ids = ids.expect("a consumer does not panic");
            per_consumer.push(ids.len());
            for id in ids {
                *times_received.entry(id).or_default() += 1;
            }
        }
        let twice: Vec<_> = times_received.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "received more than once: {twice:?}");
        let received: HashSet<_> = times_received.into_keys().collect();
        assert_eq!(
            received, sent,
            "every message received once ({per_consumer:?})"
        );
        assert_eq!(counts(&mine).await, (0, MESSAGES as u64, 0));
        other.close().await;
    }

    pub async fn long_polls_of_two_processes_both_get_messages_at_once(db: Db, url: String) {
        const WAIT: Duration = Duration::from_secs(20);
        let other = connect(&url).await;
        // Each round, both processes long-poll one queue at once for up to 10 of its 20 visible
        // messages. Whichever loses the race for the same rows (on PostgreSQL) must poll again,
        // not sleep with messages visible: both get messages at once.
        for round in 0..10 {
            let name = format!("work-{round}");
            let queues = [Arc::new(queue(&db, &name)), Arc::new(queue(&other, &name))];
            for i in 0..20 {
                queues[0]
                    .send(format!("job {i}"), BTreeMap::new(), None)
                    .await
                    .expect("sends");
            }
            // The two handles' clocks may differ by a millisecond.
            tokio::time::sleep(Duration::from_millis(10)).await;
            let waiters = queues
                .map(|queue| tokio::spawn(async move { queue.receive_wait(10, None, WAIT).await }));
            let mut received = HashSet::new();
            for waiter in waiters {
                let batch = answer(waiter).await;
                assert!(!batch.is_empty(), "round {round}: a long poll got nothing");
                for message in batch {
                    assert!(received.insert(message.message_id), "round {round}: twice");
                }
            }
        }
        other.close().await;
    }
}
