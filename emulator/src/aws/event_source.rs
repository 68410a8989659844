//! The event source mapping: polls a queue and invokes a queue function with batches, as Lambda's
//! SQS poller does with `ReportBatchItemFailures` on.
//!
//! Messages the function reports as failed are left alone: they reappear when their visibility
//! timeout ends, and the queue's redrive policy moves them to its dead-letter queue after
//! `maxReceiveCount` receives. Messages that can never succeed (a terminal error) are moved to the
//! dead-letter queue at once, with the reason in their attributes. If the invocation itself fails (an injected fault), the whole batch
//! is left for redelivery, as when a Lambda function errors. A message is deleted only once the
//! function has handled it, so a crash in between delivers it again.

use std::sync::Arc;
use std::time::Duration;

use durable::Queue;
use durable::queue::ReceivedMessage;
use function_model::{
    BatchOutcome, BatchResponse, Invocation, QueueFunction, QueueMessage, handle_batch,
};
use tokio::sync::watch;
use tracing::Instrument;

use crate::aws::lambda::{LambdaFunction, sqs_event};
use crate::local_providers::faults::{Fault, Faults};

/// What consumes the queue: the function in-process, or its binary under the Runtime API.
#[derive(Clone)]
pub enum Consumer {
    InProcess(Arc<dyn QueueFunction>),
    Process(Arc<LambdaFunction>),
}

/// How a queue is wired to its function.
#[derive(Clone)]
pub struct EventSourceMapping {
    pub queue: Arc<Queue>,
    pub function_name: String,
    pub function: Consumer,
    pub batch_size: usize,
    /// `ReportBatchItemFailures`: only the messages the function reports as failed are retried.
    /// Without it, as on Lambda, an invocation that succeeds deletes the whole batch, whatever
    /// its answer says.
    pub report_batch_item_failures: bool,
    /// The function's timeout (its invocations' deadline).
    pub timeout: Duration,
    pub faults: Arc<Faults>,
}

/// Long-poll wait per receive (SQS's maximum is 20 s; shorter keeps shutdown prompt).
const WAIT: Duration = Duration::from_secs(1);

/// How long to wait before polling again after the queue could not be read.
const BACKOFF: Duration = Duration::from_secs(1);

impl EventSourceMapping {
    /// Polls until `shutdown` turns true; a batch being handled is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let batch = tokio::select! {
                batch = self.queue.receive_wait(self.batch_size, None, WAIT) => batch,
                _ = shutdown.changed() => return,
            };
            match batch {
                Ok(batch) if !batch.is_empty() => self.deliver(batch).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(queue = self.queue.name(), "could not poll the queue: {e}");
                    tokio::time::sleep(BACKOFF).await;
                }
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Invokes the orchestrator's binary with the batch as an SQS event; `None` when the
    /// invocation failed (the whole batch is then delivered again).
    async fn invoke_process(
        &self,
        function: &LambdaFunction,
        batch: &[ReceivedMessage],
        messages: Vec<QueueMessage>,
    ) -> Option<BatchResponse> {
        let trace_id = messages.iter().find_map(|m| {
            m.attributes
                .get(clients::publisher::TRACE_ATTRIBUTE)
                .cloned()
        });
        let records: Vec<(QueueMessage, &str, i64)> = messages
            .into_iter()
            .zip(batch)
            .map(|(message, received)| {
                (
                    message,
                    received.receipt_handle.as_str(),
                    received.sent_at.timestamp_millis(),
                )
            })
            .collect();
        let event = sqs_event(&crate::names::queue_arn(self.queue.name()), &records);
        let answer = match function.invoke(event.to_string().into(), trace_id).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(
                    function = %self.function_name,
                    size = batch.len(),
                    "invocation failed, batch left for redelivery: {e}"
                );
                return None;
            }
        };
        match serde_json::from_slice::<BatchResponse>(&answer) {
            Ok(retry) => Some(retry),
            Err(e) => {
                // Lambda treats an answer it cannot read as a failure of the whole batch.
                tracing::warn!(
                    function = %self.function_name,
                    "unreadable batch response, batch left for redelivery: {e}"
                );
                None
            }
        }
    }

    async fn deliver(&self, batch: Vec<ReceivedMessage>) {
        match self.faults.next(&self.function_name) {
            Some(Fault::Fail { .. } | Fault::Timeout) => {
                tracing::warn!(
                    function = %self.function_name,
                    size = batch.len(),
                    "invocation failed (injected fault): batch left for redelivery"
                );
                return;
            }
            Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
            None => {}
        }
        let messages: Vec<QueueMessage> = batch
            .iter()
            .map(|m| QueueMessage {
                message_id: m.message_id.clone(),
                body: m.body.clone(),
                attributes: m.attributes.clone(),
                receive_count: m.receive_count,
            })
            .collect();
        let outcome = match &self.function {
            Consumer::InProcess(function) => {
                let invocation = Invocation::local(&self.function_name, self.timeout, None);
                handle_batch(function.as_ref(), &invocation, &messages)
                    .instrument(invocation.span())
                    .await
            }
            Consumer::Process(function) => {
                let Some(retry) = self.invoke_process(function, &batch, messages).await else {
                    return;
                };
                BatchOutcome {
                    retry,
                    dead_letter: Vec::new(),
                }
            }
        };
        let failed: Vec<&str> = if self.report_batch_item_failures {
            outcome.retry.failed_ids().collect()
        } else {
            Vec::new()
        };
        for dead in &outcome.dead_letter {
            let Some(message) = batch.iter().find(|m| m.message_id == dead.message_id) else {
                continue;
            };
            if let Err(e) = self
                .queue
                .dead_letter_now(&message.receipt_handle, dead.reason, &dead.description)
                .await
            {
                tracing::warn!(
                    message_id = %dead.message_id,
                    "could not dead-letter the message; it will be delivered again: {e}"
                );
            }
        }
        let handled: Vec<&str> = batch
            .iter()
            .filter(|m| {
                let id = m.message_id.as_str();
                !failed.contains(&id) && !outcome.dead_letter.iter().any(|d| d.message_id == id)
            })
            .map(|m| m.receipt_handle.as_str())
            .collect();
        if let Err(e) = self.queue.delete_batch(&handled).await {
            tracing::warn!(
                count = handled.len(),
                "could not delete handled messages; they will be delivered again: {e}"
            );
        }
    }
}
