//! The function model: how a handler looks, whatever runs it.
//!
//! A function is written once against one of three trigger shapes and never learns which host
//! runs it (AWS Lambda, Azure Functions, or the local emulator in-process):
//! - [`HttpFunction`]: an HTTP request in, a response out (payment);
//! - [`QueueFunction`]: one queue message at a time; [`handle_batch`] lifts it to a batch and
//!   reports only the failed message ids, so only those are retried (orchestrator);
//! - [`TaskFunction`]: JSON in, JSON out, called by the workflow (save-order, email, mailing-list).
//!
//! Failures are [`FunctionError`]s: a stable error-type name that workflow `Retry`/`Catch` match on,
//! as Step Functions matches a Lambda's `errorType`, and whether a retry can help.
//!
//! Layout: `error.rs` (the error model), `http.rs` (request/response), `queue.rs` (messages and
//! partial batch failures), `host.rs` (picking the host from the environment, and logging set-up).

mod error;
pub mod host;
mod http;
mod queue;

pub use error::FunctionError;
pub use http::{HttpRequest, HttpResponse};
pub use queue::{BatchResponse, QueueMessage, handle_batch};

use async_trait::async_trait;

/// A function triggered by HTTP (API Gateway HTTP API, an Azure HTTP trigger, the emulator's gateway).
#[async_trait]
pub trait HttpFunction: Send + Sync + 'static {
    /// Always answers: failures are responses with a status, never errors.
    async fn handle(&self, request: HttpRequest) -> HttpResponse;
}

/// A function triggered by queue messages, one message at a time.
#[async_trait]
pub trait QueueFunction: Send + Sync + 'static {
    /// Handles one message. An error leaves the message on the queue for redelivery (and, after
    /// the queue's `maxReceiveCount`, the dead-letter queue).
    async fn handle_message(&self, message: &QueueMessage) -> Result<(), FunctionError>;
}

/// A function called as a workflow task: JSON in, JSON out.
#[async_trait]
pub trait TaskFunction: Send + Sync + 'static {
    async fn handle(&self, input: serde_json::Value) -> Result<serde_json::Value, FunctionError>;
}
