//! Durable workflow executions (`durable::Executions` and `durable::executions::run`), each
//! scenario on SQLite and on PostgreSQL.
//!
//! Covered, because the emulator's Step Functions rely on it never to run a completed task twice
//! (no second confirmation e-mail) and never to lose an execution: a name starts once; a machine
//! runs to SUCCEEDED or FAILED with its output or error stored, and every completed task,
//! Parallel branches included, is checkpointed; an execution whose process died (its lease lapsed)
//! is claimed by exactly one new process and resumed there without invoking its completed tasks
//! again; listings page newest first.
//!
//! Tasks are run by `Tasks`, a `TaskInvoker` that counts its invocations per state and can be told
//! to hang in one state (the process dies there).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use durable::executions::REDRIVABLE_PERIOD;
use durable::executions::{ExecutionCounts, replay, run};
use durable::{Db, ExecutionStatus, Executions, PageRequest, RedriveError};
use serde_json::{Value, json};
use tokio::sync::Notify;
use workflow::{
    EventKind, ExecutionFailure, History, StateMachine, TaskFailure, TaskInvoker, TaskRequest,
};

/// The lease of the scenarios' executions.
const LEASE: Duration = Duration::from_secs(15);

support::on_both_databases!(
    a_name_starts_once,
    runs_a_parallel_machine_to_success_and_checkpoints_every_task,
    a_failing_task_fails_the_execution_with_its_error,
    resumes_a_lapsed_execution_without_rerunning_completed_tasks,
    an_execution_is_claimed_by_name_once_its_lease_lapses,
    a_stopped_execution_is_aborted_and_its_run_ends,
    a_failed_execution_is_redriven_from_where_it_failed,
    pages_newest_first,
);

/// Two tasks, one after the other: `Reserve` then `Confirm`.
fn sequential_machine() -> StateMachine {
    StateMachine::from_value(&json!({
        "StartAt": "Reserve",
        "States": {
            "Reserve": {"Type": "Task", "Resource": "reserve", "ResultPath": "$.reserved", "Next": "Confirm"},
            "Confirm": {"Type": "Task", "Resource": "confirm", "ResultPath": "$.confirmed", "End": true}
        }
    }))
    .expect("a valid machine")
}

/// A Parallel state of two tasks, `Charge` and `Email`.
fn parallel_machine() -> StateMachine {
    let branch = |state: &str| {
        json!({
            "StartAt": state,
            "States": {state: {"Type": "Task", "Resource": state.to_lowercase(), "End": true}}
        })
    };
    StateMachine::from_value(&json!({
        "StartAt": "Both",
        "States": {
            "Both": {"Type": "Parallel", "Branches": [branch("Charge"), branch("Email")], "End": true}
        }
    }))
    .expect("a valid machine")
}

/// A task runner that counts invocations per state and answers `{"state": …, "by": process}`.
#[derive(Default)]
struct Tasks {
    /// Which process this is, in every answer.
    process: &'static str,
    /// The state in which an invocation never returns (the process dies there).
    hang_in: Option<&'static str>,
    /// The state in which an invocation fails.
    fail_in: Option<&'static str>,
    /// Notified when an invocation starts hanging.
    hanging: Notify,
    counts: Mutex<HashMap<String, u32>>,
}

impl Tasks {
    fn new(process: &'static str) -> Self {
        Self {
            process,
            ..Self::default()
        }
    }

