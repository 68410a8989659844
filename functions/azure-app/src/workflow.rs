//! The registration workflow on Azure: the ASL file that Step Functions runs on AWS, run by the
//! workflow crate inside the orchestrator's invocation, as a durable execution
//! (`durable::executions`, the code the emulator's Step Functions runs too).
//!
//! Why inline: Durable Functions does not support custom handlers, and the orchestrator's
//! Service Bus message is already the durable trigger: while it is not completed, Service Bus
//! delivers it again. So the execution runs in the invocation that delivered its order:
//! - the first delivery starts it (the execution is named by the order id) and runs it to its end;
//! - a delivery after a crash finds it `RUNNING` with a lapsed lease, claims it and resumes it
//!   from its checkpoints: a completed task is never run again (no second email);
//! - a delivery while another invocation runs it waits for that one to finish (two deliveries at
//!   once run it once), up to the invocation's timeout; then it fails, to be delivered again;
//! - a delivery of a finished execution does nothing more.
//!
//! Tasks are the save-order, email and mailing-list libraries, called in this process (under the
//! emulator, each asks its Functions host first for a fault to suffer: [`HostFaults`]); the
//! `sqs:sendMessage` integration, which parks a failed step's order on the follow-up queue, writes
//! to the orchestrator's Service Bus output instead. An output is sent only if the invocation
//! succeeds, and a checkpointed send is not run again on resumption, so each delivery that sees
//! the execution finished writes every follow-up message the execution's checkpoints hold (with a
//! message id derived from the execution and the step): at least once, never lost.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use clients::workflow::{StartError, StartOutcome, WorkflowStarter};
use durable::tasks::TaskFault;
use durable::{ExecutionStatus, Executions};
use function_model::{Invocation, TaskFunction};
use serde_json::{Value, json};
use tracing::Instrument;
use workflow::{History, StateMachine, TaskFailure, TaskInvoker, TaskRequest};

use crate::{FOLLOW_UP_OUTPUT, FOLLOW_UP_QUEUE};

/// The registration state machine, the one file every host runs.
const DEFINITION: &str = include_str!("../../../infra/statemachine/registration.asl.json");
/// The resource of Step Functions' SQS `SendMessage` integration.
const SEND_MESSAGE: &str = "arn:aws:states:::sqs:sendMessage";
/// The `Timeout` the task functions have on AWS (`template.yaml`'s `Globals`).
const TASK_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a delivery that waits for another invocation's run looks again.
const WAIT_STEP: Duration = Duration::from_millis(250);

