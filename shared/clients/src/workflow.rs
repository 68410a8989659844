//! The workflow starter port: start the registration workflow for one order.

use async_trait::async_trait;

/// What a start did. Executions are named, and a name is used once: starting the same name again
/// starts nothing (Step Functions answers a duplicate `StartExecution` the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    AlreadyStarted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("workflow service unavailable: {0}")]
    Unavailable(String),
    #[error("workflow start rejected: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait WorkflowStarter: Send + Sync {
    async fn start(
        &self,
        execution_name: &str,
        input: serde_json::Value,
    ) -> Result<StartOutcome, StartError>;
}
