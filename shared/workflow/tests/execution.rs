//! Executions through the public API, against a scripted fake of the external tasks, under a
//! paused tokio clock so that retry delays, waits and timeouts are exact and instant.

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use workflow::{
    EventKind, ExecutionFailure, History, HistoryEvent, StateMachine, TaskFailure, TaskInvoker,
    TaskRequest, names,
};

/// What the fake task does for one request.
enum Outcome {
    Return(Value),
    Fail(&'static str),
    /// Sleeps (on the tokio clock), then returns the value.
    Slow(u64, Value),
}

type Script = dyn Fn(&TaskRequest) -> Outcome + Send + Sync;

/// A scripted stand-in for the Lambda functions and service integrations.
struct FakeTasks {
    script: Box<Script>,
    calls: Mutex<Vec<(TaskRequest, Instant)>>,
}

impl FakeTasks {
    fn new(script: impl Fn(&TaskRequest) -> Outcome + Send + Sync + 'static) -> Self {
        Self {
            script: Box::new(script),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self) -> Vec<TaskRequest> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Seconds between consecutive calls.
    fn gaps(&self) -> Vec<u64> {
        let calls = self.calls.lock().unwrap();
        calls
            .windows(2)
            .map(|pair| (pair[1].1 - pair[0].1).as_secs())
            .collect()
    }
}

#[async_trait::async_trait]
impl TaskInvoker for FakeTasks {
    async fn invoke(&self, task: TaskRequest) -> Result<Value, TaskFailure> {
        self.calls
            .lock()
            .unwrap()
            .push((task.clone(), Instant::now()));
        match (self.script)(&task) {
            Outcome::Return(value) => Ok(value),
            Outcome::Fail(error) => Err(TaskFailure::new(
                error,
                format!("{} failed", task.state_name),
            )),
            Outcome::Slow(seconds, value) => {
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                Ok(value)
            }
        }
    }
}

fn echo() -> FakeTasks {
    FakeTasks::new(|request| Outcome::Return(request.input.clone()))
}

async fn run(
    definition: Value,
    input: Value,
    tasks: &FakeTasks,
) -> (Result<Value, ExecutionFailure>, Vec<HistoryEvent>) {
    let machine = StateMachine::from_json(&definition.to_string()).unwrap();
    let history = History::new();
    let result = machine.run("exec-1", input, tasks, &history).await;
    (result, history.events())
}

fn kinds(events: &[HistoryEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

fn details(events: &[HistoryEvent], kind: EventKind) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.detail.clone())
        .collect()
}

fn single_task(task: Value) -> Value {
    json!({"StartAt": "T", "States": {"T": task}})
}

#[tokio::test(start_paused = true)]
async fn task_input_and_output_processing() {
    let tasks = FakeTasks::new(|_| Outcome::Return(json!({"ok": true, "noise": [1, 2]})));
    let definition = single_task(json!({
        "Type": "Task",
        "Resource": "arn:save",
        "InputPath": "$.order",
        "Parameters": {
            "id.$": "$.id",
            "first.$": "$.items[0]",
            "quoted.$": "$['items'][1]",
            "fixed": {"nested": [1, {"deep.$": "$.id"}]},
            "execution.$": "$$.Execution.Name",
            "executionId.$": "$$.Execution.Id",
            "original.$": "$$.Execution.Input.customer",
            "state.$": "$$.State.Name",
            "retries.$": "$$.State.RetryCount",
            "greeting.$": "States.Format('order {} for {}', $.id, $$.Execution.Name)"
        },
        "ResultSelector": {"saved.$": "$.ok", "by.$": "$$.State.Name"},
        "ResultPath": "$.results.save",
        "OutputPath": "$.results",
        "End": true
    }));
    let input = json!({"customer": "c-1", "order": {"id": "o-1", "items": ["a", "b"]}});
    let (result, _) = run(definition, input, &tasks).await;
    let call = &tasks.calls()[0];
    assert_eq!(call.resource, "arn:save");
    assert_eq!(call.state_name, "T");
    assert_eq!(call.execution_name, "exec-1");
    assert_eq!(call.attempt, 0);
    assert_eq!(
        call.input,
        json!({
            "id": "o-1", "first": "a", "quoted": "b",
            "fixed": {"nested": [1, {"deep": "o-1"}]},
            "execution": "exec-1",
            "executionId": "arn:aws:states:local:000000000000:execution:workflow:exec-1",
            "original": "c-1", "state": "T", "retries": 0,
            "greeting": "order o-1 for exec-1"
        })
    );
    assert_eq!(result.unwrap(), json!({"save": {"saved": true, "by": "T"}}));
}

#[tokio::test(start_paused = true)]
async fn null_paths_and_result_path_variants() {
    let definition = json!({"StartAt": "Discard", "States": {
        "Discard": {"Type": "Task", "Resource": "r", "ResultPath": null, "Next": "Nested"},
        "Nested": {"Type": "Pass", "Result": "deep", "ResultPath": "$.a.b.c", "Next": "Replace"},
        "Replace": {"Type": "Pass", "Parameters": {"kept.$": "$.a", "x.$": "$.x"}, "Next": "NoInput"},
        "NoInput": {"Type": "Pass", "InputPath": null, "ResultPath": "$.empty", "Next": "Check"},
        "Check": {"Type": "Pass", "OutputPath": null, "Next": "Succeed"},
        "Succeed": {"Type": "Succeed"}
    }});
    let tasks = FakeTasks::new(|_| Outcome::Return(json!("ignored")));
    let (result, events) = run(definition, json!({"x": 1}), &tasks).await;
    assert_eq!(result.unwrap(), json!({}));
    let exits = details(&events, EventKind::StateExited);
    assert_eq!(exits[0]["output"], json!({"x": 1}));
    assert_eq!(
        exits[1]["output"],
        json!({"x": 1, "a": {"b": {"c": "deep"}}})
    );
    assert_eq!(
        exits[2]["output"],
        json!({"kept": {"b": {"c": "deep"}}, "x": 1})
    );
    assert_eq!(
        exits[3]["output"],
        json!({"kept": {"b": {"c": "deep"}}, "x": 1, "empty": {}})
    );
}

#[tokio::test(start_paused = true)]
async fn result_path_into_a_non_object_fails_and_can_be_caught() {
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "ResultPath": "$.s.inner",
              "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"], "Next": "Handled"}], "End": true},
        "Handled": {"Type": "Succeed"}
    }});
    let (result, _) = run(definition, json!({"s": "text"}), &echo()).await;
    assert_eq!(result.unwrap()["Error"], names::RESULT_PATH_MATCH_FAILURE);
}

