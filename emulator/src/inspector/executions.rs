//! The workflow's executions: a page of them, newest first; one with its events and, replayed
//! from its checkpoints, each state's run (status, attempts, times, error and payloads; see
//! [`super::execution_view`]); the state machine they run, to draw as a graph; and the redrive of
//! a failed one, as each cloud does it (Step Functions' `RedriveExecution`, or the Azure app's
//! `redrive` function).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use durable::{DbError, RedriveError};
use function_model::{HttpRequest, Invocation};
use serde_json::{Value, json};

use super::answers::{inspector_error, unavailable};
use super::execution_view;
use crate::state::Services;

/// `?limit=N&cursor=C&status=S` of the executions' listing.
#[derive(serde::Deserialize)]
pub(super) struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    /// Only the executions in this status.
    status: Option<String>,
}

/// The statuses an execution is stored in.
const STATUSES: [&str; 4] = ["RUNNING", "SUCCEEDED", "FAILED", "ABORTED"];

pub(super) async fn list(
    State(services): State<Arc<Services>>,
    Query(query): Query<ListQuery>,
) -> Response {
    let status = query.status.filter(|s| !s.is_empty());
    if let Some(status) = &status
        && !STATUSES.contains(&status.as_str())
    {
        return inspector_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("status must be one of {}", STATUSES.join(", ")),
        );
    }
    let request = durable::PageRequest {
        limit: query.limit,
        cursor: query.cursor,
    };
    match services
        .executions
        .page_with_status(&request, status.as_deref())
        .await
    {
        Ok(page) => Json(page).into_response(),
        Err(e) => unavailable("the executions", &e),
    }
}

pub(super) async fn one(
    State(services): State<Arc<Services>>,
    Path(name): Path<String>,
) -> Response {
    match drawn(&services, &name).await {
        Ok(Some(execution)) => Json(execution).into_response(),
        Ok(None) => inspector_error(
            StatusCode::NOT_FOUND,
            &format!("no execution named {name:?}"),
        ),
        Err(e) => unavailable("the executions", &e),
    }
}

/// The execution `name` with its events and each state's run (see the module documentation).
pub(super) async fn drawn(services: &Services, name: &str) -> Result<Option<Value>, DbError> {
    let execution = match &services.step_functions {
        Some(step_functions) => step_functions.execution(name).await?,
        None => services.executions.get(name).await?,
    };
    let Some(execution) = execution else {
        return Ok(None);
    };
    let checkpoints = services.executions.checkpoints(name).await?;
    let summary = &execution.summary;
    let replayed = durable::executions::replay(
        &services.workflow.machine,
        name,
        summary.input.clone(),
        checkpoints,
        &execution.events,
    );
    let unfinished = match summary.status {
        durable::ExecutionStatus::Failed { .. } => Some("FAILED"),
        durable::ExecutionStatus::Aborted { .. } => Some("ABORTED"),
        durable::ExecutionStatus::Running | durable::ExecutionStatus::Succeeded { .. } => None,
    };
    let states =
        execution_view::state_runs(&execution.events, &replayed, unfinished, summary.stopped_at);
    let mut body = json!(execution);
    body["states"] = json!(states);
    Ok(Some(body))
}

/// Redrives a failed or stopped execution: on AWS through the local Step Functions (the run goes
/// on in the background: `202`), on Azure through the app's own `redrive` function, as an operator
/// calls it (it answers once the run has ended: `200`). Refused: `409` with Step Functions'
/// reason; unknown: `404`.
pub(super) async fn redrive(
    State(services): State<Arc<Services>>,
    Path(name): Path<String>,
) -> Response {
    if let Some(step_functions) = &services.step_functions {
        return match step_functions.redrive(&name).await {
            Ok(date) => (
                StatusCode::ACCEPTED,
                Json(json!({ "name": name, "redriveDate": date })),
            )
                .into_response(),
            Err(e @ RedriveError::NotFound(_)) => {
                inspector_error(StatusCode::NOT_FOUND, &e.to_string())
            }
            Err(RedriveError::NotRedrivable(reason)) => {
                inspector_error(StatusCode::CONFLICT, reason)
            }
            Err(RedriveError::Db(e)) => unavailable("the executions", &e),
        };
    }
    let path = format!("/api/executions/{name}/redrive");
    let Some((route, path_parameters)) = services
        .routes
        .iter()
        .find_map(|route| route.route.matches("POST", &path).map(|p| (route, p)))
    else {
        return inspector_error(
            StatusCode::NOT_FOUND,
            "this app has no redrive function (POST /api/executions/{name}/redrive)",
        );
    };
    let request = HttpRequest {
        method: http::Method::POST,
        path,
        query: String::new(),
        path_parameters,
        source_ip: None,
        headers: http::HeaderMap::new(),
        body: Default::default(),
    };
    let invocation = Invocation::local(&route.route.function, route.timeout, None);
    let answer = route.function.handle(&invocation, request).await;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    if answer.status.is_success() {
        return (answer.status, Json(body)).into_response();
    }
    let message = body["message"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or("the redrive function failed");
    inspector_error(answer.status, message)
}

/// The state machine that the executions run, to draw as a graph.
pub(super) async fn workflow(State(services): State<Arc<Services>>) -> Response {
    Json(json!({
        "name": services.workflow.name,
        "definition": services.workflow.definition,
    }))
    .into_response()
}
