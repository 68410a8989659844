//! The fault injector's controls: list, inject and clear faults (a function or a provider that
//! fails, times out or is slow, N times or until cleared), and the next fault of a target, which
//! the Azure handler asks for before each task it runs in its own process.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::answers::inspector_error;
use crate::local_providers::faults::{Fault, FaultSpec};
use crate::state::Services;

pub(super) async fn list(State(services): State<Arc<Services>>) -> Json<Vec<FaultSpec>> {
    Json(services.faults.list())
}

/// The fault the next invocation of a target suffers, counted down: for the Azure handler, which
/// runs the workflow's tasks in its own process and asks here before each (`{"target"}` in,
/// `{"fault": null | {"mode", "delayMs"?, "status"?}}` out).
pub(super) async fn next(State(services): State<Arc<Services>>, body: Bytes) -> Response {
    let target = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body["target"].as_str().map(str::to_owned));
    let Some(target) = target else {
        return inspector_error(StatusCode::BAD_REQUEST, "expected {\"target\"}");
    };
    let fault = services.faults.next(&target).map(Fault::to_json);
    Json(json!({ "fault": fault })).into_response()
}

pub(super) async fn inject(State(services): State<Arc<Services>>, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => {
            return inspector_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "expected {{\"target\", \"mode\": \"fail\"|\"timeout\"|\"slow\", \"times\"?, \"delayMs\"?, \"status\"?}}: {e}"
                ),
            );
        }
    };
    match services.faults.inject(spec.clone()) {
        Ok(()) => (StatusCode::CREATED, Json(spec)).into_response(),
        Err(e) => inspector_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub(super) struct ClearFaults {
    target: Option<String>,
}

pub(super) async fn clear(
    State(services): State<Arc<Services>>,
    Query(query): Query<ClearFaults>,
) -> StatusCode {
    services.faults.clear(query.target.as_deref());
    StatusCode::NO_CONTENT
}
