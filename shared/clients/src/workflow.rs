//! The workflow starter port: start the registration workflow for one order.

use async_trait::async_trait;

/// What a start did. Executions are named, and a name is used once: starting the same name again
/// starts nothing (Step Functions answers a duplicate `StartExecution` the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    AlreadyStarted,
}

/// Why a start failed, with the underlying error as the source: worth retrying (`Unavailable`)
/// or not (`Rejected`: a bad name, a missing state machine, no permission).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("workflow service unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("workflow start rejected")]
    Rejected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait WorkflowStarter: Send + Sync {
    async fn start(
        &self,
        execution_name: &str,
        input: serde_json::Value,
    ) -> Result<StartOutcome, StartError>;
}
