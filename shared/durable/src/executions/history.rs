//! What is kept of an execution's history, and how it is read back. The stored history is compact
//! (every event without the JSON payloads states pass on, see the module above:
//! [`compact_history`]); [`replay`] gives the payloads back, from the execution's input and its
//! checkpoints, for the inspector's view of each state's input and output.

use std::collections::HashMap;
use std::future::Future;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use workflow::{History, HistoryEvent, StateMachine, TaskFailure, TaskInvoker, TaskRequest};

use super::step_name;
use crate::db::DbError;

/// The history as stored: compact (see the module documentation).
pub(super) fn compact_history(history: &History) -> Result<String, DbError> {
    history
        .read(|events| {
            let compact: Vec<CompactEvent<'_>> = events.iter().map(CompactEvent).collect();
            serde_json::to_string(&compact)
        })
        .map_err(|e| DbError::Corrupt(format!("history: {e}")))
}

/// The detail fields that carry a state's JSON payload, left out of the stored history.
const PAYLOADS: [&str; 3] = ["input", "output", "result"];

/// An event as stored: all of it but its payloads (see the module documentation).
struct CompactEvent<'e>(&'e HistoryEvent);

impl Serialize for CompactEvent<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let event = self.0;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("id", &event.id)?;
        map.serialize_entry("timestamp", &event.timestamp)?;
        map.serialize_entry("type", &event.kind)?;
        map.serialize_entry("state", &event.state)?;
        match &event.detail {
            Value::Object(detail) => {
                let small: serde_json::Map<String, Value> = detail
                    .iter()
                    .filter(|(key, _)| !PAYLOADS.contains(&key.as_str()))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                map.serialize_entry("detail", &small)?;
            }
            other => map.serialize_entry("detail", other)?,
        }
        map.end()
    }
}

/// The events of an execution rebuilt with their payloads (each state's input and output, each
/// task's effective input and result): the machine is run again from `input`, taking no time
/// ([`StateMachine::run_without_waiting`]), with every task answered as it was answered then,
/// and nothing invoked. A completed task answers from its checkpoint; a failed attempt with the
/// error and cause that `events` (the stored history) recorded for it, so that retries and
/// catchers take the same way again.
///
/// The run stops at the first task with no known outcome (one still running, or stopped with its
/// Parallel state), where its input is known and its result is not. This is what the inspector shows as each state's input and
/// output, while the stored history (compact, see the module documentation) gives the statuses,
/// times, attempts and errors. Run within a Tokio runtime (task timeouts arm its timers); it
/// returns at once, having polled the run until it stopped making progress. A state visited more than once (a loop) is answered as in its last visit.
pub fn replay(
    machine: &StateMachine,
    name: &str,
    input: Value,
    checkpoints: HashMap<String, Value>,
    events: &[Value],
) -> Vec<HistoryEvent> {
    let history = History::new();
    let replaying = Replaying {
        done: checkpoints,
        failed: failed_attempts(events),
    };
    let mut run = std::pin::pin!(machine.run_without_waiting(name, input, &replaying, &history));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    // Polled until it ends or stops making progress (a task with no known outcome never answers).
    let mut recorded = usize::MAX;
    while run.as_mut().poll(&mut context).is_pending() {
        let now = history.read(<[HistoryEvent]>::len);
        if now == recorded {
            break;
        }
        recorded = now;
    }
    history.events()
}

/// How each failed attempt of a task failed, by state and attempt (0 = the first try), from a
/// stored history.
fn failed_attempts(events: &[Value]) -> HashMap<(String, u64), TaskFailure> {
    let mut attempt: HashMap<&str, u64> = HashMap::new();
    let mut failed = HashMap::new();
    for event in events {
        let (Some(state), Some(kind)) = (event["state"].as_str(), event["type"].as_str()) else {
            continue;
        };
        let detail = &event["detail"];
        match kind {
            "TaskScheduled" => {
                attempt.insert(state, detail["attempt"].as_u64().unwrap_or(0));
            }
            "TaskFailed" | "TaskTimedOut" => {
                let failure = TaskFailure::new(
                    detail["error"].as_str().unwrap_or_default(),
                    detail["cause"].as_str().unwrap_or_default(),
                );
                let tried = attempt.get(state).copied().unwrap_or(0);
                failed.insert((state.to_owned(), tried), failure);
            }
            _ => {}
        }
    }
    failed
}

/// Pending once, then ready: lets the other futures polled with it go first.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        std::task::Poll::Pending
    }
}

/// Answers each step as it was answered (see [`replay`]); a step with no known outcome never
/// answers.
struct Replaying {
    done: HashMap<String, Value>,
    failed: HashMap<(String, u64), TaskFailure>,
}

#[async_trait]
impl TaskInvoker for Replaying {
    async fn invoke(&self, task: TaskRequest) -> Result<Value, TaskFailure> {
        if let Some(output) = self.done.get(&step_name(&task)) {
            return Ok(output.clone());
        }
        match self
            .failed
            .get(&(task.state_name.clone(), u64::from(task.attempt)))
        {
            Some(failure) => {
                // A failure answers after the tasks that completed, as it did when it ran (retries
                // take seconds): a Parallel state that fails stops its other branches, which in the
                // run had completed before it failed.
                YieldOnce(false).await;
                Err(failure.clone())
            }
            None => std::future::pending().await,
        }
    }
}
