//! AWS Step Functions over the JSON protocol, on the emulator's durable executions of the
//! registration state machine: `ListStateMachines` and `DescribeStateMachine` (the one machine,
//! its definition as deployed, substitutions done), `StartExecution`, `DescribeExecution`,
//! `ListExecutions`, `GetExecutionHistory` ([`history`]), `StopExecution`, `RedriveExecution`.
//!
//! `StartExecution` holds the execution's input to Step Functions' quota, 256 KiB (262,144 bytes of
//! UTF-8), with the `ValidationException` the service answers for a constraint
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>).
//!
//! `StartExecution` behaves as Step Functions does for a name already used: the same input while
//! the execution runs answers its ARN again (an idempotent retry); anything else is
//! `ExecutionAlreadyExists`.
//!
//! `RedriveExecution` starts a failed or aborted execution again from where it stopped, with Step
//! Functions' rules (`durable::Executions::redrive`): not a running or succeeded one, nor one
//! stopped more than 14 days ago (`ExecutionNotRedrivable`, with the reason
//! `DescribeExecution` gives as `redriveStatusReason`). Its history ([`history`]) goes on from the
//! first run.
//!
//! Not reproduced: `ListExecutions` pages filtered by `redriveFilter` may hold fewer than
//! `maxResults` items (Step Functions allows that too; the `nextToken` still leads on); a
//! `statusFilter` is the database's, so its pages are full.

mod history;

use chrono::Utc;
use durable::{ExecutionStatus, ExecutionSummary, PageRequest, RedriveError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::protocol::{AwsError, AwsResult, epoch_seconds, input};
use crate::aws::step_functions::LocalStepFunctions;
use crate::names::{execution_arn, state_machine_arn};
use crate::state::Services;
use std::sync::Arc;

pub(crate) async fn call(services: &Services, operation: &str, body: Value) -> AwsResult {
    let Some(step_functions) = &services.step_functions else {
        return Err(AwsError::client(
            "UnknownOperationException",
            "This emulator hosts the Azure Function App (--cloud azure), which has no Step Functions",
        ));
    };
    match operation {
        "ListStateMachines" => list_state_machines(step_functions, input(body)?),
        "DescribeStateMachine" => describe_state_machine(step_functions, input(body)?),
        "StartExecution" => start_execution(step_functions, input(body)?).await,
        "DescribeExecution" => describe_execution(step_functions, input(body)?).await,
        "ListExecutions" => list_executions(step_functions, input(body)?).await,
        "GetExecutionHistory" => get_execution_history(step_functions, input(body)?).await,
        "StopExecution" => stop_execution(step_functions, input(body)?).await,
        "RedriveExecution" => redrive_execution(step_functions, input(body)?).await,
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The emulator does not serve Step Functions {other}"),
        )),
    }
}

fn check_state_machine(machine: &str, arn: &str) -> Result<(), AwsError> {
    if arn == state_machine_arn(machine) {
        Ok(())
    } else if arn.starts_with("arn:aws:states:") {
        Err(AwsError::client(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        ))
    } else {
        Err(AwsError::client(
            "InvalidArn",
            format!("Invalid Arn: '{arn}'"),
        ))
    }
}

/// The execution name in an execution ARN of the state machine `machine`.
fn execution_name<'a>(machine: &str, arn: &'a str) -> Result<&'a str, AwsError> {
    let prefix = execution_arn(machine, "");
    match arn.strip_prefix(&prefix) {
        Some(name) if !name.is_empty() => Ok(name),
        _ if arn.starts_with("arn:aws:states:") => Err(execution_does_not_exist(arn)),
        _ => Err(AwsError::client(
            "InvalidArn",
            format!("Invalid Arn: '{arn}'"),
        )),
    }
}

fn execution_does_not_exist(arn: &str) -> AwsError {
    AwsError::client(
        "ExecutionDoesNotExist",
        format!("Execution Does Not Exist: '{arn}'"),
    )
}

