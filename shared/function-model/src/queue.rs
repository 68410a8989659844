//! Queue messages and partial batch failures.
//!
//! Hosts deliver batches (SQS delivers up to 10); a failure of one message must not make the
//! others run again. [`handle_batch`] runs a [`QueueFunction`] on each message and sorts the
//! failures: a retryable one is reported for redelivery (SQS `ReportBatchItemFailures`, a Service
//! Bus abandon, the emulator's queue), and after the queue's `maxReceiveCount` it is
//! dead-lettered; a terminal one (a message that can never succeed, such as one that is not an
//! `OrderPlaced`) goes to the dead-letter queue at once, with its reason, instead of being
//! delivered five times more.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Invocation, QueueFunction};

/// One delivered message.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub message_id: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    /// How many times this message has been delivered, this delivery included.
    pub receive_count: u32,
}

/// The ids of the messages that failed, in SQS's `batchItemFailures` shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    #[serde(default)]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

impl BatchResponse {
    pub fn failed_ids(&self) -> impl Iterator<Item = &str> {
        self.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
    }
}

/// What became of a batch: the messages to deliver again, and those to dead-letter now.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Retryable failures, in SQS's `batchItemFailures` shape.
    pub retry: BatchResponse,
    /// Terminal failures: they would fail on every delivery.
    pub dead_letter: Vec<DeadLetter>,
}

/// A message to dead-letter at once, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    /// The error type's name (`InvalidMessage`).
    pub reason: &'static str,
    pub description: String,
}

/// Where a host puts a message that can never succeed, at once. The emulator's queue moves it
/// itself; on AWS the function sends it to the dead-letter queue (`aws_clients::sqs`), since a
/// Lambda function cannot tell SQS to dead-letter a message.
#[async_trait]
pub trait DeadLetterSink: Send + Sync {
    /// Keeps `message` with its reason; an error leaves the message for redelivery.
    async fn dead_letter(
        &self,
        message: &QueueMessage,
        dead: &DeadLetter,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// A queue function as a host runs it: the function, and where its hopeless messages go.
pub struct QueueConsumer<T> {
    pub function: T,
    pub dead_letters: Arc<dyn DeadLetterSink>,
}

/// Handles every message of a batch concurrently and sorts the failures (see the module docs).
pub async fn handle_batch(
    function: &dyn QueueFunction,
    invocation: &Invocation,
    batch: &[QueueMessage],
) -> BatchOutcome {
    let results = futures_util::future::join_all(
        batch.iter().map(|m| function.handle_message(invocation, m)),
    )
    .await;
    let mut outcome = BatchOutcome::default();
    for (message, result) in batch.iter().zip(results) {
        let Err(error) = result else { continue };
        if error.is_retryable() {
            tracing::warn!(
                message_id = %message.message_id,
                receive_count = message.receive_count,
                error_type = error.error_type().name(),
                "message failed, left for redelivery: {}",
                error.chain()
            );
            outcome.retry.batch_item_failures.push(BatchItemFailure {
                item_identifier: message.message_id.clone(),
            });
        } else {
            tracing::warn!(
                message_id = %message.message_id,
                error_type = error.error_type().name(),
                "message can never succeed, to the dead-letter queue: {}",
                error.chain()
            );
            outcome.dead_letter.push(DeadLetter {
                message_id: message.message_id.clone(),
                reason: error.error_type().name(),
                description: error.message().to_owned(),
            });
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorType, FunctionError};
    use async_trait::async_trait;

    struct FailsOnOdd;

    #[async_trait]
    impl QueueFunction for FailsOnOdd {
        async fn handle_message(
            &self,
            _invocation: &Invocation,
            message: &QueueMessage,
        ) -> Result<(), FunctionError> {
            let n: u32 = message
                .body
                .parse()
                .map_err(|_| FunctionError::new(ErrorType::InvalidMessage, "not a number"))?;
            if n % 2 == 1 {
                Err(FunctionError::new(ErrorType::ProviderUnavailable, "odd"))
            } else {
                Ok(())
            }
        }
    }

    fn message(id: &str, body: &str) -> QueueMessage {
        QueueMessage {
            message_id: id.into(),
            body: body.into(),
            attributes: BTreeMap::new(),
            receive_count: 1,
        }
    }

    #[tokio::test]
    async fn retries_only_the_failed_messages_and_dead_letters_the_hopeless() {
        let batch = [
            message("a", "2"),
            message("b", "3"),
            message("c", "x"),
            message("d", "4"),
        ];
        let invocation = Invocation::local("odd", std::time::Duration::from_secs(1), None);
        let outcome = handle_batch(&FailsOnOdd, &invocation, &batch).await;
        assert_eq!(outcome.retry.failed_ids().collect::<Vec<_>>(), ["b"]);
        assert_eq!(
            serde_json::to_value(&outcome.retry).expect("serializes"),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "b"}]})
        );
        assert_eq!(
            outcome.dead_letter,
            [DeadLetter {
                message_id: "c".into(),
                reason: "InvalidMessage",
                description: "not a number".into(),
            }],
            "a message that can never succeed is not retried"
        );
    }
}
