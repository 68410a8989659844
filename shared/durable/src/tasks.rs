//! A task function called as a workflow task in this process: what the emulator's Step Functions
//! (in-process mode) and the Azure orchestrator do for each Task state, with Lambda's names for
//! what can go wrong, so that the workflow's `Retry` and `Catch` read the same on every host.

use std::time::Duration;

use function_model::{Invocation, TaskFunction};
use serde_json::Value;
use tracing::Instrument;
use workflow::{TaskFailure, TaskRequest};

/// Runs `function` on the task's input within `timeout`: its output, or its failure as the
/// workflow sees it (its error type's name, or `Sandbox.Timedout` as Lambda reports a timeout).
pub async fn call_in_process(
    function: &dyn TaskFunction,
    invocation: &Invocation,
    timeout: Duration,
    task: TaskRequest,
) -> Result<Value, TaskFailure> {
    let name = &invocation.function_name;
    let run = function
        .handle(invocation, task.input)
        .instrument(invocation.span());
    match tokio::time::timeout(timeout, run).await {
        Err(_) => Err(TaskFailure::new(
            "Sandbox.Timedout",
            format!("{name} timed out after {timeout:?}"),
        )),
        Ok(Ok(output)) => Ok(output),
        Ok(Err(e)) => {
            tracing::warn!(
                order_id = %task.execution_name,
                function = %name,
                attempt = task.attempt,
                error_type = e.error_type().name(),
                "task failed: {}",
                e.chain()
            );
            Err(TaskFailure::new(e.error_type().name(), e.message()))
        }
    }
}
