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
//! A step that still fails after its retries fails the execution, as on Step Functions, and the
//! delivery succeeds (the order is safe in the execution). An operator then redrives it
//! ([`InlineWorkflow::redrive`], the app's `redrive` function): it runs again from its
//! checkpoints, so only the failed step runs again.
//!
//! Tasks are the save-order, email and mailing-list libraries, called in this process (under the
//! emulator, each asks its Functions host first for a fault to suffer: [`HostFaults`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clients::workflow::{StartError, StartOutcome, WorkflowStarter};
use durable::tasks::TaskFault;
use durable::{ExecutionStatus, ExecutionSummary, Executions, RedriveError};
use function_model::{Invocation, TaskFunction};
use serde_json::{Value, json};
use tracing::Instrument;
use workflow::{History, StateMachine, TaskFailure, TaskInvoker, TaskRequest};

/// The registration state machine, the one file every host runs.
const DEFINITION: &str = include_str!("../../../infra/statemachine/registration.asl.json");
/// The `Timeout` the task functions have on AWS (`template.yaml`'s `Globals`).
const TASK_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a delivery that waits for another invocation's run looks again.
const WAIT_STEP: Duration = Duration::from_millis(250);

/// The registration machine with Azure's values for the deployment's substitutions
/// (`DefinitionSubstitutions` in `template.yaml`): the task functions by name.
pub fn registration_machine() -> anyhow::Result<StateMachine> {
    let definition = [
        ("${SaveOrderFunctionArn}", "save-order"),
        ("${EmailFunctionArn}", "email"),
        ("${MailingListFunctionArn}", "mailing-list"),
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

/// Starts a registration by running it, durably, in the caller's invocation; redrives a failed
/// one for an operator.
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
    /// Checks that the machine's every task resource is one of `tasks`.
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
                tasks.contains_key(&resource),
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

    /// Runs (or resumes) the execution to its end. An execution still `RUNNING` after it could
    /// not store its outcome: the caller fails, so that it is resumed later.
    async fn run(&self, name: &str, input: Value, resumed: bool) -> Result<(), StartError> {
        let tasks = Tasks {
            functions: &self.tasks,
            faults: self.faults.as_ref(),
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
        let stored = self.executions.get(name).await.map_err(unavailable)?;
        if stored.is_none_or(|record| record.summary.status == ExecutionStatus::Running) {
            return Err(StartError::Unavailable(
                format!("the execution {name} did not store its outcome; it resumes on the next delivery").into(),
            ));
        }
        Ok(())
    }

    /// Redrives the failed (or stopped) execution `name`, as Step Functions' `RedriveExecution`
    /// does, and runs it in this invocation: the tasks it completed are not run again. Its
    /// stored summary once the run ends. A redrive whose invocation died left the execution
    /// `RUNNING` with nothing to resume it (no delivery is pending): once its lease has lapsed,
    /// redriving it again resumes it.
    pub async fn redrive(&self, name: &str) -> Result<ExecutionSummary, RedriveError> {
        let input = match self.executions.redrive(name).await {
            Ok(redriven) => redriven.input,
            Err(RedriveError::NotRedrivable(reason)) => match self.executions.claim(name).await? {
                Some(input) => input,
                None => return Err(RedriveError::NotRedrivable(reason)),
            },
            Err(e) => return Err(e),
        };
        tracing::info!(order_id = %name, "redriving the execution from its checkpoints");
        if let Err(e) = self.run(name, input, true).await {
            tracing::warn!(order_id = %name, "{e}");
        }
        self.executions
            .get(name)
            .await?
            .map(|record| record.summary)
            .ok_or_else(|| RedriveError::NotFound(name.to_owned()))
    }
}

fn unavailable(e: durable::DbError) -> StartError {
    StartError::Unavailable(e.into())
}

#[async_trait]
impl WorkflowStarter for InlineWorkflow {
    async fn start(&self, name: &str, input: Value) -> Result<StartOutcome, StartError> {
        if self
            .executions
            .start(name, &input)
            .await
            .map_err(unavailable)?
        {
            self.run(name, input, false).await?;
            return Ok(StartOutcome::Started);
        }
        let deadline = tokio::time::Instant::now() + self.wait_limit;
        loop {
            if let Some(input) = self.executions.claim(name).await.map_err(unavailable)? {
                tracing::info!(order_id = %name, "resuming the execution from its checkpoints");
                self.run(name, input, true).await?;
                return Ok(StartOutcome::Started);
            }
            let record = self.executions.get(name).await.map_err(unavailable)?;
            if record.is_some_and(|r| r.summary.status != ExecutionStatus::Running) {
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

/// Runs one execution's tasks: the task functions in this process.
struct Tasks<'a> {
    functions: &'a HashMap<String, Arc<dyn TaskFunction>>,
    faults: Option<&'a HostFaults>,
}

#[async_trait]
impl TaskInvoker for Tasks<'_> {
    async fn invoke(&self, task: TaskRequest) -> Result<Value, TaskFailure> {
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
