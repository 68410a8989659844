//! The order publisher port: put `OrderPlaced` on the queue the orchestrator consumes.

use async_trait::async_trait;
use domain::OrderPlaced;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not publish the order: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait OrderPublisher: Send + Sync {
    async fn publish(&self, order: &OrderPlaced) -> Result<(), PublishError>;
}
