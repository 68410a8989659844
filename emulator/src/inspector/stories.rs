//! One registration's story: every step of one order on one time axis, from what the emulator
//! saw. The invocations of the functions run as their binaries (the payment's, the
//! orchestrator's, each task's: duration, outcome, request and trace ids, and the log lines each
//! printed, [`crate::functions::invocations`]), the order's message on the queue (sent, first
//! delivered, how many deliveries, from the orchestrator's SQS events), and the execution with
//! each of its states (as [`super::executions`] draws them).
//!
//! Reached by the order's id, or by the trace id of the POST that registered it.
//!
//! What it cannot show: invocations in `--functions in-process` mode and on the Azure topology
//! (one handler process serves every function there, and its lines name no invocation) are not
//! recorded; their story is the message and the execution. Invocations are kept in memory, the
//! newest 5,000: a story older than that, or from before a restart, has its execution only.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::answers::{inspector_error, unavailable};
use super::executions::drawn;
use crate::functions::invocations::Invocation;
use crate::state::Services;

/// The story of `key`: an order id, or the trace id of a POST that registered one.
pub(super) async fn one(
    State(services): State<Arc<Services>>,
    Path(key): Path<String>,
) -> Response {
    let order = if key.starts_with("Root=") {
        services.invocations.order_traced_as(&key).unwrap_or(key)
    } else {
        key
    };
    let invocations = services.invocations.of_order(&order);
    let execution = match drawn(&services, &order).await {
        Ok(execution) => execution,
        Err(e) => return unavailable("the executions", &e),
    };
    if invocations.is_empty() && execution.is_none() {
        return inspector_error(
            StatusCode::NOT_FOUND,
            &format!(
                "nothing is known of order {order:?}: no execution, and no invocation among the \
                 newest kept (in process mode, since the emulator started)"
            ),
        );
    }
    let mut steps: Vec<Value> = invocations.iter().map(invocation_step).collect();
    steps.extend(message_steps(&order, &invocations));
    if let Some(execution) = &execution {
        steps.extend(execution_steps(execution));
    }
    steps.sort_by(|a, b| a["startedAt"].as_str().cmp(&b["startedAt"].as_str()));
    let trace_id = invocations.iter().find_map(|i| i.trace_id.clone());
    Json(json!({ "orderId": order, "traceId": trace_id, "steps": steps })).into_response()
}

fn invocation_step(invocation: &Invocation) -> Value {
    let ended = invocation
        .duration_ms
        .map(|ms| invocation.started_at + chrono::Duration::microseconds((ms * 1000.0) as i64));
    let status = match invocation.outcome.as_deref() {
        None => "RUNNING",
        Some("ok") => "SUCCEEDED",
        Some(_) => "FAILED",
    };
    json!({
        "kind": "invocation",
        "name": invocation.function,
        "startedAt": invocation.started_at,
        "endedAt": ended,
        "durationMs": invocation.duration_ms,
        "status": status,
        "error": invocation.outcome.as_deref().filter(|o| *o != "ok"),
        "cause": invocation.error,
        "requestId": invocation.request_id,
        "traceId": invocation.trace_id,
        "log": invocation.log,
    })
}

/// The order's message on its queue, from the SQS events that delivered it: sent, then waiting
/// until its last delivery began.
fn message_steps(order: &str, invocations: &[Invocation]) -> Vec<Value> {
    let mut steps: Vec<Value> = Vec::new();
    for invocation in invocations {
        for message in invocation
            .messages
            .iter()
            .filter(|m| m.order_ids.iter().any(|id| id == order))
        {
            let delivered: DateTime<Utc> = invocation.started_at;
            match steps
                .iter_mut()
                .find(|step| step["messageId"] == message.message_id.as_str())
            {
                Some(step) => {
                    step["endedAt"] = json!(delivered);
                    step["deliveries"] = json!(message.receive_count);
                }
                None => steps.push(json!({
                    "kind": "message",
                    "name": message.queue,
                    "messageId": message.message_id,
                    "startedAt": message.sent_at.unwrap_or(delivered),
                    "endedAt": delivered,
                    "status": "DELIVERED",
                    "deliveries": message.receive_count,
                })),
            }
        }
    }
    for step in &mut steps {
        let span = |field: &str| {
            step[field]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        };
        if let (Some(start), Some(end)) = (span("startedAt"), span("endedAt")) {
            step["durationMs"] =
                json!((end - start).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    steps
}

/// The execution, then each state that ran.
fn execution_steps(execution: &Value) -> Vec<Value> {
    let started = &execution["startedAt"];
    let stopped = &execution["stoppedAt"];
    let duration = |start: &Value, end: &Value| {
        let at = |t: &Value| t.as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok());
        match (at(start), at(end)) {
            (Some(start), Some(end)) => {
                json!((end - start).num_microseconds().unwrap_or(0) as f64 / 1000.0)
            }
            _ => Value::Null,
        }
    };
    let mut steps = vec![json!({
        "kind": "execution",
        "name": "registration workflow",
        "startedAt": started,
        "endedAt": stopped,
        "durationMs": duration(started, stopped),
        "status": execution["status"],
        "error": execution["error"],
        "cause": execution["cause"],
        "redriveCount": execution["redriveCount"],
    })];
    for (name, run) in execution["states"].as_object().into_iter().flatten() {
        steps.push(json!({
            "kind": "state",
            "name": name,
            "startedAt": run["enteredAt"],
            "endedAt": run["exitedAt"],
            "durationMs": run["durationMs"],
            "status": run["status"],
            "attempts": run["attempts"],
            "error": run["error"],
            "cause": run["cause"],
        }));
    }
    steps
}
