//! Runs a [`StateMachine`] with Step Functions' semantics: state after state, input/output
//! processing in the documented order (`InputPath` → `Parameters` → task → `ResultSelector` →
//! `ResultPath` → `OutputPath`), Retry with backoff and Catch, concurrent Parallel branches,
//! task and execution timeouts, and a [`History`] event for every step. Time goes through
//! `tokio::time`, so tests can run it under a paused clock.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use futures_util::future::{BoxFuture, try_join_all};
use serde_json::{Value, json};

use crate::context::{self, ContextObject};
use crate::definition::{
    FailText, Io, Machine, Parallel, State, StateMachine, Task, Transition, WaitFor,
};
use crate::failure::{ExecutionFailure, names};
use crate::handling::ErrorHandling;
use crate::history::{EventKind, History};
use crate::invoker::{TaskInvoker, TaskRequest};
use crate::path::Path;

impl StateMachine {
    /// Runs one execution to its end and returns its output, or the error and cause it failed
    /// with. Events are appended to `history` as the run proceeds; it starts with
    /// `ExecutionStarted` unless `history` goes on from an earlier run ([`History::continue_from`]).
    pub async fn run(
        &self,
        execution_name: &str,
        input: Value,
        invoker: &dyn TaskInvoker,
        history: &History,
    ) -> Result<Value, ExecutionFailure> {
        self.run_paced(execution_name, input, invoker, history, true)
            .await
    }

    /// Runs as [`run`](Self::run) does, except that retry delays and `Wait` states take no time:
    /// to replay an execution whose tasks' outcomes are already known (the invoker answers with
    /// them), e.g. to rebuild the payloads that its stored history left out.
    pub async fn run_without_waiting(
        &self,
        execution_name: &str,
        input: Value,
        invoker: &dyn TaskInvoker,
        history: &History,
    ) -> Result<Value, ExecutionFailure> {
        self.run_paced(execution_name, input, invoker, history, false)
            .await
    }

    async fn run_paced(
        &self,
        execution_name: &str,
        input: Value,
        invoker: &dyn TaskInvoker,
        history: &History,
        waits: bool,
    ) -> Result<Value, ExecutionFailure> {
        // A history that holds events already goes on from an earlier run (a redrive).
        if history.is_empty() {
            history.record(
                EventKind::ExecutionStarted,
                None,
                json!({ "name": execution_name, "input": input }),
            );
        }
        let runner = Runner {
            invoker,
            history,
            execution_name,
            execution: context::execution_section(execution_name, &input, Utc::now()),
            visits: Mutex::new(HashMap::new()),
            waits,
        };
        let run = runner.run_machine(&self.root, input);
        let result = match self.timeout {
            None => run.await,
            Some(limit) => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                Err(ExecutionFailure::new(
                    names::TIMEOUT,
                    format!(
                        "the execution did not finish within {} seconds",
                        limit.as_secs()
                    ),
                ))
            }),
        };
        match &result {
            Ok(output) => history.record(
                EventKind::ExecutionSucceeded,
                None,
                json!({ "output": output }),
            ),
            Err(failure) => history.record(
                EventKind::ExecutionFailed,
                None,
                json!({ "error": failure.error, "cause": failure.cause }),
            ),
        }
        result
    }
}

/// A state's output and the state to go to next (`None`: the machine or branch ends).
type Step<'d> = Result<(Value, Option<&'d str>), ExecutionFailure>;

/// The states whose attempts are governed by `Retry` and `Catch`.
#[derive(Debug, Clone, Copy)]
enum Work<'d> {
    Task(&'d Task),
    Parallel(&'d Parallel),
}

struct Runner<'a> {
    invoker: &'a dyn TaskInvoker,
    history: &'a History,
    execution_name: &'a str,
    /// The `Execution` section of the context object.
    execution: Value,
    /// How many times each state was entered so far (states have unique names, branches
    /// included, so a name is a state).
    visits: Mutex<HashMap<String, u32>>,
    /// False when retry delays and `Wait` states take no time (a replay).
    waits: bool,
}