#[tokio::test(start_paused = true)]
async fn retry_backs_off_exactly_then_succeeds() {
    let tasks = FakeTasks::new(|request| {
        if request.attempt < 3 {
            Outcome::Fail("StoreUnavailable")
        } else {
            Outcome::Return(json!({"saved": request.input["retries"]}))
        }
    });
    let definition = single_task(json!({
        "Type": "Task", "Resource": "r",
        "Parameters": {"retries.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": ["StoreUnavailable"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2}],
        "End": true
    }));
    let start = Instant::now();
    let (result, events) = run(definition, json!({}), &tasks).await;
    assert_eq!(result.unwrap(), json!({"saved": 3}));
    assert_eq!(tasks.gaps(), [1, 2, 4]);
    assert_eq!(start.elapsed(), Duration::from_secs(7));
    let attempts: Vec<_> = tasks.calls().iter().map(|c| c.attempt).collect();
    assert_eq!(attempts, [0, 1, 2, 3]);
    let retries = details(&events, EventKind::TaskRetryScheduled);
    let delays: Vec<_> = retries
        .iter()
        .map(|d| d["delayMs"].as_u64().unwrap())
        .collect();
    assert_eq!(delays, [1000, 2000, 4000]);
    assert_eq!(retries[0]["error"], "StoreUnavailable");
    assert_eq!(retries[0]["attempt"], 1);
}

