//! The inspector's JSON API at `/_emulator/api/*`, which its page (`emulator/inspector/`), the
//! tests and a benchmark read: the queues ([`queues`]), the workflow's executions
//! ([`executions`]), one registration's story ([`stories`]), what the local providers and the order store keep ([`records`]), the counts
//! of everything, and the fault injector ([`faults`]). Errors are `{"error"}`; a store that
//! cannot be read is a `503` that names the part.

pub(crate) mod answers;
pub(crate) mod execution_view;
mod executions;
mod faults;
mod queues;
mod records;
mod stories;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::json;

use crate::state::Services;
use answers::unavailable;

/// The inspector's routes.
pub(crate) fn routes() -> Router<Arc<Services>> {
    let api = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/queues", get(queues::list))
        .route(
            "/queues/{name}/messages",
            post(queues::send_message).delete(queues::purge),
        )
        .route(
            "/queues/{name}/messages/{id}",
            delete(queues::delete_message),
        )
        .route("/queues/{name}/redrive", post(queues::redrive))
        .route("/executions", get(executions::list))
        .route("/executions/{name}", get(executions::one))
        .route("/executions/{name}/redrive", post(executions::redrive))
        .route("/workflow", get(executions::workflow))
        .route("/stories/{order}", get(stories::one))
        .route("/outbox", get(records::emails))
        .route("/outbox/{id}/html", get(records::email_html))
        .route("/audience", get(records::members))
        .route("/payments", get(records::captures))
        .route("/orders", get(records::orders))
        .route("/stats", get(stats))
        .route(
            "/build",
            get(|State(services): State<Arc<Services>>| async move {
                Json(services.build.borrow().clone())
            }),
        )
        .route(
            "/faults",
            get(faults::list).post(faults::inject).delete(faults::clear),
        )
        .route("/faults/next", post(faults::next));
    Router::new().nest("/_emulator/api", api)
}

/// Counts of everything, cheap enough to poll: what a benchmark or a test waits on.
async fn stats(State(services): State<Arc<Services>>) -> Response {
    let records = &services.records;
    let counts = async {
        let executions = services.executions.counts().await?;
        let mut queues = Vec::new();
        for queue in &services.queues {
            queues.push(queue.stats().await.map_err(|e| anyhow::anyhow!(e))?);
        }
        let records = records.counts().await?;
        anyhow::Ok(json!({
            "executions": executions,
            "orders": services.store.count().await?,
            "emails": records.emails,
            "members": records.members,
            "payments": records.payments,
            "queues": queues,
        }))
    };
    match counts.await {
        Ok(counts) => Json(counts).into_response(),
        Err(e) => unavailable("the counts", &e),
    }
}