/// The registration machine with Azure's values for the deployment's substitutions
/// (`DefinitionSubstitutions` in `template.yaml`): the task functions by name, and the follow-up
/// queue.
pub fn registration_machine() -> anyhow::Result<StateMachine> {
    let definition = [
        ("${SaveOrderFunctionArn}", "save-order"),
        ("${EmailFunctionArn}", "email"),
        ("${MailingListFunctionArn}", "mailing-list"),
        ("${FollowUpQueueUrl}", FOLLOW_UP_QUEUE),
    ]
    .iter()
    .fold(DEFINITION.to_owned(), |text, (name, value)| {
        text.replace(name, value)
    });
    if let Some(at) = definition.find("${") {
        let rest = &definition[at..];
        anyhow::bail!(
            "the state machine has a substitution Azure does not give: {}",
            &rest[..rest.find('}').map_or(rest.len(), |end| end + 1)]
        );
    }
    Ok(StateMachine::from_json(&definition)?)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The emulator's fault injection, for the tasks this process runs: before each task the
/// handler asks the emulator (its Functions host) for the fault it must suffer, as the emulator
/// applies faults to the Lambda functions it invokes on AWS. Set only by the emulator
/// (`EMULATOR_TASK_FAULTS_URL`); a deployed app has none.
pub struct HostFaults {
    url: String,
    client: reqwest::Client,
}

impl HostFaults {
    pub fn new(url: String) -> Self {
        Self {
            url,
            client: reqwest::Client::new(),
        }
    }

    async fn next(&self, task: &str) -> Option<TaskFault> {
        let asked = async {
            let answer: Value = self
                .client
                .post(&self.url)
                .json(&json!({ "target": task }))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            Ok::<_, reqwest::Error>(answer)
        };
        let fault = match asked.await {
            Ok(answer) => answer["fault"].clone(),
            Err(e) => {
                tracing::warn!(task, "could not ask the host for a fault: {e}");
                return None;
            }
        };
        match fault["mode"].as_str()? {
            "fail" => Some(TaskFault::Fail),
            "timeout" => Some(TaskFault::Timeout),
            "slow" => Some(TaskFault::Slow(Duration::from_millis(
                fault["delayMs"].as_u64().unwrap_or(1000),
            ))),
            other => {
                tracing::warn!(task, "the host sent an unknown fault {other:?}");
                None
            }
        }
    }
}

/// Starts a registration by running it, durably, in the caller's invocation.
pub struct InlineWorkflow {
    machine: StateMachine,
    executions: Executions,
    /// By resource (the function's name): the task functions.
    tasks: HashMap<String, Arc<dyn TaskFunction>>,
    /// How long a delivery waits for another invocation's run of the same execution.
    wait_limit: Duration,
    faults: Option<HostFaults>,
}

impl InlineWorkflow {
    /// Checks that the machine's every task resource is one of `tasks` or the follow-up queue.
    pub fn new(
        machine: StateMachine,
        executions: Executions,
        tasks: Vec<(&str, Arc<dyn TaskFunction>)>,
        wait_limit: Duration,
        faults: Option<HostFaults>,
    ) -> anyhow::Result<Self> {
        let tasks: HashMap<String, Arc<dyn TaskFunction>> = tasks
            .into_iter()
            .map(|(name, task)| (name.to_owned(), task))
            .collect();
        for resource in machine.task_resources() {
            anyhow::ensure!(
                resource == SEND_MESSAGE || tasks.contains_key(&resource),
                "the state machine names a task this app does not have: {resource}"
            );
        }
        Ok(Self {
            machine,
            executions,
            tasks,
            wait_limit,
            faults,
        })
    }

    /// Runs (or resumes) the execution to its end; the follow-up messages it sent, by id.
    async fn run(&self, name: &str, input: Value, resumed: bool) -> BTreeMap<String, Value> {
        let tasks = Tasks {
            functions: &self.tasks,
            faults: self.faults.as_ref(),
            sent: Mutex::new(BTreeMap::new()),
        };
        let span = tracing::info_span!("execution", order_id = %name, resumed);
        let result = durable::executions::run(
            &self.machine,
            &self.executions,
            name,
            input,
            &tasks,
            &History::new(),
            resumed,
        )
        .instrument(span)
        .await;
        match result {
            Ok(_) => tracing::info!(order_id = %name, "execution succeeded"),
            Err(failure) => tracing::warn!(
                order_id = %name,
                error = %failure.error,
                "execution failed: {}",
                failure.cause
            ),
        }
        tasks
            .sent
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Once the execution has stopped: writes every follow-up message it sent (this invocation's
    /// and those of earlier ones, from the checkpoints) to the follow-up output. An execution
    /// still `RUNNING` here could not store its outcome: the delivery fails, to resume it later.
    async fn write_follow_ups(
        &self,
        name: &str,
        mut sent: BTreeMap<String, Value>,
    ) -> Result<(), StartError> {
        let unavailable = |e: durable::DbError| StartError::Unavailable(e.into());
        let status = self.executions.get(name).await.map_err(unavailable)?;
        if status.is_none_or(|record| record.summary.status == ExecutionStatus::Running) {
            return Err(StartError::Unavailable(
                format!("the execution {name} did not store its outcome; it resumes on the next delivery").into(),
            ));
        }
        for output in self
            .executions
            .checkpoints(name)
            .await
            .map_err(unavailable)?
            .into_values()
        {
            if let (Some(id), Some(body)) =
                (output["MessageId"].as_str(), output.get("MessageBody"))
            {
                sent.entry(id.to_owned()).or_insert_with(|| body.clone());
            }
        }
        for (id, body) in sent {
            tracing::info!(order_id = %name, message_id = %id, "parking the order on the follow-up queue");
            function_model::azure::add_output(FOLLOW_UP_OUTPUT, body)
                .map_err(|e| StartError::Unavailable(e.into()))?;
        }
        Ok(())
    }
}

#[async_trait]
impl WorkflowStarter for InlineWorkflow {
    async fn start(&self, name: &str, input: Value) -> Result<StartOutcome, StartError> {
        let unavailable = |e: durable::DbError| StartError::Unavailable(e.into());
        if self
            .executions
            .start(name, &input)
            .await
            .map_err(unavailable)?
        {
            let sent = self.run(name, input, false).await;
            self.write_follow_ups(name, sent).await?;
            return Ok(StartOutcome::Started);
        }
        let deadline = tokio::time::Instant::now() + self.wait_limit;
        loop {
            if let Some(input) = self.executions.claim(name).await.map_err(unavailable)? {
                tracing::info!(order_id = %name, "resuming the execution from its checkpoints");
                let sent = self.run(name, input, true).await;
                self.write_follow_ups(name, sent).await?;
                return Ok(StartOutcome::Started);
            }
            let record = self.executions.get(name).await.map_err(unavailable)?;
            if record.is_some_and(|r| r.summary.status != ExecutionStatus::Running) {
                self.write_follow_ups(name, BTreeMap::new()).await?;
                return Ok(StartOutcome::AlreadyStarted);
            }
            if tokio::time::Instant::now() + WAIT_STEP >= deadline {
                return Err(StartError::Unavailable(
                    format!("the execution {name} is still running in another invocation").into(),
                ));
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
    }
}

/// Runs one execution's tasks: the task functions in this process, and the follow-up queue's
/// sends, kept for the output binding.
struct Tasks<'a> {
    functions: &'a HashMap<String, Arc<dyn TaskFunction>>,
    faults: Option<&'a HostFaults>,
    sent: Mutex<BTreeMap<String, Value>>,
}

impl Tasks<'_> {
    fn send_message(&self, task: &TaskRequest) -> Result<Value, TaskFailure> {
        let queue = task.input["QueueUrl"].as_str().unwrap_or_default();
        if queue != FOLLOW_UP_QUEUE {
            return Err(TaskFailure::new(
                "SQS.QueueDoesNotExistException",
                format!("this app sends only to {FOLLOW_UP_QUEUE}, not {queue:?}"),
            ));
        }
        let body = match &task.input["MessageBody"] {
            Value::Null => {
                return Err(TaskFailure::new(
                    "SQS.MissingParameterException",
                    "MessageBody is required",
                ));
            }
            body => body.clone(),
        };
        let step = format!("{}/{}#{}", task.execution_name, task.state_name, task.visit);
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, step.as_bytes()).to_string();
        lock(&self.sent).insert(id.clone(), body.clone());
        Ok(json!({ "MessageId": id, "QueueUrl": queue, "MessageBody": body }))
    }
}

#[async_trait]
impl TaskInvoker for Tasks<'_> {
    async fn invoke(&self, task: TaskRequest) -> Result<Value, TaskFailure> {
        if task.resource == SEND_MESSAGE {
            return self.send_message(&task);
        }
        let function = self.functions.get(&task.resource).ok_or_else(|| {
            TaskFailure::new(
                "Lambda.ResourceNotFoundException",
                format!("no function {}", task.resource),
            )
        })?;
        let invocation = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            deadline: tokio::time::Instant::now() + TASK_TIMEOUT,
            function_name: task.resource.clone(),
            function_id: task.resource.clone(),
            trace_id: None,
        };
        let fault = match self.faults {
            Some(faults) => faults.next(&task.resource).await,
            None => None,
        };
        durable::tasks::suffer(&task.resource, TASK_TIMEOUT, fault).await?;
        durable::tasks::call_in_process(function.as_ref(), &invocation, TASK_TIMEOUT, task).await
    }
}