/// A replay takes no time: the same retries and `Wait` as a run, finished in a single poll.
#[tokio::test(start_paused = true)]
async fn a_run_without_waiting_skips_retry_delays_and_waits() {
    let tasks = FakeTasks::new(|request| {
        if request.attempt < 2 {
            Outcome::Fail("StoreUnavailable")
        } else {
            Outcome::Return(json!("saved"))
        }
    });
    let machine = StateMachine::from_value(&json!({
        "StartAt": "Pause",
        "States": {
            "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "Save"},
            "Save": {"Type": "Task", "Resource": "r", "End": true,
                     "Retry": [{"ErrorEquals": ["StoreUnavailable"], "IntervalSeconds": 60, "MaxAttempts": 3}]}
        }
    }))
    .unwrap();
    let history = History::new();
    let run = std::pin::pin!(machine.run_without_waiting("e", json!({}), &tasks, &history));
    let polled = run.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    assert_eq!(polled, std::task::Poll::Ready(Ok(json!("saved"))));
    assert_eq!(
        details(&history.events(), EventKind::TaskRetryScheduled).len(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn retry_caps_delay_then_exhausts_into_catch() {
    let tasks = FakeTasks::new(|_| Outcome::Fail("ProviderUnavailable"));
    let definition = json!({"StartAt": "T", "States": {
        "T": {
            "Type": "Task", "Resource": "r",
            "Retry": [{"ErrorEquals": ["ProviderUnavailable"], "IntervalSeconds": 2, "BackoffRate": 3,
                       "MaxAttempts": 4, "MaxDelaySeconds": 5}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Recover"}],
            "End": true
        },
        "Recover": {"Type": "Pass", "End": true}
    }});
    let (result, events) = run(definition, json!({"order": 1}), &tasks).await;
    assert_eq!(tasks.gaps(), [2, 5, 5, 5]);
    assert_eq!(
        result.unwrap(),
        json!({"order": 1, "failure": {"Error": "ProviderUnavailable", "Cause": "T failed"}})
    );
    let caught = details(&events, EventKind::CaughtError);
    assert_eq!(
        caught,
        [json!({"error": "ProviderUnavailable", "cause": "T failed", "next": "Recover"})]
    );
}

#[tokio::test(start_paused = true)]
async fn each_retrier_counts_its_own_attempts() {
    // A, B, A: A has one retry only, so its second failure is final, even though the
    // execution has retried only twice in total.
    let tasks = FakeTasks::new(|request| match request.attempt {
        0 | 2 => Outcome::Fail("A"),
        _ => Outcome::Fail("B"),
    });
    let definition = single_task(json!({
        "Type": "Task", "Resource": "r",
        "Retry": [
            {"ErrorEquals": ["A"], "MaxAttempts": 1, "IntervalSeconds": 1},
            {"ErrorEquals": ["B"], "MaxAttempts": 5, "IntervalSeconds": 10}
        ],
        "End": true
    }));
    let (result, _) = run(definition, json!({}), &tasks).await;
    assert_eq!(result.unwrap_err().error, "A");
    assert_eq!(tasks.gaps(), [1, 10]);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_zero_never_retries() {
    let tasks = FakeTasks::new(|_| Outcome::Fail("A"));
    let definition = single_task(json!({
        "Type": "Task", "Resource": "r",
        "Retry": [{"ErrorEquals": ["A"], "MaxAttempts": 0}], "End": true
    }));
    let (result, _) = run(definition, json!({}), &tasks).await;
    assert_eq!(result.unwrap_err(), ExecutionFailure::new("A", "T failed"));
    assert_eq!(tasks.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn catch_result_paths() {
    let definition = |result_path: Option<Value>| {
        let mut catcher = json!({"ErrorEquals": ["Boom"], "Next": "After"});
        if let Some(path) = result_path {
            catcher["ResultPath"] = path;
        }
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "Catch": [catcher], "Next": "After"},
            "After": {"Type": "Succeed"}
        }})
    };
    let tasks = FakeTasks::new(|_| Outcome::Fail("Boom"));
    let input = json!({"keep": true});
    let error = json!({"Error": "Boom", "Cause": "T failed"});
    let (default, _) = run(definition(None), input.clone(), &tasks).await;
    assert_eq!(default.unwrap(), error);
    let (nested, _) = run(
        definition(Some(json!("$.errors.save"))),
        input.clone(),
        &tasks,
    )
    .await;
    assert_eq!(
        nested.unwrap(),
        json!({"keep": true, "errors": {"save": error}})
    );
    let (discarded, _) = run(definition(Some(Value::Null)), input.clone(), &tasks).await;
    assert_eq!(discarded.unwrap(), input);
}

#[tokio::test(start_paused = true)]
async fn task_timeout_with_a_slow_task() {
    let definition = |timeout: u64| {
        single_task(
            json!({"Type": "Task", "Resource": "r", "TimeoutSeconds": timeout, "End": true}),
        )
    };
    let tasks = FakeTasks::new(|_| Outcome::Slow(10, json!("done")));
    let start = Instant::now();
    let (result, events) = run(definition(5), json!({}), &tasks).await;
    assert_eq!(result.unwrap_err().error, names::TIMEOUT);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(kinds(&events).contains(&EventKind::TaskTimedOut));
    let (result, _) = run(definition(11), json!({}), &tasks).await;
    assert_eq!(result.unwrap(), json!("done"));
}

#[tokio::test(start_paused = true)]
async fn task_failed_does_not_match_timeout() {
    let definition = json!({"StartAt": "T", "States": {
        "T": {
            "Type": "Task", "Resource": "r", "TimeoutSeconds": 1,
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
            "Catch": [
                {"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"},
                {"ErrorEquals": ["States.ALL"], "Next": "TimedOut"}
            ],
            "End": true
        },
        "Failed": {"Type": "Pass", "Result": "failed", "End": true},
        "TimedOut": {"Type": "Pass", "Result": "timed out", "End": true}
    }});
    let slow = FakeTasks::new(|_| Outcome::Slow(5, json!(null)));
    let (result, _) = run(definition.clone(), json!({}), &slow).await;
    assert_eq!(result.unwrap(), json!("timed out"));
    assert_eq!(
        slow.calls().len(),
        1,
        "States.TaskFailed must not retry a timeout"
    );
    let failing = FakeTasks::new(|_| Outcome::Fail("Lambda.ServiceException"));
    let (result, _) = run(definition, json!({}), &failing).await;
    assert_eq!(result.unwrap(), json!("failed"));
    assert_eq!(failing.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn runtime_errors_are_neither_retried_nor_caught() {
    let definition = json!({"StartAt": "T", "States": {
        "T": {
            "Type": "Task", "Resource": "r", "InputPath": "$.missing",
            "Retry": [{"ErrorEquals": ["States.ALL"]}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": true
        },
        "Caught": {"Type": "Succeed"}
    }});
    let tasks = echo();
    let (result, events) = run(definition, json!({"present": 1}), &tasks).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.error, names::RUNTIME);
    assert!(
        failure.cause.contains("InputPath") && failure.cause.contains("$.missing"),
        "{}",
        failure.cause
    );
    assert!(tasks.calls().is_empty());
    assert_eq!(kinds(&events).last(), Some(&EventKind::ExecutionFailed));
}

fn two_branches(first: Value, second: Value) -> Value {
    json!({"StartAt": "Fork", "States": {
        "Fork": {
            "Type": "Parallel", "ResultPath": "$.results",
            "Branches": [
                {"StartAt": "First", "States": {"First": first}},
                {"StartAt": "Second", "States": {"Second": second}}
            ],
            "Catch": [{"ErrorEquals": ["BranchBroke"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": true
        },
        "Caught": {"Type": "Pass", "End": true}
    }})
}

#[tokio::test(start_paused = true)]
async fn parallel_runs_branches_concurrently_and_keeps_branch_order() {
    let tasks = FakeTasks::new(|request| match request.resource.as_str() {
        "slow" => Outcome::Slow(10, json!("first")),
        _ => Outcome::Slow(3, json!("second")),
    });
    let definition = two_branches(
        json!({"Type": "Task", "Resource": "slow", "End": true}),
        json!({"Type": "Task", "Resource": "fast", "End": true}),
    );
    let start = Instant::now();
    let (result, events) = run(definition, json!({"in": 1}), &tasks).await;
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(
        result.unwrap(),
        json!({"in": 1, "results": ["first", "second"]})
    );
    assert!(tasks.calls().iter().all(|c| c.input == json!({"in": 1})));
    let states: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::StateExited)
        .map(|e| e.state.clone().unwrap())
        .collect();
    assert_eq!(states, ["Second", "First", "Fork"]);
    assert_eq!(
        details(&events, EventKind::ParallelSucceeded),
        [json!({"output": ["first", "second"]})]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_branch_fails_the_parallel_and_cancels_the_others() {
    let definition = |catch: bool| {
        let mut definition = two_branches(
            json!({"Type": "Fail", "Error": "BranchBroke", "Cause": "no luck"}),
            json!({"Type": "Wait", "Seconds": 60, "Next": "Late"}),
        );
        definition["States"]["Fork"]["Branches"][1]["States"]["Late"] =
            json!({"Type": "Task", "Resource": "late", "End": true});
        if !catch {
            definition["States"]["Fork"]["Catch"][0]["ErrorEquals"] = json!(["SomethingElse"]);
        }
        definition
    };
    let tasks = echo();
    let start = Instant::now();
    let (result, events) = run(definition(false), json!({}), &tasks).await;
    assert_eq!(
        result.unwrap_err(),
        ExecutionFailure::new("BranchBroke", "no luck")
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(tasks.calls().is_empty(), "the other branch was cancelled");
    assert_eq!(
        details(&events, EventKind::ParallelFailed),
        [json!({"error": "BranchBroke", "cause": "no luck"})]
    );

    let (result, _) = run(definition(true), json!({"order": 7}), &tasks).await;
    assert_eq!(
        result.unwrap(),
        json!({"order": 7, "error": {"Error": "BranchBroke", "Cause": "no luck"}})
    );
}

#[tokio::test(start_paused = true)]
async fn choice_routes_by_rules_and_default() {
    let definition = json!({"StartAt": "Route", "States": {
        "Route": {
            "Type": "Choice",
            "InputPath": "$.payment",
            "OutputPath": "$.status",
            "Choices": [
                {"And": [
                    {"Variable": "$.status", "StringEquals": "paid"},
                    {"Variable": "$.amount", "NumericGreaterThan": 100}
                ], "Next": "Big"},
                {"Variable": "$.status", "StringMatches": "pa*", "Next": "Small"}
            ],
            "Default": "Unpaid"
        },
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "Small": {"Type": "Pass", "Result": "small", "End": true},
        "Unpaid": {"Type": "Fail", "Error": "Unpaid", "CausePath": "$"}
    }});
    let cases = [
        (json!({"status": "paid", "amount": 250}), Ok(json!("big"))),
        (json!({"status": "paid", "amount": 50}), Ok(json!("small"))),
        (
            json!({"status": "pending", "amount": 50}),
            Err(ExecutionFailure::new("Unpaid", "pending")),
        ),
    ];
    for (payment, expected) in cases {
        let (result, events) = run(definition.clone(), json!({"payment": payment}), &echo()).await;
        assert_eq!(result, expected, "{payment}");
        assert_eq!(details(&events, EventKind::ChoiceMatched).len(), 1);
    }
    let no_default = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "D"}]},
        "D": {"Type": "Succeed"}
    }});
    let (result, _) = run(no_default, json!({}), &echo()).await;
    assert_eq!(result.unwrap_err().error, names::NO_CHOICE_MATCHED);
}

#[tokio::test(start_paused = true)]
async fn wait_forms() {
    let wait = |fields: Value| {
        let mut state = json!({"Type": "Wait", "End": true});
        state
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        json!({"StartAt": "W", "States": {"W": state}})
    };
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let cases = [
        (json!({"Seconds": 10}), json!({}), 10u32),
        (json!({"SecondsPath": "$.delay"}), json!({"delay": 4}), 4),
        (json!({"Timestamp": "2001-01-01T00:00:00Z"}), json!({}), 0),
        (
            json!({"TimestampPath": "$.at", "InputPath": "$.w"}),
            json!({"w": {"at": soon}}),
            3600,
        ),
    ];
    for (fields, input, seconds) in cases {
        let start = Instant::now();
        let (result, events) = run(wait(fields.clone()), input.clone(), &echo()).await;
        assert!(result.is_ok(), "{fields}: {result:?}");
        // Within a second: for the timestamp case, real time passes between `soon` and the run.
        let elapsed = start.elapsed().as_secs_f64();
        assert!(
            (elapsed - f64::from(seconds)).abs() < 1.0,
            "{fields}: {elapsed}"
        );
        assert_eq!(details(&events, EventKind::WaitStarted).len(), 1);
    }
    let (result, _) = run(
        wait(json!({"SecondsPath": "$.delay"})),
        json!({"delay": "soon"}),
        &echo(),
    )
    .await;
    assert_eq!(result.unwrap_err().error, names::RUNTIME);
}

#[tokio::test(start_paused = true)]
async fn fail_state_forms() {
    let fail = |state: Value| json!({"StartAt": "F", "States": {"F": state}});
    let (result, _) = run(
        fail(json!({"Type": "Fail", "Error": "Rejected", "Cause": "card declined"})),
        json!({}),
        &echo(),
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        ExecutionFailure::new("Rejected", "card declined")
    );
    let (result, _) = run(
        fail(json!({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$$.Execution.Name"})),
        json!({"e": "FromInput"}),
        &echo(),
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        ExecutionFailure::new("FromInput", "exec-1")
    );
    let (result, _) = run(
        fail(json!({"Type": "Fail", "ErrorPath": "$.e"})),
        json!({"e": 1}),
        &echo(),
    )
    .await;
    assert_eq!(result.unwrap_err().error, names::RUNTIME);
}

#[tokio::test(start_paused = true)]
async fn execution_timeout() {
    let definition = json!({"TimeoutSeconds": 5, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 60, "End": true}
    }});
    let start = Instant::now();
    let (result, events) = run(definition, json!({}), &echo()).await;
    assert_eq!(result.unwrap_err().error, names::TIMEOUT);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(kinds(&events).last(), Some(&EventKind::ExecutionFailed));
}

#[tokio::test(start_paused = true)]
async fn history_of_a_simple_run() {
    let definition = json!({"StartAt": "Save", "States": {
        "Save": {"Type": "Task", "Resource": "arn:save", "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let (result, events) = run(definition, json!({"n": 1}), &echo()).await;
    assert_eq!(result.unwrap(), json!({"n": 1}));
    use EventKind::*;
    assert_eq!(
        kinds(&events),
        [
            ExecutionStarted,
            StateEntered,
            TaskScheduled,
            TaskSucceeded,
            StateExited,
            StateEntered,
            StateExited,
            ExecutionSucceeded
        ]
    );
    assert_eq!(
        events.iter().map(|e| e.id).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    assert_eq!(events[1].state.as_deref(), Some("Save"));
    assert_eq!(
        events[2].detail,
        json!({"resource": "arn:save", "input": {"n": 1}, "attempt": 0})
    );
    assert_eq!(events[7].detail, json!({"output": {"n": 1}}));
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let machine =
        StateMachine::from_json(r#"{"StartAt":"S","States":{"S":{"Type":"Succeed"}}}"#).unwrap();
    let tasks = echo();
    let history = History::new();
    let run = machine.run("e", json!({}), &tasks, &history);
    assert_send(&run);
}

/// The project's registration workflow (kept here as a copy: the real file lives elsewhere).
const REGISTRATION: &str = r#"{"Comment":"registration","StartAt":"Register","States":{"Register":{"Type":"Parallel","ResultPath":"$.results","Next":"Done","Branches":[
 {"StartAt":"SaveOrder","States":{"SaveOrder":{"Type":"Task","Resource":"${SaveOrderFunctionArn}","TimeoutSeconds":10,"Retry":[{"ErrorEquals":["StoreUnavailable","States.Timeout","Lambda.ServiceException"],"IntervalSeconds":1,"MaxAttempts":3,"BackoffRate":2}],"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.failure","Next":"SaveOrderFailed"}],"End":true},
  "SaveOrderFailed":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Parameters":{"QueueUrl":"${FollowUpQueueUrl}","MessageBody":{"step":"save-order","order.$":"$.order","failure.$":"$.failure"}},"ResultSelector":{"failed":"save-order"},"End":true}}}
]},"Done":{"Type":"Succeed"}}}"#;

#[tokio::test(start_paused = true)]
async fn registration_workflow() {
    let machine = StateMachine::from_json(REGISTRATION).unwrap();
    assert_eq!(
        machine.task_resources(),
        [
            "${SaveOrderFunctionArn}",
            "arn:aws:states:::sqs:sendMessage"
        ]
    );
    let input = json!({"order": {"id": "o-1"}});

    let saved = FakeTasks::new(|_| Outcome::Return(json!({"orderId": "o-1"})));
    let output = machine
        .run("happy", input.clone(), &saved, &History::new())
        .await;
    assert_eq!(
        output.unwrap(),
        json!({"order": {"id": "o-1"}, "results": [{"orderId": "o-1"}]})
    );

    // The store stays down: three retries (1 s, 2 s, 4 s), then the follow-up message.
    let down = FakeTasks::new(|request| match request.resource.as_str() {
        "${SaveOrderFunctionArn}" => Outcome::Fail("StoreUnavailable"),
        _ => Outcome::Return(json!({"MessageId": "m-1"})),
    });
    let history = History::new();
    let output = machine.run("down", input, &down, &history).await;
    assert_eq!(
        output.unwrap(),
        json!({"order": {"id": "o-1"}, "results": [{"failed": "save-order"}]})
    );
    assert_eq!(down.gaps(), [1, 2, 4, 0]);
    let follow_up = down.calls().pop().unwrap();
    assert_eq!(follow_up.state_name, "SaveOrderFailed");
    assert_eq!(
        follow_up.input,
        json!({
            "QueueUrl": "${FollowUpQueueUrl}",
            "MessageBody": {
                "step": "save-order",
                "order": {"id": "o-1"},
                "failure": {"Error": "StoreUnavailable", "Cause": "SaveOrder failed"}
            }
        })
    );
    let events = history.events();
    assert_eq!(details(&events, EventKind::TaskRetryScheduled).len(), 3);
    assert_eq!(details(&events, EventKind::CaughtError).len(), 1);
    assert_eq!(kinds(&events).last(), Some(&EventKind::ExecutionSucceeded));

    // A save that hangs times out after 10 s and is retried like a store outage.
    let hung = FakeTasks::new(|request| match request.resource.as_str() {
        "${SaveOrderFunctionArn}" => Outcome::Slow(60, json!(null)),
        _ => Outcome::Return(json!({})),
    });
    let start = Instant::now();
    let output = machine
        .run("hung", json!({"order": {}}), &hung, &History::new())
        .await;
    assert!(output.is_ok());
    assert_eq!(start.elapsed(), Duration::from_secs(4 * 10 + 1 + 2 + 4));
}