impl Runner<'_> {
    /// Counts an entry into the state `name`: 1 the first time.
    fn enter(&self, name: &str) -> u32 {
        let mut visits = self.visits.lock().unwrap_or_else(PoisonError::into_inner);
        let visit = visits.entry(name.to_owned()).or_insert(0);
        *visit += 1;
        *visit
    }

    fn context(&self, state: &str, entered: DateTime<Utc>, retry_count: u32) -> ContextObject<'_> {
        ContextObject::new(&self.execution, state, entered, retry_count)
    }

    /// Runs the whole machine or one Parallel branch (boxed: branches recurse).
    fn run_machine<'r>(
        &'r self,
        machine: &'r Machine,
        input: Value,
    ) -> BoxFuture<'r, Result<Value, ExecutionFailure>> {
        Box::pin(async move {
            let mut name = machine.start_at.as_str();
            let mut input = input;
            loop {
                let state = &machine.states[name];
                self.history.record(
                    EventKind::StateEntered,
                    Some(name),
                    json!({ "input": input }),
                );
                let visit = self.enter(name);
                let (output, next) = self.run_state(name, state, input, visit).await?;
                self.history.record(
                    EventKind::StateExited,
                    Some(name),
                    json!({ "output": output }),
                );
                match next {
                    Some(next) => {
                        name = next;
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
        })
    }

    async fn run_state<'d>(
        &self,
        name: &str,
        state: &'d State,
        input: Value,
        visit: u32,
    ) -> Step<'d> {
        let entered = Utc::now();
        let context = self.context(name, entered, 0);
        match state {
            State::Task(task) => {
                self.retry_and_catch(name, Work::Task(task), input, entered, visit)
                    .await
            }
            State::Parallel(parallel) => {
                self.retry_and_catch(name, Work::Parallel(parallel), input, entered, visit)
                    .await
            }
            State::Pass(pass) => {
                let effective = select(pass.io.input_path.as_ref(), &input, &context, "InputPath")?;
                let result = match (&pass.result, &pass.io.parameters) {
                    (Some(result), _) => result.clone(),
                    (None, Some(parameters)) => parameters.evaluate(&effective, &context)?,
                    (None, None) => effective,
                };
                self.history.record(
                    EventKind::PassApplied,
                    Some(name),
                    json!({ "result": result }),
                );
                let output = place_result(&pass.io, input, result, &context)?;
                Ok((output, pass.transition.next()))
            }
            State::Choice(choice) => {
                let effective =
                    select(choice.io.input_path.as_ref(), &input, &context, "InputPath")?;
                let next = choice
                    .choices
                    .iter()
                    .find(|(condition, _)| condition.matches(&effective, &context))
                    .map(|(_, next)| next.as_str())
                    .or(choice.default.as_deref())
                    .ok_or_else(|| {
                        ExecutionFailure::new(
                            names::NO_CHOICE_MATCHED,
                            format!(
                                "no rule of Choice state \"{name}\" matched, and it has no Default"
                            ),
                        )
                    })?;
                self.history.record(
                    EventKind::ChoiceMatched,
                    Some(name),
                    json!({ "next": next }),
                );
                let output = select(
                    choice.io.output_path.as_ref(),
                    &effective,
                    &context,
                    "OutputPath",
                )?;
                Ok((output, Some(next)))
            }
            State::Wait(wait) => {
                let effective = select(wait.io.input_path.as_ref(), &input, &context, "InputPath")?;
                let delay = wait_delay(&wait.until, &effective, &context)?;
                self.history.record(
                    EventKind::WaitStarted,
                    Some(name),
                    json!({ "delayMs": millis(delay) }),
                );
                if self.waits {
                    tokio::time::sleep(delay).await;
                }
                let output = select(
                    wait.io.output_path.as_ref(),
                    &effective,
                    &context,
                    "OutputPath",
                )?;
                Ok((output, wait.transition.next()))
            }
            State::Succeed(io) => {
                let effective = select(io.input_path.as_ref(), &input, &context, "InputPath")?;
                let output = select(io.output_path.as_ref(), &effective, &context, "OutputPath")?;
                Ok((output, None))
            }
            State::Fail(fail) => {
                let text = |text: &Option<FailText>, field| match text {
                    None => Ok(String::new()),
                    Some(FailText::Literal(text)) => Ok(text.clone()),
                    Some(FailText::Path(path)) => match resolve(path, &input, &context, field)? {
                        Value::String(text) => Ok(text),
                        other => Err(ExecutionFailure::runtime(format!(
                            "{field}: path \"{}\" selected {other}, which is not a string",
                            path.text()
                        ))),
                    },
                };
                Err(ExecutionFailure::new(
                    text(&fail.error, "ErrorPath")?,
                    text(&fail.cause, "CausePath")?,
                ))
            }
        }
    }

    /// Runs attempts of a Task or Parallel state until one succeeds, a retrier stops
    /// matching or is exhausted (then the first matching catcher, if any, decides), or the
    /// error cannot be handled.
    async fn retry_and_catch<'d>(
        &self,
        name: &str,
        work: Work<'d>,
        input: Value,
        entered: DateTime<Utc>,
        visit: u32,
    ) -> Step<'d> {
        let (handling, transition): (&ErrorHandling, &Transition) = match work {
            Work::Task(task) => (&task.handling, &task.transition),
            Work::Parallel(parallel) => (&parallel.handling, &parallel.transition),
        };
        let mut retries_by_retrier = vec![0u32; handling.retriers.len()];
        let mut retry_count = 0u32;
        loop {
            let context = self.context(name, entered, retry_count);
            let attempt = match work {
                Work::Task(task) => {
                    self.task_attempt(name, task, &input, &context, visit, retry_count)
                        .await
                }
                Work::Parallel(parallel) => {
                    self.parallel_attempt(name, parallel, &input, &context)
                        .await
                }
            };
            let failure = match attempt {
                Ok(output) => return Ok((output, transition.next())),
                Err(failure) => failure,
            };
            if let Some((index, retrier)) = handling.retrier_for(&failure.error)
                && retries_by_retrier[index] < retrier.max_attempts
            {
                let delay = retrier.delay(retries_by_retrier[index]);
                retries_by_retrier[index] += 1;
                retry_count += 1;
                self.history.record(
                    EventKind::TaskRetryScheduled,
                    Some(name),
                    json!({
                        "error": failure.error,
                        "cause": failure.cause,
                        "attempt": retry_count,
                        "delayMs": millis(delay),
                    }),
                );
                if self.waits {
                    tokio::time::sleep(delay).await;
                }
                continue;
            }
            let Some(catcher) = handling.catcher_for(&failure.error) else {
                return Err(failure);
            };
            let error_output = json!({ "Error": failure.error, "Cause": failure.cause });
            let output = match &catcher.result_path {
                None => input,
                Some(result_path) => result_path.apply(input, error_output).map_err(|e| {
                    ExecutionFailure::new(
                        names::RESULT_PATH_MATCH_FAILURE,
                        format!("Catch ResultPath: {e}"),
                    )
                })?,
            };
            self.history.record(
                EventKind::CaughtError,
                Some(name),
                json!({ "error": failure.error, "cause": failure.cause, "next": catcher.next }),
            );
            return Ok((output, Some(catcher.next.as_str())));
        }
    }

    async fn task_attempt(
        &self,
        name: &str,
        task: &Task,
        input: &Value,
        context: &ContextObject<'_>,
        visit: u32,
        attempt: u32,
    ) -> Result<Value, ExecutionFailure> {
        let effective = effective_input(&task.io, input, context)?;
        self.history.record(
            EventKind::TaskScheduled,
            Some(name),
            json!({ "resource": task.resource, "input": effective, "attempt": attempt }),
        );
        let invocation = self.invoker.invoke(TaskRequest {
            resource: task.resource.clone(),
            input: effective,
            state_name: name.into(),
            execution_name: self.execution_name.into(),
            visit,
            attempt,
        });
        let outcome = match task.timeout {
            None => invocation.await,
            Some(limit) => match tokio::time::timeout(limit, invocation).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    let failure = ExecutionFailure::new(
                        names::TIMEOUT,
                        format!("the task did not finish within {} seconds", limit.as_secs()),
                    );
                    self.history.record(
                        EventKind::TaskTimedOut,
                        Some(name),
                        json!({ "error": failure.error, "cause": failure.cause }),
                    );
                    return Err(failure);
                }
            },
        };
        let result = match outcome {
            Ok(result) => {
                self.history.record(
                    EventKind::TaskSucceeded,
                    Some(name),
                    json!({ "output": result }),
                );
                result
            }
            Err(failure) => {
                self.history.record(
                    EventKind::TaskFailed,
                    Some(name),
                    json!({ "error": failure.error, "cause": failure.cause }),
                );
                return Err(ExecutionFailure::new(failure.error, failure.cause));
            }
        };
        complete(&task.io, input.clone(), result, context)
    }

    async fn parallel_attempt(
        &self,
        name: &str,
        parallel: &Parallel,
        input: &Value,
        context: &ContextObject<'_>,
    ) -> Result<Value, ExecutionFailure> {
        let effective = effective_input(&parallel.io, input, context)?;
        self.history.record(
            EventKind::ParallelStarted,
            Some(name),
            json!({ "input": effective, "branches": parallel.branches.len() }),
        );
        let branches = parallel
            .branches
            .iter()
            .map(|branch| self.run_machine(branch, effective.clone()));
        let result = match try_join_all(branches).await {
            Ok(outputs) => Value::Array(outputs),
            Err(failure) => {
                self.history.record(
                    EventKind::ParallelFailed,
                    Some(name),
                    json!({ "error": failure.error, "cause": failure.cause }),
                );
                return Err(failure);
            }
        };
        self.history.record(
            EventKind::ParallelSucceeded,
            Some(name),
            json!({ "output": result }),
        );
        complete(&parallel.io, input.clone(), result, context)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Reads `path` in `value`; a miss is a `States.Runtime` failure naming `field`.
fn resolve(
    path: &Path,
    value: &Value,
    context: &ContextObject<'_>,
    field: &str,
) -> Result<Value, ExecutionFailure> {
    path.resolve(value, context)
        .map(Cow::into_owned)
        .map_err(|e| ExecutionFailure::runtime(format!("{field}: {e}")))
}

/// Applies an `InputPath` or `OutputPath` (`None`, i.e. `null`, gives `{}`).
fn select(
    path: Option<&Path>,
    value: &Value,
    context: &ContextObject<'_>,
    field: &str,
) -> Result<Value, ExecutionFailure> {
    match path {
        None => Ok(json!({})),
        Some(path) => resolve(path, value, context, field),
    }
}

/// `InputPath`, then `Parameters`.
fn effective_input(
    io: &Io,
    input: &Value,
    context: &ContextObject<'_>,
) -> Result<Value, ExecutionFailure> {
    let selected = select(io.input_path.as_ref(), input, context, "InputPath")?;
    match &io.parameters {
        Some(parameters) => parameters.evaluate(&selected, context),
        None => Ok(selected),
    }
}

/// `ResultSelector`, then `ResultPath` and `OutputPath`.
fn complete(
    io: &Io,
    raw_input: Value,
    result: Value,
    context: &ContextObject<'_>,
) -> Result<Value, ExecutionFailure> {
    let result = match &io.result_selector {
        Some(selector) => selector.evaluate(&result, context)?,
        None => result,
    };
    place_result(io, raw_input, result, context)
}

/// `ResultPath` (into the raw input), then `OutputPath`.
fn place_result(
    io: &Io,
    raw_input: Value,
    result: Value,
    context: &ContextObject<'_>,
) -> Result<Value, ExecutionFailure> {
    let combined = match &io.result_path {
        None => raw_input,
        Some(result_path) => result_path.apply(raw_input, result).map_err(|e| {
            ExecutionFailure::new(names::RESULT_PATH_MATCH_FAILURE, format!("ResultPath: {e}"))
        })?,
    };
    select(io.output_path.as_ref(), &combined, context, "OutputPath")
}

fn wait_delay(
    until: &WaitFor,
    input: &Value,
    context: &ContextObject<'_>,
) -> Result<Duration, ExecutionFailure> {
    let until_time = |time: DateTime<FixedOffset>| {
        (time.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    match until {
        WaitFor::Seconds(seconds) => Ok(Duration::from_secs(*seconds)),
        WaitFor::Timestamp(time) => Ok(until_time(*time)),
        WaitFor::SecondsPath(path) => {
            let value = resolve(path, input, context, "SecondsPath")?;
            value.as_u64().map(Duration::from_secs).ok_or_else(|| {
                ExecutionFailure::runtime(format!(
                    "SecondsPath: path \"{}\" selected {value}, which is not a non-negative integer",
                    path.text()
                ))
            })
        }
        WaitFor::TimestampPath(path) => {
            let value = resolve(path, input, context, "TimestampPath")?;
            value
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(until_time)
                .ok_or_else(|| {
                    ExecutionFailure::runtime(format!(
                        "TimestampPath: path \"{}\" selected {value}, which is not an RFC 3339 timestamp",
                        path.text()
                    ))
                })
        }
    }
}
