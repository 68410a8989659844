//! The order publisher port: put `OrderPlaced` on the queue the orchestrator consumes.

use async_trait::async_trait;
use domain::OrderPlaced;

/// The queue did not take the order; the source says why (an SDK error, a database error).
#[derive(Debug, thiserror::Error)]
#[error("could not publish the order")]
pub struct PublishError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl PublishError {
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(source.into())
    }
}

/// The message attribute that carries the trace header from the payment to the orchestrator
/// (SQS's system attribute for X-Ray).
pub const TRACE_ATTRIBUTE: &str = "AWSTraceHeader";

#[async_trait]
pub trait OrderPublisher: Send + Sync {
    /// Publishes `order`, with `trace_id` (the payment invocation's) as [`TRACE_ATTRIBUTE`].
    async fn publish(
        &self,
        order: &OrderPlaced,
        trace_id: Option<&str>,
    ) -> Result<(), PublishError>;
}
