//! The boundary between the interpreter and the outside world: a Task state's `Resource` is
//! opaque here and is run by a [`TaskInvoker`] that the embedder (the emulator, an
//! orchestrator) provides, which keeps the interpreter free of any cloud SDK.

use serde::Serialize;
use thiserror::Error;

/// One invocation of a Task state's resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRequest {
    /// The state's `Resource`, as written in the definition.
    pub resource: String,
    /// The effective input: after `InputPath` and `Parameters`.
    pub input: serde_json::Value,
    pub state_name: String,
    pub execution_name: String,
    /// Which entry into the state this is: 1 the first time, then one more each time the
    /// execution comes back to it (a loop, a retried Parallel). Retries of one entry share it, so
    /// `(state_name, visit)` names one completed step, e.g. for a checkpoint.
    pub visit: u32,
    /// 0 for the first try, then the number of retries so far.
    pub attempt: u32,
}

/// How a task failed: an error name (e.g. `"ProviderUnavailable"`,
/// `"Lambda.ServiceException"`) matched by `Retry`/`Catch`, and a human-readable cause.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[error("{error}: {cause}")]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// Runs Task resources for the interpreter.
#[async_trait::async_trait]
pub trait TaskInvoker: Send + Sync {
    /// Runs a Task state's Resource with its effective input. Err carries the error name
    /// (e.g. "ProviderUnavailable", "Lambda.ServiceException") and a cause string.
    async fn invoke(&self, task: TaskRequest) -> Result<serde_json::Value, TaskFailure>;
}
