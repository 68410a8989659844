//! The order publisher port: put `OrderPlaced` on the queue the orchestrator consumes.

use async_trait::async_trait;
use domain::OrderPlaced;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not publish the order: {0}")]
pub struct PublishError(pub String);

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