/// Step Functions' rule for names: 1 to 80 characters, none of whitespace, brackets, wildcards,
/// the punctuation it lists, or control characters.
fn valid_name(name: &str) -> bool {
    const FORBIDDEN: &str = "<>{}[]?*\"#%\\^|~`$&,;:/";
    (1..=80).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(c))
}

/// The most an execution's input may hold: 256 KiB of UTF-8.
const INPUT_LIMIT: usize = 262_144;

/// The role Step Functions assumes for the state machine: SAM creates one per machine.
fn role_arn(machine: &str) -> String {
    format!("arn:aws:iam::{}:role/{machine}Role", crate::names::ACCOUNT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListStateMachines {
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The one state machine: a page of one, whatever the page size.
fn list_state_machines(
    step_functions: &LocalStepFunctions,
    request: ListStateMachines,
) -> AwsResult {
    if let Some(max) = request.max_results
        && !(0..=1000).contains(&max)
    {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value {}",
            if max < 0 {
                "greater than or equal to 0"
            } else {
                "less than or equal to 1000"
            }
        )));
    }
    if let Some(token) = request.next_token {
        // The one page has no next: any token is one this service never gave.
        return Err(AwsError::client(
            "InvalidToken",
            format!("Invalid Token: '{token}'"),
        ));
    }
    let machine = step_functions.name();
    Ok(json!({ "stateMachines": [{
        "stateMachineArn": state_machine_arn(machine),
        "name": machine,
        "type": "STANDARD",
        "creationDate": epoch_seconds(step_functions.created_at()),
    }] }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeStateMachine {
    state_machine_arn: String,
}

fn describe_state_machine(
    step_functions: &LocalStepFunctions,
    request: DescribeStateMachine,
) -> AwsResult {
    let machine = step_functions.name();
    check_state_machine(machine, &request.state_machine_arn)?;
    Ok(json!({
        "stateMachineArn": state_machine_arn(machine),
        "name": machine,
        "status": "ACTIVE",
        "definition": step_functions.definition(),
        "roleArn": role_arn(machine),
        "type": "STANDARD",
        "creationDate": epoch_seconds(step_functions.created_at()),
        "loggingConfiguration": { "level": "OFF", "includeExecutionData": false },
        "tracingConfiguration": { "enabled": false },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartExecution {
    state_machine_arn: String,
    name: Option<String>,
    input: Option<String>,
}

async fn start_execution(
    step_functions: &Arc<LocalStepFunctions>,
    request: StartExecution,
) -> AwsResult {
    check_state_machine(step_functions.name(), &request.state_machine_arn)?;
    let name = request
        .name
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if !valid_name(&name) {
        return Err(AwsError::client(
            "InvalidName",
            format!("Invalid Name: '{name}'"),
        ));
    }
    if request
        .input
        .as_ref()
        .is_some_and(|input| input.len() > INPUT_LIMIT)
    {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to {INPUT_LIMIT}"
        )));
    }
    let input: Value =
        serde_json::from_str(request.input.as_deref().unwrap_or("{}")).map_err(|e| {
            AwsError::client(
                "InvalidExecutionInput",
                format!("Invalid execution input: {e}"),
            )
        })?;
    let started = step_functions
        .start(&name, input.clone())
        .await
        .map_err(AwsError::internal)?;
    let start_date = if started {
        Utc::now()
    } else {
        let existing = step_functions
            .executions()
            .get(&name)
            .await
            .map_err(AwsError::internal)?
            .ok_or_else(|| AwsError::internal("an execution vanished while starting"))?
            .summary;
        let same_run = existing.status == ExecutionStatus::Running && existing.input == input;
        if !same_run {
            return Err(AwsError::client(
                "ExecutionAlreadyExists",
                format!(
                    "Execution Already Exists: '{}'",
                    execution_arn(step_functions.name(), &name)
                ),
            ));
        }
        existing.started_at
    };
    Ok(
        json!({ "executionArn": execution_arn(step_functions.name(), &name), "startDate": epoch_seconds(start_date) }),
    )
}

/// The fields an execution shows in a listing.
fn listed(machine: &str, summary: &ExecutionSummary) -> Value {
    let status = match summary.status {
        ExecutionStatus::Running => "RUNNING",
        ExecutionStatus::Succeeded { .. } => "SUCCEEDED",
        ExecutionStatus::Failed { .. } => "FAILED",
        ExecutionStatus::Aborted { .. } => "ABORTED",
    };
    let mut item = json!({
        "executionArn": execution_arn(machine, &summary.name),
        "stateMachineArn": state_machine_arn(machine),
        "name": summary.name,
        "status": status,
        "startDate": epoch_seconds(summary.started_at),
    });
    if let Some(stopped) = summary.stopped_at {
        item["stopDate"] = json!(epoch_seconds(stopped));
    }
    item["redriveCount"] = json!(summary.redrive_count);
    if let Some(redriven) = summary.redrive_date {
        item["redriveDate"] = json!(epoch_seconds(redriven));
    }
    item
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeExecution {
    execution_arn: String,
}

async fn describe_execution(
    step_functions: &Arc<LocalStepFunctions>,
    request: DescribeExecution,
) -> AwsResult {
    let name = execution_name(step_functions.name(), &request.execution_arn)?;
    let summary = step_functions
        .executions()
        .get(name)
        .await
        .map_err(AwsError::internal)?
        .ok_or_else(|| execution_does_not_exist(&request.execution_arn))?
        .summary;
    let mut described = listed(step_functions.name(), &summary);
    described["input"] = json!(summary.input.to_string());
    described["inputDetails"] = json!({ "included": true });
    match &summary.status {
        ExecutionStatus::Running => {}
        ExecutionStatus::Succeeded { output } => {
            described["output"] = json!(output.to_string());
            described["outputDetails"] = json!({ "included": true });
        }
        ExecutionStatus::Failed { error, cause } | ExecutionStatus::Aborted { error, cause } => {
            described["error"] = json!(error);
            described["cause"] = json!(cause);
        }
    }
    match summary.not_redrivable(Utc::now()) {
        None => described["redriveStatus"] = json!("REDRIVABLE"),
        Some(reason) => {
            described["redriveStatus"] = json!("NOT_REDRIVABLE");
            described["redriveStatusReason"] = json!(reason);
        }
    }
    Ok(described)
}

async fn get_execution_history(
    step_functions: &Arc<LocalStepFunctions>,
    request: history::GetExecutionHistory,
) -> AwsResult {
    let name = execution_name(step_functions.name(), &request.execution_arn)?;
    let record = step_functions
        .execution(name)
        .await
        .map_err(AwsError::internal)?
        .ok_or_else(|| execution_does_not_exist(&request.execution_arn))?;
    history::history_page(step_functions, &record, request)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedriveExecution {
    execution_arn: String,
}

/// Redrives a failed or aborted execution: it runs again from where it stopped, in the
/// background; the answer is the redrive's date.
async fn redrive_execution(
    step_functions: &Arc<LocalStepFunctions>,
    request: RedriveExecution,
) -> AwsResult {
    let name = execution_name(step_functions.name(), &request.execution_arn)?;
    match step_functions.redrive(name).await {
        Ok(date) => Ok(json!({ "redriveDate": epoch_seconds(date) })),
        Err(RedriveError::NotFound(_)) => Err(execution_does_not_exist(&request.execution_arn)),
        Err(RedriveError::NotRedrivable(reason)) => Err(AwsError::client(
            "ExecutionNotRedrivable",
            format!("{reason} Execution: '{}'", request.execution_arn),
        )),
        Err(RedriveError::Db(e)) => Err(AwsError::internal(e)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopExecution {
    execution_arn: String,
    error: Option<String>,
    cause: Option<String>,
}

/// Step Functions' limits on what a stop may say (`SensitiveError`, `SensitiveCause`).
const STOP_ERROR_LIMIT: usize = 256;
const STOP_CAUSE_LIMIT: usize = 32_768;

/// Stops a running execution (`ABORTED`, with the error and cause given): no state runs after it;
/// a task in flight is not called back. An execution that has stopped already keeps its status,
/// and the answer is its stop date.
async fn stop_execution(
    step_functions: &Arc<LocalStepFunctions>,
    request: StopExecution,
) -> AwsResult {
    let name = execution_name(step_functions.name(), &request.execution_arn)?;
    let error = request.error.unwrap_or_default();
    let cause = request.cause.unwrap_or_default();
    for (value, field, limit) in [
        (&error, "error", STOP_ERROR_LIMIT),
        (&cause, "cause", STOP_CAUSE_LIMIT),
    ] {
        if value.chars().count() > limit {
            return Err(AwsError::client(
                "ValidationException",
                format!(
                    "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {limit}"
                ),
            ));
        }
    }
    let executions = step_functions.executions();
    if let Some(stopped) = executions
        .stop(name, &error, &cause)
        .await
        .map_err(AwsError::internal)?
    {
        return Ok(json!({ "stopDate": epoch_seconds(stopped) }));
    }
    let summary = executions
        .get(name)
        .await
        .map_err(AwsError::internal)?
        .ok_or_else(|| execution_does_not_exist(&request.execution_arn))?
        .summary;
    let stopped = summary.stopped_at.unwrap_or_else(Utc::now);
    Ok(json!({ "stopDate": epoch_seconds(stopped) }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListExecutions {
    state_machine_arn: String,
    status_filter: Option<String>,
    redrive_filter: Option<String>,
    max_results: Option<u32>,
    next_token: Option<String>,
}

async fn list_executions(
    step_functions: &Arc<LocalStepFunctions>,
    request: ListExecutions,
) -> AwsResult {
    check_state_machine(step_functions.name(), &request.state_machine_arn)?;
    if let Some(filter) = &request.status_filter
        && ![
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "TIMED_OUT",
            "ABORTED",
            "PENDING_REDRIVE",
        ]
        .contains(&filter.as_str())
    {
        return Err(AwsError::client(
            "ValidationException",
            format!("Value '{filter}' at 'statusFilter' failed to satisfy constraint"),
        ));
    }
    let redriven = match request.redrive_filter.as_deref() {
        None => None,
        Some("REDRIVEN") => Some(true),
        Some("NOT_REDRIVEN") => Some(false),
        Some(filter) => {
            return Err(AwsError::client(
                "ValidationException",
                format!("Value '{filter}' at 'redriveFilter' failed to satisfy constraint"),
            ));
        }
    };
    let page = step_functions
        .executions()
        .page_with_status(
            &PageRequest {
                // Step Functions: 0 (or none) means its default of 100; at most 1000.
                limit: request.max_results.filter(|n| *n > 0),
                cursor: request.next_token,
            },
            request.status_filter.as_deref(),
        )
        .await
        .map_err(AwsError::internal)?;
    let executions: Vec<Value> = page
        .items
        .iter()
        .map(|summary| listed(step_functions.name(), summary))
        .filter(|item| redriven.is_none_or(|redriven| (item["redriveCount"] != 0) == redriven))
        .collect();
    let mut answer = json!({ "executions": executions });
    if let Some(token) = page.next_cursor {
        answer["nextToken"] = json!(token);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_step_functions_rules() {
        assert!(valid_name("3f2b9a9e-6c1d-5b7e-9a52-0c8d1d2e4f60"));
        assert!(valid_name(&"a".repeat(80)));
        assert!(!valid_name(&"a".repeat(81)));
        assert!(!valid_name(""));
        for bad in ["a b", "a/b", "a:b", "a*", "a\u{7}"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn execution_arns_name_their_execution() {
        let arn = execution_arn("Machine", "order-1");
        assert_eq!(execution_name("Machine", &arn).ok(), Some("order-1"));
        assert!(execution_name("Other", &arn).is_err());
        assert!(execution_name("Machine", "not-an-arn").is_err());
    }
}
