//! The local Step Functions: runs the registration state machine (the same ASL file that
//! `template.yaml` deploys) with the workflow crate's interpreter, and keeps every execution and
//! its history for the inspector.
//!
//! Executions are named, and a name starts once ([`StartOutcome::AlreadyStarted`] after that), as
//! `StartExecution` behaves for a name already used. Task resources are Lambda ARNs, run by calling
//! the task functions in-process (under the function's timeout and any injected fault), and the
//! `arn:aws:states:::sqs:sendMessage` service integration, which puts a message on a local queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clients::workflow::{StartError, StartOutcome, WorkflowStarter};
use function_model::TaskFunction;
use serde::Serialize;
use serde_json::{Value, json};
use tracing::Instrument;
use workflow::{History, HistoryEvent, StateMachine, TaskFailure, TaskInvoker, TaskRequest};

use crate::faults::{Fault, Faults};
use crate::queue::Queue;

/// The resource of Step Functions' SQS `SendMessage` integration.
pub const SQS_SEND_MESSAGE: &str = "arn:aws:states:::sqs:sendMessage";

/// A local Lambda ARN for a function name.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
}

/// A local queue URL for a queue name.
pub fn queue_url(name: &str) -> String {
    format!("http://sqs.us-east-1.localhost/000000000000/{name}")
}

/// Runs Task resources in-process.
pub struct LocalTasks {
    pub functions: HashMap<String, (&'static str, Arc<dyn TaskFunction>)>,
    pub queues: HashMap<String, Arc<Queue>>,
    pub faults: Arc<Faults>,
    /// The functions' configured timeout (Lambda's `Timeout`).
    pub function_timeout: Duration,
}

impl LocalTasks {
    fn send_message(&self, input: &Value) -> Result<Value, TaskFailure> {
        let url = input["QueueUrl"].as_str().unwrap_or_default();
        let queue = self.queues.get(url).ok_or_else(|| {
            TaskFailure::new(
                "SQS.QueueDoesNotExistException",
                format!("no queue at {url:?}"),
            )
        })?;
        let body = match &input["MessageBody"] {
            Value::String(s) => s.clone(),
            Value::Null => {
                return Err(TaskFailure::new(
                    "SQS.MissingParameterException",
                    "MessageBody is required",
                ));
            }
            other => other.to_string(),
        };
        let message_id = queue.send(body, Default::default(), None);
        Ok(json!({ "MessageId": message_id }))
    }
}

#[async_trait]
impl TaskInvoker for LocalTasks {
    async fn invoke(&self, task: TaskRequest) -> Result<Value, TaskFailure> {
        if task.resource == SQS_SEND_MESSAGE {
            return self.send_message(&task.input);
        }
        let (name, function) = self.functions.get(&task.resource).ok_or_else(|| {
            TaskFailure::new(
                "Lambda.ResourceNotFoundException",
                format!("no function {}", task.resource),
            )
        })?;
        let timed_out = || {
            TaskFailure::new(
                "Sandbox.Timedout",
                format!("{name} timed out after {:?}", self.function_timeout),
            )
        };
        match self.faults.next(name) {
            Some(Fault::Fail { .. }) => {
                return Err(TaskFailure::new(
                    "Lambda.ServiceException",
                    format!("{name} invocation failed (injected fault)"),
                ));
            }
            Some(Fault::Timeout) => {
                tokio::time::sleep(self.function_timeout).await;
                return Err(timed_out());
            }
            Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
            None => {}
        }
        match tokio::time::timeout(self.function_timeout, function.handle(task.input)).await {
            Err(_) => Err(timed_out()),
            Ok(Ok(output)) => Ok(output),
            Ok(Err(e)) => {
                tracing::warn!(
                    order_id = %task.execution_name,
                    function = name,
                    attempt = task.attempt,
                    error_type = e.error_type(),
                    "task failed: {}",
                    e.chain()
                );
                Err(TaskFailure::new(e.error_type(), e.message()))
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded { output: Value },
    Failed { error: String, cause: String },
}

/// One execution, as kept for the inspector.
#[derive(Debug)]
pub struct Execution {
    name: String,
    input: Value,
    started_at: DateTime<Utc>,
    history: History,
    outcome: Mutex<(ExecutionStatus, Option<DateTime<Utc>>)>,
}

/// An execution as `/_emulator/api/executions` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionView {
    pub name: String,
    #[serde(flatten)]
    pub status: ExecutionStatus,
    pub input: Value,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub events: Vec<HistoryEvent>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The state machine, its task runner and its executions.
pub struct LocalStepFunctions {
    machine: StateMachine,
    tasks: LocalTasks,
    executions: Mutex<Vec<Arc<Execution>>>,
}

impl LocalStepFunctions {
    /// Checks that every Task resource of the machine can run here.
    pub fn new(machine: StateMachine, tasks: LocalTasks) -> anyhow::Result<Arc<Self>> {
        for resource in machine.task_resources() {
            anyhow::ensure!(
                resource == SQS_SEND_MESSAGE || tasks.functions.contains_key(&resource),
                "the state machine names a task resource the emulator does not host: {resource}"
            );
        }
        Ok(Arc::new(Self {
            machine,
            tasks,
            executions: Mutex::new(Vec::new()),
        }))
    }

    pub fn executions(&self) -> Vec<ExecutionView> {
        lock(&self.executions)
            .iter()
            .map(|e| {
                let (status, stopped_at) = lock(&e.outcome).clone();
                ExecutionView {
                    name: e.name.clone(),
                    status,
                    input: e.input.clone(),
                    started_at: e.started_at,
                    stopped_at,
                    events: e.history.events(),
                }
            })
            .collect()
    }
}

/// Starts executions of the shared machine: what the orchestrator holds as its `WorkflowStarter`.
#[derive(Clone)]
pub struct LocalStarter(pub Arc<LocalStepFunctions>);

#[async_trait]
impl WorkflowStarter for LocalStarter {
    async fn start(&self, execution_name: &str, input: Value) -> Result<StartOutcome, StartError> {
        let execution = {
            let mut executions = lock(&self.0.executions);
            if executions.iter().any(|e| e.name == execution_name) {
                return Ok(StartOutcome::AlreadyStarted);
            }
            let execution = Arc::new(Execution {
                name: execution_name.to_owned(),
                input: input.clone(),
                started_at: Utc::now(),
                history: History::new(),
                outcome: Mutex::new((ExecutionStatus::Running, None)),
            });
            executions.push(execution.clone());
            execution
        };
        let service = self.0.clone();
        // A root span: the execution outlives the delivery that started it. The functions' own log
        // lines name the order, so the span does not repeat it.
        let span = tracing::info_span!(parent: None, "execution");
        tokio::spawn(
            async move {
                let result = service.machine.run(&execution.name, input, &service.tasks, &execution.history).await;
                let status = match result {
                    Ok(output) => {
                        tracing::info!(order_id = %execution.name, "execution succeeded");
                        ExecutionStatus::Succeeded { output }
                    }
                    Err(failure) => {
                        tracing::warn!(order_id = %execution.name, error = %failure.error, "execution failed: {}", failure.cause);
                        ExecutionStatus::Failed { error: failure.error, cause: failure.cause }
                    }
                };
                *lock(&execution.outcome) = (status, Some(Utc::now()));
            }
            .instrument(span),
        );
        Ok(StartOutcome::Started)
    }
}
