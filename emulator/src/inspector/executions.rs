//! The workflow's executions: a page of them, newest first; one with its events and, replayed
//! from its checkpoints, each state's run (status, attempts, times, error and payloads; see
//! [`super::execution_view`]); and the state machine they run, to draw as a graph.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::answers::{PageQuery, inspector_error, unavailable};
use super::execution_view;
use crate::state::Services;

pub(super) async fn list(
    State(services): State<Arc<Services>>,
    Query(query): Query<PageQuery>,
) -> Response {
    match services.executions.page(&query.request()).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => unavailable("the executions", &e),
    }
}

pub(super) async fn one(
    State(services): State<Arc<Services>>,
    Path(name): Path<String>,
) -> Response {
    let execution = match &services.step_functions {
        Some(step_functions) => step_functions.execution(&name).await,
        None => services.executions.get(&name).await,
    };
    let execution = match execution {
        Ok(Some(execution)) => execution,
        Ok(None) => {
            return inspector_error(
                StatusCode::NOT_FOUND,
                &format!("no execution named {name:?}"),
            );
        }
        Err(e) => return unavailable("the executions", &e),
    };
    let checkpoints = match services.executions.checkpoints(&name).await {
        Ok(checkpoints) => checkpoints,
        Err(e) => return unavailable("the executions", &e),
    };
    let summary = &execution.summary;
    let replayed = durable::executions::replay(
        &services.workflow.machine,
        &name,
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
    Json(body).into_response()
}

/// The state machine that the executions run, to draw as a graph.
pub(super) async fn workflow(State(services): State<Arc<Services>>) -> Response {
    Json(json!({
        "name": services.workflow.name,
        "definition": services.workflow.definition,
    }))
    .into_response()
}