    /// How many times each state was invoked.
    fn counts(&self) -> HashMap<String, u32> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl TaskInvoker for Tasks {
    async fn invoke(&self, task: TaskRequest) -> Result<Value, TaskFailure> {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(task.state_name.clone())
            .or_default() += 1;
        if self.hang_in == Some(task.state_name.as_str()) {
            self.hanging.notify_one();
            std::future::pending::<()>().await;
        }
        if self.fail_in == Some(task.state_name.as_str()) {
            return Err(TaskFailure::new(
                "Boom",
                format!("{} broke", task.state_name),
            ));
        }
        Ok(json!({"state": task.state_name, "by": self.process}))
    }
}

fn counts(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

async fn status(executions: &Executions, name: &str) -> ExecutionStatus {
    executions
        .get(name)
        .await
        .expect("reads the execution")
        .expect("the execution exists")
        .summary
        .status
}

async fn totals(executions: &Executions) -> (u64, u64, u64) {
    let ExecutionCounts {
        running,
        succeeded,
        failed,
        ..
    } = executions.counts().await.expect("counts");
    (running, succeeded, failed)
}

async fn start(executions: &Executions, name: &str, input: &Value) {
    assert!(
        executions.start(name, input).await.expect("starts"),
        "{name} is new"
    );
}

mod scenarios {
    use super::*;
    use crate::support::{connect, skip};

    pub async fn a_name_starts_once(db: Db, _url: String) {
        let executions = Executions::new(db, LEASE);
        let input = json!({"order": "o-1"});
        assert!(executions.start("o-1", &input).await.expect("starts"));
        let again = executions
            .start("o-1", &json!({"order": "another"}))
            .await
            .expect("answers");
        assert!(!again, "a name starts once");

        let record = executions.get("o-1").await.expect("reads").expect("exists");
        assert_eq!(record.summary.status, ExecutionStatus::Running);
        assert_eq!(record.summary.input, input, "the first input is kept");
        assert_eq!(record.summary.stopped_at, None);
        assert!(record.events.is_empty(), "no history while it runs");
        assert_eq!(totals(&executions).await, (1, 0, 0));
        assert!(executions.get("o-2").await.expect("reads").is_none());
    }

    pub async fn runs_a_parallel_machine_to_success_and_checkpoints_every_task(
        db: Db,
        _url: String,
    ) {
        let executions = Executions::new(db, LEASE);
        let machine = parallel_machine();
        let tasks = Tasks::new("first");
        let input = json!({"order": "o-1"});
        start(&executions, "o-1", &input).await;

        let output = run(
            &machine,
            &executions,
            "o-1",
            input.clone(),
            &tasks,
            &History::new(),
            false,
        )
        .await
        .expect("succeeds");
        let expected = json!([
            {"state": "Charge", "by": "first"},
            {"state": "Email", "by": "first"}
        ]);
        assert_eq!(output, expected);
        assert_eq!(tasks.counts(), counts(&[("Charge", 1), ("Email", 1)]));

        let record = executions.get("o-1").await.expect("reads").expect("exists");
        assert_eq!(
            record.summary.status,
            ExecutionStatus::Succeeded {
                output: expected.clone()
            }
        );
        assert!(record.summary.stopped_at >= Some(record.summary.started_at));
        let types: Vec<_> = record.events.iter().map(|e| e["type"].clone()).collect();
        assert_eq!(types.first(), Some(&json!("ExecutionStarted")));
        assert_eq!(types.last(), Some(&json!("ExecutionSucceeded")));
        assert_eq!(totals(&executions).await, (0, 1, 0));

        // Every task was checkpointed: running it again invokes nothing and changes nothing.
        let again = Tasks::new("second");
        let replayed = run(
            &machine,
            &executions,
            "o-1",
            input,
            &again,
            &History::new(),
            true,
        )
        .await
        .expect("succeeds");
        assert_eq!(replayed, expected);
        assert!(again.counts().is_empty(), "{:?}", again.counts());
        assert_eq!(
            status(&executions, "o-1").await,
            ExecutionStatus::Succeeded { output: expected }
        );
    }

    /// Runs `name` until it hangs in Confirm (Reserve done); the run, to be awaited.
    async fn hanging_run(
        executions: &Executions,
        name: &'static str,
    ) -> tokio::task::JoinHandle<Result<Value, ExecutionFailure>> {
        let input = json!({"order": name});
        start(executions, name, &input).await;
        let tasks = Arc::new(Tasks {
            hang_in: Some("Confirm"),
            ..Tasks::new("first")
        });
        let running = tokio::spawn({
            let (executions, tasks) = (executions.clone(), Arc::clone(&tasks));
            async move {
                let machine = sequential_machine();
                run(
                    &machine,
                    &executions,
                    name,
                    input,
                    &*tasks,
                    &History::new(),
                    false,
                )
                .await
            }
        });
        tokio::time::timeout(Duration::from_secs(10), tasks.hanging.notified())
            .await
            .expect("the run reaches Confirm");
        running
    }

    pub async fn a_stopped_execution_is_aborted_and_its_run_ends(db: Db, url: String) {
        // Stopped by the process that runs it: the run ends at once.
        let executions = Executions::new(db, LEASE);
        let running = hanging_run(&executions, "o-here").await;
        let stopped = executions
            .stop("o-here", "Operator.Stop", "a test stopped it")
            .await
            .expect("stops");
        assert!(stopped.is_some(), "it was running");
        // Well within the first lease renewal (a third of the lease, 5 s).
        let ended = tokio::time::timeout(Duration::from_secs(1), running)
            .await
            .expect("the run ends at once")
            .expect("the run's task");
        assert_eq!(ended.expect_err("not a success").error, "States.Aborted");
        assert_eq!(
            status(&executions, "o-here").await,
            ExecutionStatus::Aborted {
                error: "Operator.Stop".into(),
                cause: "a test stopped it".into()
            }
        );
        let kept = executions
            .get("o-here")
            .await
            .expect("reads")
            .expect("exists");
        let last = kept.events.last().expect("the history is kept");
        assert_eq!(last["type"], "ExecutionAborted", "{last}");
        assert_eq!(last["detail"]["error"], "Operator.Stop");
        assert_eq!(
            executions.stop("o-here", "Again", "").await.expect("stops"),
            None,
            "a stopped execution stays as it stopped"
        );

        // Stopped by another process: the run ends at its next lease renewal.
        let running = hanging_run(&executions, "o-there").await;
        let other = Executions::new(connect(&url).await, LEASE);
        assert!(
            other
                .stop("o-there", "", "")
                .await
                .expect("stops")
                .is_some()
        );
        skip(LEASE / 3).await;
        let ended = tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("the run ends at its renewal")
            .expect("the run's task");
        assert!(ended.is_err());
        assert!(matches!(
            status(&executions, "o-there").await,
            ExecutionStatus::Aborted { .. }
        ));
        assert_eq!(executions.counts().await.expect("counts").aborted, 2);
        assert_eq!(executions.counts().await.expect("counts").failed, 0);
    }

    pub async fn a_failed_execution_is_redriven_from_where_it_failed(db: Db, _url: String) {
        let executions = Executions::new(db, LEASE);
        let machine = parallel_machine();
        let input = json!({"order": "o-1"});
        start(&executions, "o-1", &input).await;
        let first = Tasks {
            fail_in: Some("Email"),
            ..Tasks::new("first")
        };
        // Each run's own history, and the tasks of each, outlive the closure that borrows them.
        let (first_history, second_history) = (History::new(), History::new());
        let second = Tasks::new("second");
        let run_it = |tasks, resumed, history| {
            run(
                &machine,
                &executions,
                "o-1",
                input.clone(),
                tasks,
                history,
                resumed,
            )
        };
        run_it(&first, false, &first_history)
            .await
            .expect_err("Email fails");
        assert_eq!(first.counts(), counts(&[("Charge", 1), ("Email", 1)]));

        let redriven = executions
            .redrive("o-1")
            .await
            .expect("a failed execution is redriven");
        assert_eq!((redriven.redrive_count, &redriven.input), (1, &input));
        assert_eq!(status(&executions, "o-1").await, ExecutionStatus::Running);
        assert!(
            matches!(
                executions.redrive("o-1").await,
                Err(RedriveError::NotRedrivable(
                    "Execution is RUNNING and cannot be redriven."
                ))
            ),
            "a running execution is not redriven"
        );
        let output = run_it(&second, true, &second_history)
            .await
            .expect("the redriven execution succeeds");
        assert_eq!(
            second.counts(),
            counts(&[("Email", 1)]),
            "only the failed task runs again"
        );
        assert_eq!(
            output,
            json!([{"state": "Charge", "by": "first"}, {"state": "Email", "by": "second"}])
        );

        let record = executions.get("o-1").await.expect("reads").expect("exists");
        assert_eq!(record.summary.redrive_count, 1);
        assert_eq!(record.summary.redrive_date, Some(redriven.redrive_date));
        let kinds: Vec<&str> = record
            .events
            .iter()
            .filter_map(|event| event["type"].as_str())
            .collect();
        let at = |kind: &str| kinds.iter().position(|k| *k == kind);
        assert_eq!(
            kinds.iter().filter(|k| **k == "ExecutionStarted").count(),
            1,
            "one start, then the redrive: {kinds:?}"
        );
        assert!(
            at("ExecutionFailed") < at("ExecutionRedriven")
                && at("ExecutionRedriven") < at("ExecutionSucceeded"),
            "the first run, its redrive, then the rest: {kinds:?}"
        );
        let redrive_event = &record.events[at("ExecutionRedriven").expect("redriven")];
        assert_eq!(redrive_event["detail"]["redriveCount"], 1);
        let ids: Vec<u64> = record
            .events
            .iter()
            .filter_map(|e| e["id"].as_u64())
            .collect();
        assert_eq!(
            ids,
            (1..=ids.len() as u64).collect::<Vec<_>>(),
            "numbered in order"
        );

        assert!(matches!(
            executions.redrive("o-1").await,
            Err(RedriveError::NotRedrivable(
                "Execution is SUCCEEDED and cannot be redriven."
            ))
        ));
        assert!(matches!(
            executions.redrive("o-none").await,
            Err(RedriveError::NotFound(_))
        ));

        // A stopped execution is redriven too, within 14 days of its stop.
        start(&executions, "o-2", &input).await;
        executions.stop("o-2", "", "").await.expect("stops");
        assert_eq!(
            executions
                .redrive("o-2")
                .await
                .expect("an aborted execution is redriven")
                .redrive_count,
            1
        );
        start(&executions, "o-3", &input).await;
        executions.stop("o-3", "", "").await.expect("stops");
        skip(REDRIVABLE_PERIOD + Duration::from_secs(1)).await;
        assert!(matches!(
            executions.redrive("o-3").await,
            Err(RedriveError::NotRedrivable(
                "Execution redrivable period exceeded."
            ))
        ));
    }

    pub async fn a_failing_task_fails_the_execution_with_its_error(db: Db, _url: String) {
        let executions = Executions::new(db, LEASE);
        let tasks = Tasks {
            fail_in: Some("Confirm"),
            ..Tasks::new("first")
        };
        start(&executions, "o-1", &json!({})).await;
        let failure = run(
            &sequential_machine(),
            &executions,
            "o-1",
            json!({}),
            &tasks,
            &History::new(),
            false,
        )
        .await
        .expect_err("fails");
        assert_eq!(failure, ExecutionFailure::new("Boom", "Confirm broke"));
        // The stored history keeps every event and its error, not the payloads states pass on.
        let stored = executions
            .get("o-1")
            .await
            .expect("reads")
            .expect("the execution");
        let kinds: Vec<&str> = stored
            .events
            .iter()
            .filter_map(|event| event["type"].as_str())
            .collect();
        assert!(
            kinds.contains(&"ExecutionStarted") && kinds.contains(&"TaskFailed"),
            "{kinds:?}"
        );
        let failed = stored
            .events
            .iter()
            .find(|event| event["type"] == "TaskFailed")
            .expect("a TaskFailed event");
        assert_eq!(
            (&failed["state"], &failed["detail"]["error"]),
            (&json!("Confirm"), &json!("Boom"))
        );
        for event in &stored.events {
            for payload in ["input", "output", "result"] {
                assert!(
                    event["detail"].get(payload).is_none(),
                    "{payload} stored in {event}"
                );
            }
        }
        // The payloads come back by replay: Reserve's output from its checkpoint, Confirm's
        // effective input, and its failure as the history recorded it.
        let checkpoints = executions.checkpoints("o-1").await.expect("reads");
        let replayed = replay(
            &sequential_machine(),
            "o-1",
            json!({}),
            checkpoints,
            &stored.events,
        );
        let event = |kind: EventKind, state: &str| {
            replayed
                .iter()
                .find(|e| e.kind == kind && e.state.as_deref() == Some(state))
                .unwrap_or_else(|| panic!("no {kind:?} of {state} in {replayed:?}"))
        };
        let reserved = json!({"reserved": {"state": "Reserve", "by": "first"}});
        assert_eq!(
            event(EventKind::StateExited, "Reserve").detail["output"],
            reserved
        );
        assert_eq!(
            event(EventKind::TaskScheduled, "Confirm").detail["input"],
            reserved
        );
        let confirm: Vec<EventKind> = replayed
            .iter()
            .filter(|e| e.state.as_deref() == Some("Confirm"))
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            confirm,
            [
                EventKind::StateEntered,
                EventKind::TaskScheduled,
                EventKind::TaskFailed
            ]
        );
        assert_eq!(
            event(EventKind::TaskFailed, "Confirm").detail["error"],
            "Boom"
        );
        assert_eq!(
            status(&executions, "o-1").await,
            ExecutionStatus::Failed {
                error: "Boom".into(),
                cause: "Confirm broke".into()
            }
        );
        assert_eq!(totals(&executions).await, (0, 0, 1));
        assert!(
            executions
                .claim_lapsed(10)
                .await
                .expect("claims")
                .is_empty()
        );
        skip(LEASE * 2).await;
        assert!(
            executions
                .claim_lapsed(10)
                .await
                .expect("claims")
                .is_empty(),
            "a stopped execution is never resumed"
        );
    }

    pub async fn resumes_a_lapsed_execution_without_rerunning_completed_tasks(db: Db, url: String) {
        let machine = Arc::new(sequential_machine());
        let input = json!({"order": "o-1"});

        // The first process runs the execution until it hangs in Confirm, after Reserve completed.
        let first = Executions::new(db, LEASE);
        start(&first, "o-1", &input).await;
        let tasks = Arc::new(Tasks {
            hang_in: Some("Confirm"),
            ..Tasks::new("first")
        });
        let running = tokio::spawn({
            let (machine, first, tasks, input) = (
                Arc::clone(&machine),
                first.clone(),
                Arc::clone(&tasks),
                input.clone(),
            );
            async move {
                run(
                    &machine,
                    &first,
                    "o-1",
                    input,
                    &*tasks,
                    &History::new(),
                    false,
                )
                .await
            }
        });
        tokio::time::timeout(Duration::from_secs(10), tasks.hanging.notified())
            .await
            .expect("the first process reaches Confirm");
        assert_eq!(tasks.counts(), counts(&[("Reserve", 1), ("Confirm", 1)]));

        // While it lives it keeps its lease, however long the task takes.
        let second_db = connect(&url).await;
        let second = Executions::new(second_db.clone(), LEASE);
        for _ in 0..6 {
            skip(LEASE / 3).await;
            // The renewal that the skip made due runs meanwhile.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            second.claim_lapsed(10).await.expect("claims").is_empty(),
            "the lease of a live process is renewed"
        );
        assert_eq!(second.claim("o-1").await.expect("claims"), None);

        // It dies: once its lease has lapsed, the second process claims the execution, once.
        running.abort();
        assert!(running.await.is_err(), "aborted");
        assert!(second.claim_lapsed(10).await.expect("claims").is_empty());
        skip(LEASE + Duration::from_secs(1)).await;
        let claimed = second.claim_lapsed(10).await.expect("claims");
        assert_eq!(claimed, [("o-1".to_owned(), input.clone())]);
        assert!(
            second.claim_lapsed(10).await.expect("claims").is_empty(),
            "claimed once"
        );
        assert_eq!(
            second.claim("o-1").await.expect("claims"),
            None,
            "claimed once, by name too"
        );
        assert_eq!(status(&second, "o-1").await, ExecutionStatus::Running);

        // The second process resumes it: Reserve answers from its checkpoint.
        let resumed_tasks = Tasks::new("second");
        let output = run(
            &machine,
            &second,
            "o-1",
            input,
            &resumed_tasks,
            &History::new(),
            true,
        )
        .await
        .expect("succeeds");
        let expected = json!({
            "order": "o-1",
            "reserved": {"state": "Reserve", "by": "first"},
            "confirmed": {"state": "Confirm", "by": "second"}
        });
        assert_eq!(output, expected);
        assert_eq!(resumed_tasks.counts(), counts(&[("Confirm", 1)]));
        assert_eq!(
            status(&second, "o-1").await,
            ExecutionStatus::Succeeded { output: expected }
        );
        assert_eq!(totals(&second).await, (0, 1, 0));
        skip(LEASE * 2).await;
        assert!(second.claim_lapsed(10).await.expect("claims").is_empty());
        second_db.close().await;
    }

    /// What a redelivered message does on Azure: claim its own execution if its process died.
    pub async fn an_execution_is_claimed_by_name_once_its_lease_lapses(db: Db, _url: String) {
        let executions = Executions::new(db, LEASE);
        let input = json!({"order": "o-2"});
        assert_eq!(
            executions.claim("o-2").await.expect("claims"),
            None,
            "never started"
        );
        start(&executions, "o-2", &input).await;
        assert_eq!(
            executions.claim("o-2").await.expect("claims"),
            None,
            "leased"
        );
        skip(LEASE + Duration::from_secs(1)).await;
        assert_eq!(executions.claim("o-2").await.expect("claims"), Some(input));
        assert_eq!(
            executions.claim("o-2").await.expect("claims"),
            None,
            "claimed once"
        );
        assert!(
            executions
                .claim_lapsed(10)
                .await
                .expect("claims")
                .is_empty()
        );
    }

    pub async fn pages_newest_first(db: Db, _url: String) {
        let executions = Executions::new(db, LEASE);
        for name in ["b-oldest", "c-middle", "a-newest"] {
            start(&executions, name, &json!({"name": name})).await;
            skip(Duration::from_secs(1)).await;
        }
        let names = |page: &durable::Page<durable::ExecutionSummary>| -> Vec<String> {
            page.items.iter().map(|e| e.name.clone()).collect()
        };

        let first = executions
            .page(&PageRequest {
                limit: Some(2),
                cursor: None,
            })
            .await
            .expect("pages");
        assert_eq!(names(&first), ["a-newest", "c-middle"]);
        let cursor = first.next_cursor.clone().expect("another page follows");
        let rest = executions
            .page(&PageRequest {
                limit: Some(2),
                cursor: Some(cursor),
            })
            .await
            .expect("pages");
        assert_eq!(names(&rest), ["b-oldest"]);
        assert_eq!(rest.next_cursor, None, "the last page");
        assert_eq!(rest.items[0].input, json!({"name": "b-oldest"}));

        let all = executions
            .page(&PageRequest::default())
            .await
            .expect("pages");
        assert_eq!(names(&all), ["a-newest", "c-middle", "b-oldest"]);
        assert_eq!(all.next_cursor, None);
    }
}
