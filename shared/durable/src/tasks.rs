//! A task function called as a workflow task in this process: what the emulator's Step Functions
//! (in-process mode) and the Azure orchestrator do for each Task state, with Lambda's names for
//! what can go wrong, so that the workflow's `Retry` and `Catch` read the same on every host; and
//! what an injected fault does to a task (the emulator's fault injection, on either host).

use std::time::Duration;

use function_model::{Invocation, TaskFunction};
use serde_json::Value;
use tracing::Instrument;
use workflow::{TaskFailure, TaskRequest};

/// A fault injected into one task invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFault {
    /// The invocation fails, as Lambda's service would (a retryable `Lambda.ServiceException`).
    Fail,
    /// It never answers: it times out after the function's timeout.
    Timeout,
    /// It runs after this delay.
    Slow(Duration),
}

/// Suffers `fault` before the task `name` runs: an error for a failure or a timeout (after
/// waiting out `timeout`), a delay for a slow task.
pub async fn suffer(
    name: &str,
    timeout: Duration,
    fault: Option<TaskFault>,
) -> Result<(), TaskFailure> {
    match fault {
        None => Ok(()),
        Some(TaskFault::Fail) => Err(TaskFailure::new(
            "Lambda.ServiceException",
            format!("{name} invocation failed (injected fault)"),
        )),
        Some(TaskFault::Timeout) => {
            tokio::time::sleep(timeout).await;
            Err(timed_out(name, timeout))
        }
        Some(TaskFault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(())
        }
    }
}

fn timed_out(name: &str, timeout: Duration) -> TaskFailure {
    TaskFailure::new(
        "Sandbox.Timedout",
        format!("{name} timed out after {timeout:?}"),
    )
}

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
        Err(_) => Err(timed_out(name, timeout)),
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
