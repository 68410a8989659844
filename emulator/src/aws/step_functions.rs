//! The local Step Functions: runs the registration state machine (the same ASL file that
//! `template.yaml` deploys) as durable executions (`durable::executions`): each completed task is
//! checkpointed in the database, and an execution left `RUNNING` by a process that died is
//! resumed, without running its completed tasks again, once its lease lapses.
//!
//! Executions are named, and a name starts once ([`StartOutcome::AlreadyStarted`] after that), as
//! `StartExecution` behaves for a name already used. A failed or aborted one can be redriven
//! ([`LocalStepFunctions::redrive`]): it runs again without its completed tasks. Task resources are Lambda ARNs, run by calling
//! the task functions in-process (under the function's timeout and any injected fault), and the
//! `arn:aws:states:::sqs:sendMessage` service integration, which puts a message on a local queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use clients::workflow::{StartError, StartOutcome, WorkflowStarter};
use durable::{DbError, ExecutionRecord, Executions, Queue, RedriveError};
use function_model::{Invocation, TaskFunction};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;
use workflow::{History, StateMachine, TaskFailure, TaskInvoker, TaskRequest};

use crate::aws::lambda::LambdaFunction;
use crate::aws::lambda::runtime_api::InvokeError;
use crate::local_providers::faults::{Fault, Faults};
use crate::throttle::ReservedConcurrency;

/// The resource of Step Functions' SQS `SendMessage` integration.
pub const SQS_SEND_MESSAGE: &str = "arn:aws:states:::sqs:sendMessage";

/// A task function: in-process under its timeout, or its binary under the Runtime API (process
/// mode).
#[derive(Clone)]
pub enum TaskTarget {
    InProcess {
        function: Arc<dyn TaskFunction>,
        timeout: Duration,
    },
    Process(Arc<LambdaFunction>),
}

impl TaskTarget {
    /// The function's timeout (Lambda's `Timeout`).
    pub fn timeout(&self) -> Duration {
        match self {
            Self::InProcess { timeout, .. } => *timeout,
            Self::Process(function) => function.timeout(),
        }
    }
}

/// Runs Task resources: the task functions by their ARN, and SQS `SendMessage` to the queues by
/// their URL.
pub struct LocalTasks {
    /// By ARN: the function's name and how it runs.
    pub functions: HashMap<String, (String, TaskTarget)>,
    /// The functions' reserved concurrency, by name: past it, a task fails with
    /// `Lambda.TooManyRequestsException` (which a `Retry` may retry).
    pub(crate) reserved_concurrency: HashMap<String, ReservedConcurrency>,
    pub queues: HashMap<String, Arc<Queue>>,
    pub faults: Arc<Faults>,
}

impl LocalTasks {
    async fn send_message(&self, input: &Value) -> Result<Value, TaskFailure> {
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
        let message_id = queue
            .send(body, Default::default(), None)
            .await
            .map_err(|e| TaskFailure::new("SQS.InternalError", e.to_string()))?;
        Ok(json!({ "MessageId": message_id }))
    }
}

#[async_trait]
impl TaskInvoker for LocalTasks {
    async fn invoke(&self, task: TaskRequest) -> Result<Value, TaskFailure> {
        if task.resource == SQS_SEND_MESSAGE {
            return self.send_message(&task.input).await;
        }
        let (name, target) = self.functions.get(&task.resource).ok_or_else(|| {
            TaskFailure::new(
                "Lambda.ResourceNotFoundException",
                format!("no function {}", task.resource),
            )
        })?;
        let _place = match self.reserved_concurrency.get(name) {
            Some(reserved) => Some(reserved.try_enter().ok_or_else(|| {
                TaskFailure::new(
                    "Lambda.TooManyRequestsException",
                    format!("Rate Exceeded. ({name}: its reserved concurrency is taken)"),
                )
            })?),
            None => None,
        };
        let timeout = target.timeout();
        let fault = self.faults.next(name).map(Fault::for_task);
        durable::tasks::suffer(name, timeout, fault).await?;
        let function = match target {
            TaskTarget::InProcess { function, .. } => function,
            TaskTarget::Process(function) => return invoke_process(function, task).await,
        };
        let invocation = Invocation::local(name, timeout, None);
        durable::tasks::call_in_process(function.as_ref(), &invocation, timeout, task).await
    }
}

