//! The function model: how a handler looks, whatever runs it.
//!
//! A function is written once against one of three trigger shapes and never learns which host
//! runs it (AWS Lambda, Azure Functions, or the local emulator in-process):
//! - [`HttpFunction`]: an HTTP request in, a response out (payment);
//! - [`QueueFunction`]: one queue message at a time; [`handle_batch`] lifts it to a batch,
//!   reports only the failed message ids, so only those are retried, and sends those that can
//!   never succeed to the dead-letter queue at once (orchestrator);
//! - [`TaskFunction`]: JSON in, JSON out, called by the workflow (save-order, email, mailing-list),
//!   written as a [`TypedTask`]: its input and output typed, and the error types it raises
//!   declared, so that the workflow file can be checked against them.
//!
//! Every handler is given the [`Invocation`]: its request id, deadline, function name and ARN,
//! and trace id.
//!
//! Failures are [`FunctionError`]s of one of the [`ErrorType`]s: a stable name that workflow
//! `Retry`/`Catch` match on, as Step Functions matches a Lambda's `errorType`, and whether a retry
//! can help.
//!
//! Layout: `error.rs` (the error model), `http.rs` (request/response), `queue.rs` (messages and
//! partial batch failures), `host.rs` (picking the host from the environment, and logging set-up); `aws.rs` and
//! `azure.rs` the two clouds' hosts (cargo features `aws`, `azure`).

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
mod error;
pub mod host;
mod http;
mod invocation;
mod queue;

pub use error::{ErrorType, FunctionError, chain};
pub use http::{HttpRequest, HttpResponse, is_json, last_address};
pub use invocation::{Invocation, LOCAL_ACCOUNT, LOCAL_REGION, local_function_arn};
pub use queue::{
    BatchItemFailure, BatchOutcome, BatchResponse, DeadLetter, DeadLetterSink, QueueConsumer,
    QueueMessage, handle_batch,
};

use async_trait::async_trait;

/// A function triggered by HTTP (API Gateway HTTP API, an Azure HTTP trigger, the emulator's gateway).
#[async_trait]
pub trait HttpFunction: Send + Sync + 'static {
    /// Always answers: failures are responses with a status, never errors.
    async fn handle(&self, invocation: &Invocation, request: HttpRequest) -> HttpResponse;
}

/// A function triggered by queue messages, one message at a time.
#[async_trait]
pub trait QueueFunction: Send + Sync + 'static {
    /// Handles one message. An error leaves the message on the queue for redelivery (and, after
    /// the queue's `maxReceiveCount`, the dead-letter queue).
    async fn handle_message(
        &self,
        invocation: &Invocation,
        message: &QueueMessage,
    ) -> Result<(), FunctionError>;
}

/// A function called as a workflow task: JSON in, JSON out. Written as a [`TypedTask`].
#[async_trait]
pub trait TaskFunction: Send + Sync + 'static {
    async fn handle(
        &self,
        invocation: &Invocation,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, FunctionError>;
}

/// A workflow task with a typed input and output. Its input is read once, here: JSON the input
/// type refuses is an [`ErrorType::InvalidInput`] failure, which no retry can fix.
#[async_trait]
pub trait TypedTask: Send + Sync + 'static {
    type Input: TryFrom<serde_json::Value, Error: std::error::Error + Send + Sync + 'static> + Send;
    type Output: serde::Serialize + Send;
    /// Every error type [`TypedTask::run`] may return: what the workflow's `Retry` and `Catch` for
    /// this task may name, and the retryable ones it must retry ([`ErrorType::InvalidInput`] is
    /// raised before `run`, for every task).
    const RAISES: &'static [ErrorType];

    async fn run(
        &self,
        invocation: &Invocation,
        input: Self::Input,
    ) -> Result<Self::Output, FunctionError>;
}

#[async_trait]
impl<T: TypedTask> TaskFunction for T {
    async fn handle(
        &self,
        invocation: &Invocation,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, FunctionError> {
        let input = T::Input::try_from(input).map_err(|e| {
            FunctionError::new(ErrorType::InvalidInput, "the task input is not valid")
                .with_source(e)
        })?;
        let output = self.run(invocation, input).await.inspect_err(|e| {
            debug_assert!(
                T::RAISES.contains(&e.error_type()),
                "{} is not declared in RAISES",
                e.error_type()
            );
        })?;
        Ok(serde_json::to_value(output).expect("task outputs are plain JSON values"))
    }
}
