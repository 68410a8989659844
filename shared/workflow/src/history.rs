//! The execution history: an append-only, shareable list of events, recorded while a run
//! proceeds so that an observer (the emulator's API, a test) can watch progress and, later,
//! explain what happened, in the spirit of Step Functions' `GetExecutionHistory`.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an event records. Serialized as its PascalCase name, e.g. `"TaskRetryScheduled"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// Detail: `input`.
    ExecutionStarted,
    /// Detail: `output`.
    ExecutionSucceeded,
    /// Detail: `error`, `cause`.
    ExecutionFailed,
    /// Stopped from outside (Step Functions' `StopExecution`), not by the machine. Detail:
    /// `error`, `cause`.
    ExecutionAborted,
    /// A stopped execution was started again from where it failed (Step Functions'
    /// `RedriveExecution`). Detail: `redriveCount`.
    ExecutionRedriven,
    /// Detail: `input` (the state's raw input).
    StateEntered,
    /// Detail: `output`.
    StateExited,
    /// Detail: `resource`, `input` (the effective input), `attempt` (0 = first try).
    TaskScheduled,
    /// Detail: `output` (the invoker's raw result).
    TaskSucceeded,
    /// Detail: `error`, `cause`.
    TaskFailed,
    /// Detail: `error`, `cause`.
    TaskTimedOut,
    /// A Task or Parallel state will be retried. Detail: `error`, `attempt` (of the coming
    /// try, as in [`crate::TaskRequest::attempt`]), `delayMs`.
    TaskRetryScheduled,
    /// A catcher handled an error. Detail: `error`, `cause`, `next`.
    CaughtError,
    /// Detail: `input`, `branches` (their count).
    ParallelStarted,
    /// Detail: `output` (the array of branch outputs).
    ParallelSucceeded,
    /// Detail: `error`, `cause`.
    ParallelFailed,
    /// Detail: `delayMs`.
    WaitStarted,
    /// Detail: `next`.
    ChoiceMatched,
    /// Detail: `result`.
    PassApplied,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// 1 for the first event of the history, then counting up.
    pub id: u64,
    pub timestamp: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The state's name (plain, also inside Parallel branches), if the event is about one.
    pub state: Option<String>,
    pub detail: Value,
}

/// A shared, growing list of [`HistoryEvent`]s. Clones share the same list.
#[derive(Debug, Clone, Default)]
pub struct History {
    events: Arc<Mutex<Vec<HistoryEvent>>>,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes this history go on from the events of an earlier run (a redriven execution's):
    /// they are put before the events recorded so far (all numbered again), and a run recorded
    /// into it does not record `ExecutionStarted` again.
    pub fn continue_from(&self, earlier: Vec<HistoryEvent>) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        events.splice(0..0, earlier);
        for (index, event) in events.iter_mut().enumerate() {
            event.id = index as u64 + 1;
        }
    }

    /// Whether no event was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.read(<[HistoryEvent]>::is_empty)
    }

    /// A snapshot of the events recorded so far.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the events recorded so far without copying them (e.g. to serialize them).
    pub fn read<R>(&self, read: impl FnOnce(&[HistoryEvent]) -> R) -> R {
        read(&self.events.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records that the execution was stopped from outside, with the `error` and `cause` given.
    pub fn record_aborted(&self, error: &str, cause: &str) {
        self.record(
            EventKind::ExecutionAborted,
            None,
            serde_json::json!({ "error": error, "cause": cause }),
        );
    }

    /// Records that the execution was redriven, for the `count`th time.
    pub fn record_redriven(&self, count: u64) {
        self.record(
            EventKind::ExecutionRedriven,
            None,
            serde_json::json!({ "redriveCount": count }),
        );
    }

    pub(crate) fn record(&self, kind: EventKind, state: Option<&str>, detail: Value) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let id = events.len() as u64 + 1;
        events.push(HistoryEvent {
            id,
            timestamp: Utc::now(),
            kind,
            state: state.map(String::from),
            detail,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clones_share_events_and_serialize_in_camel_case() {
        let history = History::new();
        let observer = history.clone();
        history.record(EventKind::ExecutionStarted, None, json!({"input": 1}));
        history.record(
            EventKind::TaskRetryScheduled,
            Some("Save"),
            json!({"delayMs": 1000}),
        );
        let events = observer.events();
        assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2]);
        let json = serde_json::to_value(&events[1]).expect("serializable");
        assert_eq!(json["type"], "TaskRetryScheduled");
        assert_eq!(json["state"], "Save");
        assert_eq!(json["detail"]["delayMs"], 1000);
        assert!(json["timestamp"].is_string());
    }
}