/// A task run by the function's binary: its JSON answer, or its error as Lambda reports it to
/// Step Functions (`errorType` = our stable names; `Sandbox.Timedout` for a timeout).
async fn invoke_process(
    function: &LambdaFunction,
    task: TaskRequest,
) -> Result<Value, TaskFailure> {
    let name = function.name().to_owned();
    match function.invoke(task.input.to_string().into(), None).await {
        Ok(answer) => serde_json::from_slice(&answer).map_err(|e| {
            TaskFailure::new(
                "Lambda.Unknown",
                format!("{name} answered something that is not JSON: {e}"),
            )
        }),
        Err(InvokeError::TimedOut(timeout)) => Err(TaskFailure::new(
            "Sandbox.Timedout",
            format!("{name} timed out after {timeout:?}"),
        )),
        Err(InvokeError::Function(failure) | InvokeError::InitFailed(failure)) => {
            tracing::warn!(
                order_id = %task.execution_name,
                function = %name,
                attempt = task.attempt,
                error_type = %failure.error_type,
                "task failed: {}",
                failure.error_message
            );
            Err(TaskFailure::new(failure.error_type, failure.error_message))
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How often the emulator looks for executions to resume (left by a process that died).
const RESUME_EVERY: Duration = Duration::from_secs(2);

/// The state machine, its task runner and its executions.
pub struct LocalStepFunctions {
    /// The state machine's name (its ARN's last part).
    name: String,
    machine: StateMachine,
    tasks: LocalTasks,
    executions: Executions,
    /// The histories of the executions this process runs now, for the inspector.
    live: Mutex<HashMap<String, History>>,
    /// How many executions this process runs now.
    running: watch::Sender<usize>,
    /// Its Amazon States Language, as deployed (the template's substitutions done).
    definition: String,
    /// When this emulator created it: `DescribeStateMachine`'s `creationDate`.
    created_at: chrono::DateTime<chrono::Utc>,
}

impl LocalStepFunctions {
    /// Checks that every Task resource of the machine can run here.
    pub fn new(
        name: &str,
        definition: &str,
        machine: StateMachine,
        tasks: LocalTasks,
        executions: Executions,
    ) -> anyhow::Result<Arc<Self>> {
        for resource in machine.task_resources() {
            anyhow::ensure!(
                resource == SQS_SEND_MESSAGE || tasks.functions.contains_key(&resource),
                "the state machine names a task resource the emulator does not host: {resource}"
            );
        }
        Ok(Arc::new(Self {
            name: name.to_owned(),
            machine,
            tasks,
            executions,
            live: Mutex::new(HashMap::new()),
            running: watch::channel(0).0,
            definition: definition.to_owned(),
            created_at: chrono::Utc::now(),
        }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its Amazon States Language, as deployed.
    pub fn definition(&self) -> &str {
        &self.definition
    }

    /// When this emulator created the state machine.
    pub fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.created_at
    }

    /// The state machine its executions run.
    pub fn machine(&self) -> &StateMachine {
        &self.machine
    }

    pub fn executions(&self) -> &Executions {
        &self.executions
    }

    /// One execution; while this process runs it, with the events so far.
    pub async fn execution(&self, name: &str) -> Result<Option<ExecutionRecord>, DbError> {
        let live = lock(&self.live).get(name).map(History::events);
        let mut record = self.executions.get(name).await?;
        if let (Some(record), Some(events)) = (&mut record, live) {
            record.events = events
                .iter()
                .map(|event| serde_json::to_value(event).unwrap_or_default())
                .collect();
        }
        Ok(record)
    }

    /// Starts the execution `name` and runs it in the background; false (and nothing started)
    /// when the name was used before.
    pub async fn start(self: &Arc<Self>, name: &str, input: Value) -> Result<bool, DbError> {
        let started = self.executions.start(name, &input).await?;
        if started {
            self.spawn(name.to_owned(), input, false);
        }
        Ok(started)
    }

    /// Redrives the failed or aborted execution `name` (`RedriveExecution`) and runs it again in
    /// the background, from its checkpoints: the date of the redrive.
    pub async fn redrive(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<chrono::DateTime<chrono::Utc>, RedriveError> {
        let redriven = self.executions.redrive(name).await?;
        tracing::info!(
            order_id = %name,
            redrive_count = redriven.redrive_count,
            "redriving the execution from its checkpoints"
        );
        self.spawn(name.to_owned(), redriven.input, true);
        Ok(redriven.redrive_date)
    }

    /// Runs an execution this process started, claimed or redrove, in the background.
    fn spawn(self: &Arc<Self>, name: String, input: Value, resumed: bool) {
        let history = History::new();
        lock(&self.live).insert(name.clone(), history.clone());
        self.running.send_modify(|n| *n += 1);
        let service = self.clone();
        // A root span: the execution outlives the delivery that started it. The functions' own log
        // lines name the order, so the span does not repeat it.
        let span = tracing::info_span!(parent: None, "execution");
        tokio::spawn(
            async move {
                let result = durable::executions::run(
                    &service.machine,
                    &service.executions,
                    &name,
                    input,
                    &service.tasks,
                    &history,
                    resumed,
                )
                .await;
                match result {
                    Ok(_) => tracing::info!(order_id = %name, "execution succeeded"),
                    Err(failure) => tracing::warn!(order_id = %name, error = %failure.error, "execution failed: {}", failure.cause),
                }
                lock(&service.live).remove(&name);
                service.running.send_modify(|n| *n -= 1);
            }
            .instrument(span),
        );
    }

    /// Resumes, every few seconds, the executions whose process died (their lease lapsed), until
    /// `shutdown`.
    pub async fn resume_lapsed(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.executions.claim_lapsed(100).await {
                Ok(claimed) => {
                    for (name, input) in claimed {
                        tracing::info!(order_id = %name, "resuming an execution from its checkpoints");
                        self.spawn(name, input, true);
                    }
                }
                Err(e) => tracing::warn!("could not look for executions to resume: {e}"),
            }
            tokio::select! {
                () = tokio::time::sleep(RESUME_EVERY) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Waits until the executions this process runs have stopped, for at most `bound`; those still
    /// running then are resumed by the next process, from their checkpoints.
    pub async fn drain(&self, bound: Duration) {
        let mut running = self.running.subscribe();
        let drained = tokio::time::timeout(bound, running.wait_for(|n| *n == 0)).await;
        if drained.is_err() {
            tracing::warn!(
                running = *self.running.borrow(),
                "executions still running at shutdown resume at the next start"
            );
        }
    }
}

/// Starts executions of the shared machine: what the orchestrator holds as its `WorkflowStarter`.
#[derive(Clone)]
pub struct LocalStarter(pub Arc<LocalStepFunctions>);

#[async_trait]
impl WorkflowStarter for LocalStarter {
    async fn start(&self, execution_name: &str, input: Value) -> Result<StartOutcome, StartError> {
        match self.0.start(execution_name, input).await {
            Ok(true) => Ok(StartOutcome::Started),
            Ok(false) => Ok(StartOutcome::AlreadyStarted),
            Err(e) => Err(StartError::Unavailable(e.into())),
        }
    }
}
