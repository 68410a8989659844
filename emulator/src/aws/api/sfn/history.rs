//! `GetExecutionHistory`: the events of an execution (a redriven one's from its first run, its
//! `ExecutionRedriven` event between the runs) in Step Functions' types: `ExecutionStarted`,
//! `{Type}StateEntered`/`Exited`, `LambdaFunctionScheduled`/`Succeeded`/`Failed`/`TimedOut` (and
//! `TaskScheduled`/... for the SQS integration), `ParallelStateStarted`/..., `Execution
//! Succeeded`/`Failed`/`Aborted`/`Redriven`. The interpreter's own events without a Step Functions
//! type (a retry scheduled, an error caught, a choice matched) are left out. `previousEventId` is
//! the event before, not the causal one. A history resumed after a crash starts again at its
//! resumption.

use chrono::Utc;
use durable::ExecutionRecord;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::aws::api::protocol::{AwsError, AwsResult, epoch_seconds};
use crate::aws::step_functions::LocalStepFunctions;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetExecutionHistory {
    pub(super) execution_arn: String,
    max_results: Option<usize>,
    next_token: Option<String>,
    #[serde(default)]
    reverse_order: bool,
    include_execution_data: Option<bool>,
}

/// A page of the execution's history (`record`'s events), as the request asks.
pub(super) fn history_page(
    step_functions: &LocalStepFunctions,
    record: &ExecutionRecord,
    request: GetExecutionHistory,
) -> AwsResult {
    let types = step_functions.machine().state_types();
    let with_data = request.include_execution_data.unwrap_or(true);
    let mut events: Vec<Value> = record
        .events
        .iter()
        .filter_map(|event| history_event(event, &types, with_data))
        .collect();
    for (index, event) in events.iter_mut().enumerate() {
        event["id"] = json!(index + 1);
        if index > 0 {
            event["previousEventId"] = json!(index);
        }
    }
    if request.reverse_order {
        events.reverse();
    }
    let start: usize = match &request.next_token {
        Some(token) => token
            .parse()
            .map_err(|_| AwsError::client("InvalidToken", format!("Invalid Token: '{token}'")))?,
        None => 0,
    };
    let limit = request
        .max_results
        .filter(|n| *n > 0)
        .unwrap_or(100)
        .min(1000);
    let page: Vec<Value> = events.iter().skip(start).take(limit).cloned().collect();
    let mut answer = json!({ "events": page });
    if start + limit < events.len() {
        answer["nextToken"] = json!((start + limit).to_string());
    }
    Ok(answer)
}

/// One of the interpreter's events (`workflow::HistoryEvent`, as JSON) as Step Functions writes
/// it, or `None` for those Step Functions has no type for.
fn history_event(
    event: &Value,
    types: &std::collections::BTreeMap<String, &'static str>,
    with_data: bool,
) -> Option<Value> {
    let detail = &event["detail"];
    let state = event["state"].as_str().unwrap_or_default();
    let text = |value: &Value| -> Value {
        if with_data {
            json!(value.to_string())
        } else {
            Value::Null
        }
    };
    let error = || json!({ "error": detail["error"], "cause": detail["cause"] });
    let sqs = detail["resource"].as_str() == Some(crate::aws::step_functions::SQS_SEND_MESSAGE);
    let task = |suffix: &str| {
        if sqs {
            format!("Task{suffix}")
        } else {
            format!("LambdaFunction{suffix}")
        }
    };
    let (kind, details_field, details) = match event["type"].as_str()? {
        "ExecutionStarted" => (
            "ExecutionStarted".to_owned(),
            "executionStartedEventDetails",
            json!({ "input": text(&detail["input"]), "inputDetails": { "truncated": false } }),
        ),
        "ExecutionSucceeded" => (
            "ExecutionSucceeded".to_owned(),
            "executionSucceededEventDetails",
            json!({ "output": text(&detail["output"]), "outputDetails": { "truncated": false } }),
        ),
        "ExecutionAborted" => (
            "ExecutionAborted".to_owned(),
            "executionAbortedEventDetails",
            error(),
        ),
        "ExecutionRedriven" => (
            "ExecutionRedriven".to_owned(),
            "executionRedrivenEventDetails",
            json!({ "redriveCount": detail["redriveCount"] }),
        ),
        "ExecutionFailed" => (
            "ExecutionFailed".to_owned(),
            "executionFailedEventDetails",
            error(),
        ),
        "StateEntered" => (
            format!("{}StateEntered", types.get(state)?),
            "stateEnteredEventDetails",
            json!({ "name": state, "input": text(&detail["input"]), "inputDetails": { "truncated": false } }),
        ),
        "StateExited" => (
            format!("{}StateExited", types.get(state)?),
            "stateExitedEventDetails",
            json!({ "name": state, "output": text(&detail["output"]), "outputDetails": { "truncated": false } }),
        ),
        "TaskScheduled" if sqs => (
            task("Scheduled"),
            "taskScheduledEventDetails",
            json!({ "resourceType": "sqs", "resource": "sendMessage", "region": crate::names::REGION,
                    "parameters": text(&detail["input"]).as_str().unwrap_or("{}") }),
        ),
        "TaskScheduled" => (
            task("Scheduled"),
            "lambdaFunctionScheduledEventDetails",
            json!({ "resource": detail["resource"], "input": text(&detail["input"]),
                    "inputDetails": { "truncated": false } }),
        ),
        "TaskSucceeded" => (
            task("Succeeded"),
            if sqs {
                "taskSucceededEventDetails"
            } else {
                "lambdaFunctionSucceededEventDetails"
            },
            json!({ "output": text(&detail["output"]), "outputDetails": { "truncated": false } }),
        ),
        "TaskFailed" => (
            task("Failed"),
            if sqs {
                "taskFailedEventDetails"
            } else {
                "lambdaFunctionFailedEventDetails"
            },
            error(),
        ),
        "TaskTimedOut" => (
            task("TimedOut"),
            if sqs {
                "taskTimedOutEventDetails"
            } else {
                "lambdaFunctionTimedOutEventDetails"
            },
            error(),
        ),
        "ParallelStarted" => ("ParallelStateStarted".to_owned(), "", Value::Null),
        "ParallelSucceeded" => ("ParallelStateSucceeded".to_owned(), "", Value::Null),
        "ParallelFailed" => ("ParallelStateFailed".to_owned(), "", Value::Null),
        _ => return None,
    };
    let mut out = json!({ "timestamp": event_time(event)?, "type": kind });
    if !details_field.is_empty() {
        out[details_field] = details;
    }
    Some(out)
}

/// The event's RFC 3339 timestamp in epoch seconds.
fn event_time(event: &Value) -> Option<f64> {
    let at = chrono::DateTime::parse_from_rfc3339(event["timestamp"].as_str()?).ok()?;
    Some(epoch_seconds(at.with_timezone(&Utc)))
}
