//! Queue messages and partial batch failures.
//!
//! Hosts deliver batches (SQS delivers up to 10); a failure of one message must not make the
//! others run again. [`handle_batch`] runs a [`QueueFunction`] on each message and reports only
//! the ids that failed, which SQS (`ReportBatchItemFailures`), Service Bus (abandon) and the
//! emulator's queue redeliver.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::QueueFunction;

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Handles every message of a batch concurrently and reports those that failed.
pub async fn handle_batch(function: &dyn QueueFunction, batch: &[QueueMessage]) -> BatchResponse {
    let results =
        futures_util::future::join_all(batch.iter().map(|m| function.handle_message(m))).await;
    let batch_item_failures = batch
        .iter()
        .zip(results)
        .filter_map(|(message, result)| {
            let error = result.err()?;
            tracing::warn!(
                message_id = %message.message_id,
                receive_count = message.receive_count,
                error_type = error.error_type(),
                "message failed, left for redelivery: {}",
                error.chain()
            );
            Some(BatchItemFailure {
                item_identifier: message.message_id.clone(),
            })
        })
        .collect();
    BatchResponse {
        batch_item_failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FunctionError;
    use async_trait::async_trait;

    struct FailsOnOdd;

    #[async_trait]
    impl QueueFunction for FailsOnOdd {
        async fn handle_message(&self, message: &QueueMessage) -> Result<(), FunctionError> {
            let n: u32 = message
                .body
                .parse()
                .map_err(|_| FunctionError::terminal("InvalidMessage", "not a number"))?;
            if n % 2 == 1 {
                Err(FunctionError::retryable("Odd", "odd"))
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
    async fn reports_only_the_failed_messages() {
        let batch = [
            message("a", "2"),
            message("b", "3"),
            message("c", "x"),
            message("d", "4"),
        ];
        let response = handle_batch(&FailsOnOdd, &batch).await;
        assert_eq!(response.failed_ids().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(
            serde_json::to_value(&response).expect("serializes"),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]})
        );
    }
}
