//! What the inspector shows of one workflow execution: the workflow's definition (to draw its
//! graph) and, for each state, how it ran.
//!
//! Two sources, because the stored history is compact (no payloads, see `durable::executions`):
//! the history gives each state's status, attempts, times and last error as they happened; a
//! replay of the execution ([`durable::executions::replay`]: its tasks answered from their
//! checkpoints and recorded failures) gives each state's input and output, computed again. Nothing is stored for the
//! inspector's sake, so the cost of a registration does not change.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use workflow::{EventKind, HistoryEvent, StateMachine};

/// The state machine the executions run, as the inspector draws it.
pub(crate) struct Workflow {
    /// Its name in the topology (the template's logical id, or the Function App's).
    pub name: String,
    /// The Amazon States Language definition, as JSON.
    pub definition: Value,
    pub machine: StateMachine,
}

impl Workflow {
    pub fn parse(name: &str, definition: &str) -> anyhow::Result<Self> {
        Ok(Self {
            name: name.to_owned(),
            definition: serde_json::from_str(definition)?,
            machine: StateMachine::from_json(definition)?,
        })
    }
}

/// How one state ran, in its last visit.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StateRun {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, or `CAUGHT` (it failed and a `Catch` went on).
    pub status: &'static str,
    /// How many times its task (or Parallel state) was tried; 0 for other states.
    pub attempts: u32,
    pub entered_at: Option<DateTime<Utc>>,
    pub exited_at: Option<DateTime<Utc>>,
    /// From entering to leaving, or to the end of the execution.
    pub duration_ms: Option<i64>,
    /// The state's raw input and its output, from the replay.
    pub input: Option<Value>,
    pub output: Option<Value>,
    /// The last error, even one that a retry then overcame.
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Each state that ran, by name (names are unique across a machine and its branches, as ASL
/// requires). `events` is the stored (or live) history, `replayed` the replay's events,
/// `unfinished` what a state the execution's end left running became (`FAILED` when the
/// execution failed, `ABORTED` when it was stopped), and `stopped_at` when it stopped, if it
/// did.
pub(crate) fn state_runs(
    events: &[Value],
    replayed: &[HistoryEvent],
    unfinished: Option<&'static str>,
    stopped_at: Option<DateTime<Utc>>,
) -> BTreeMap<String, StateRun> {
    let mut runs: BTreeMap<String, StateRun> = BTreeMap::new();
    for event in events {
        let (Some(state), Some(kind)) = (event["state"].as_str(), event["type"].as_str()) else {
            continue;
        };
        let at = event["timestamp"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let error = || {
            (
                event["detail"]["error"].as_str().map(String::from),
                event["detail"]["cause"].as_str().map(String::from),
            )
        };
        if kind == "StateEntered" {
            runs.insert(
                state.to_owned(),
                StateRun {
                    status: "RUNNING",
                    entered_at: at,
                    ..StateRun::default()
                },
            );
            continue;
        }
        let Some(run) = runs.get_mut(state) else {
            continue;
        };
        match kind {
            "TaskScheduled" | "ParallelStarted" => run.attempts += 1,
            "TaskFailed" | "TaskTimedOut" | "ParallelFailed" => {
                run.status = "FAILED";
                (run.error, run.cause) = error();
            }
            "TaskRetryScheduled" => run.status = "RUNNING",
            "CaughtError" => {
                run.status = "CAUGHT";
                (run.error, run.cause) = error();
            }
            "StateExited" => {
                if run.status != "CAUGHT" {
                    run.status = "SUCCEEDED";
                }
                run.exited_at = at;
            }
            _ => {}
        }
    }
    let payloads = payloads(replayed);
    for (name, run) in &mut runs {
        // A state that the execution's end left unfinished (a `Fail` state, a task whose error
        // nothing caught, a task in flight when the execution was stopped) ended with it.
        if let Some(ended) = unfinished.filter(|_| run.status == "RUNNING") {
            run.status = ended;
        }
        let end = run.exited_at.or(stopped_at);
        if let (Some(entered), Some(end)) = (run.entered_at, end) {
            run.duration_ms = Some((end - entered).num_milliseconds());
        }
        if let Some((input, output)) = payloads.get(name.as_str()) {
            run.input = input.clone();
            run.output = output.clone();
        }
    }
    runs
}

/// Each state's input and output in the replay (its last visit).
fn payloads(replayed: &[HistoryEvent]) -> HashMap<&str, (Option<Value>, Option<Value>)> {
    let mut payloads: HashMap<&str, (Option<Value>, Option<Value>)> = HashMap::new();
    for event in replayed {
        let Some(state) = event.state.as_deref() else {
            continue;
        };
        match event.kind {
            EventKind::StateEntered => {
                payloads.insert(state, (event.detail.get("input").cloned(), None));
            }
            EventKind::StateExited => {
                payloads.entry(state).or_default().1 = event.detail.get("output").cloned();
            }
            _ => {}
        }
    }
    payloads
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    /// A task that failed once, was retried and succeeded; another whose error was caught; a
    /// `Fail` state the execution ended in.
    fn machine() -> StateMachine {
        StateMachine::from_value(&json!({
            "StartAt": "Save",
            "States": {
                "Save": {"Type": "Task", "Resource": "save", "ResultPath": "$.saved", "Next": "Email",
                         "Retry": [{"ErrorEquals": ["States.ALL"]}]},
                "Email": {"Type": "Task", "Resource": "email", "Next": "Done",
                          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Gave up"}]},
                "Gave up": {"Type": "Fail", "Error": "Incomplete"},
                "Done": {"Type": "Succeed"}
            }
        }))
        .expect("a valid machine")
    }

    fn event(id: u64, millis: i64, kind: &str, state: &str, detail: Value) -> Value {
        let at = DateTime::from_timestamp_millis(1_700_000_000_000 + millis).expect("a time");
        json!({"id": id, "timestamp": at, "type": kind, "state": state, "detail": detail})
    }

    #[tokio::test]
    async fn each_state_has_its_status_attempts_times_error_and_replayed_payloads() {
        let history = [
            event(1, 0, "StateEntered", "Save", json!({})),
            event(2, 1, "TaskScheduled", "Save", json!({"attempt": 0})),
            event(
                3,
                5,
                "TaskFailed",
                "Save",
                json!({"error": "StoreUnavailable", "cause": "down"}),
            ),
            event(4, 6, "TaskRetryScheduled", "Save", json!({"attempt": 1})),
            event(5, 7, "TaskScheduled", "Save", json!({"attempt": 1})),
            event(6, 9, "TaskSucceeded", "Save", json!({})),
            event(7, 10, "StateExited", "Save", json!({})),
            event(8, 10, "StateEntered", "Email", json!({})),
            event(9, 11, "TaskScheduled", "Email", json!({"attempt": 0})),
            event(
                10,
                30,
                "TaskFailed",
                "Email",
                json!({"error": "ProviderUnavailable", "cause": "503"}),
            ),
            event(
                11,
                31,
                "CaughtError",
                "Email",
                json!({"error": "ProviderUnavailable", "cause": "503", "next": "Gave up"}),
            ),
            event(12, 31, "StateExited", "Email", json!({})),
            event(13, 31, "StateEntered", "Gave up", json!({})),
        ];
        let stopped = DateTime::from_timestamp_millis(1_700_000_000_040);
        let checkpoints = HashMap::from([("Save#1".to_owned(), json!({"id": 7}))]);
        let replayed = durable::executions::replay(
            &machine(),
            "o-1",
            json!({"order": 1}),
            checkpoints,
            &history,
        );

        let runs = state_runs(&history, &replayed, Some("FAILED"), stopped);

        let save = &runs["Save"];
        assert_eq!((save.status, save.attempts), ("SUCCEEDED", 2));
        assert_eq!(save.duration_ms, Some(10));
        assert_eq!(save.error.as_deref(), Some("StoreUnavailable"));
        assert_eq!(save.input, Some(json!({"order": 1})));
        assert_eq!(save.output, Some(json!({"order": 1, "saved": {"id": 7}})));
        let email = &runs["Email"];
        assert_eq!((email.status, email.attempts), ("CAUGHT", 1));
        assert_eq!(email.cause.as_deref(), Some("503"));
        assert_eq!(email.input, save.output, "Email's input is Save's output");
        let caught = json!({"Error": "ProviderUnavailable", "Cause": "503"});
        assert_eq!(
            email.output,
            Some(caught.clone()),
            "the Catch's output, replayed from the recorded failure"
        );
        let gave_up = &runs["Gave up"];
        assert_eq!(gave_up.status, "FAILED");
        assert_eq!(gave_up.input, Some(caught));
        assert_eq!(gave_up.duration_ms, Some(9), "until the execution stopped");
        assert!(!runs.contains_key("Done"), "never entered");
    }
}
