//! The `redrive` function: Step Functions' `RedriveExecution` for the Azure app, whose workflow
//! runs inline ([`InlineWorkflow`]). An operator calls `POST /api/executions/{name}/redrive`
//! (`authLevel: admin`: only with the app's master key) once the cause of a failed registration
//! is fixed; the execution runs again from where it failed, in this invocation, and the answer is
//! its outcome.
//!
//! Answers: `200` with the execution (`status`, `error` and `cause` if it failed again,
//! `redriveCount`, `redriveDate`); `404` for no such execution; `409` with Step Functions' reason
//! when it cannot be redriven (running, succeeded, stopped more than 14 days ago); `503` when the
//! database is unavailable.

use std::sync::Arc;

use async_trait::async_trait;
use durable::RedriveError;
use function_model::{HttpFunction, HttpRequest, HttpResponse, Invocation};
use http::StatusCode;
use serde_json::json;

use crate::workflow::InlineWorkflow;

/// Redrives the execution its route names.
pub struct Redrive(pub Arc<InlineWorkflow>);

#[async_trait]
impl HttpFunction for Redrive {
    async fn handle(&self, _: &Invocation, request: HttpRequest) -> HttpResponse {
        let Some(name) = request.path_parameters.get("name") else {
            return HttpResponse::json(
                StatusCode::NOT_FOUND,
                &json!({ "error": "POST /api/executions/{name}/redrive names an execution" }),
            );
        };
        match self.0.redrive(name).await {
            Ok(execution) => HttpResponse::json(StatusCode::OK, &execution),
            Err(e @ RedriveError::NotFound(_)) => {
                HttpResponse::json(StatusCode::NOT_FOUND, &json!({ "error": e.to_string() }))
            }
            Err(RedriveError::NotRedrivable(reason)) => HttpResponse::json(
                StatusCode::CONFLICT,
                &json!({ "error": "ExecutionNotRedrivable", "message": reason }),
            ),
            Err(RedriveError::Db(e)) => {
                tracing::error!(execution = %name, "could not redrive: {e}");
                HttpResponse::json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({ "error": "the execution store is unavailable; try again" }),
                )
            }
        }
    }
}
