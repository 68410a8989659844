//! The queues and their dead-letter queues, as an operator works them: each with its counts and
//! messages; a message sent by hand (to replay one, or to test a consumer with duplicates and
//! malformed messages); a purge, a deletion, and a redrive from a dead-letter queue back to its
//! source.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use durable::Queue;
use serde_json::{Value, json};

use super::answers::{inspector_error, unavailable};
use crate::state::Services;

pub(super) async fn list(State(services): State<Arc<Services>>) -> Response {
    let mut queues = Vec::new();
    for queue in &services.queues {
        let (stats, messages) = match (queue.stats().await, queue.messages().await) {
            (Ok(stats), Ok(messages)) => (stats, messages),
            (Err(e), _) | (_, Err(e)) => return unavailable("the queues", &e),
        };
        let mut view = serde_json::to_value(stats).unwrap_or_default();
        view["messages"] = serde_json::to_value(messages).unwrap_or_default();
        queues.push(view);
    }
    Json(json!(queues)).into_response()
}

/// Sends the request body, as is, to a queue: to replay a message by hand, or to test consumers
/// with duplicates and malformed messages.
pub(super) async fn send_message(
    State(services): State<Arc<Services>>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let Some(queue) = queue_named(&services, &name) else {
        return no_queue(&name);
    };
    match queue.send(body, Default::default(), None).await {
        Ok(message_id) => (
            StatusCode::CREATED,
            Json(json!({ "messageId": message_id })),
        )
            .into_response(),
        Err(e) => unavailable("the queue", &e),
    }
}

fn queue_named<'a>(services: &'a Services, name: &str) -> Option<&'a Arc<Queue>> {
    services.queues.iter().find(|q| q.name() == name)
}

fn no_queue(name: &str) -> Response {
    inspector_error(StatusCode::NOT_FOUND, &format!("no queue named {name:?}"))
}

/// Deletes every message of a queue: `{"purged": N}`.
pub(super) async fn purge(
    State(services): State<Arc<Services>>,
    Path(name): Path<String>,
) -> Response {
    let Some(queue) = queue_named(&services, &name) else {
        return no_queue(&name);
    };
    match queue.purge().await {
        Ok(purged) => Json(json!({ "purged": purged })).into_response(),
        Err(e) => unavailable("the queue", &e),
    }
}

/// Deletes one message of a queue, whatever its state.
pub(super) async fn delete_message(
    State(services): State<Arc<Services>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let Some(queue) = queue_named(&services, &name) else {
        return no_queue(&name);
    };
    match queue.delete_message(&id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => inspector_error(
            StatusCode::NOT_FOUND,
            &format!("no message {id:?} on {name:?}"),
        ),
        Err(e) => unavailable("the queue", &e),
    }
}

/// Moves a dead-letter queue's messages back to the queue whose redrive policy names it: all of
/// them, or `{"messageId"}`'s. `{"moved": N, "to": "<queue>"}`.
pub(super) async fn redrive(
    State(services): State<Arc<Services>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(dead_letters) = queue_named(&services, &name) else {
        return no_queue(&name);
    };
    let message_id =
        match serde_json::from_slice::<Value>(if body.is_empty() { b"{}" } else { &body }) {
            Ok(Value::Object(fields)) => match fields.get("messageId") {
                None | Some(Value::Null) => None,
                Some(Value::String(id)) => Some(id.clone()),
                Some(_) => {
                    return inspector_error(StatusCode::BAD_REQUEST, "messageId must be a string");
                }
            },
            _ => return inspector_error(StatusCode::BAD_REQUEST, "expected {} or {\"messageId\"}"),
        };
    let source = services.queues.iter().find(|queue| {
        queue
            .config()
            .redrive
            .as_ref()
            .is_some_and(|redrive| redrive.dead_letter_queue.name() == name)
    });
    let Some(source) = source else {
        return inspector_error(
            StatusCode::CONFLICT,
            &format!("{name:?} is no queue's dead-letter queue: there is nowhere to redrive to"),
        );
    };
    match dead_letters.redrive_to(source, message_id.as_deref()).await {
        Ok(0) if message_id.is_some() => inspector_error(
            StatusCode::NOT_FOUND,
            &format!(
                "no message {:?} on {name:?}",
                message_id.unwrap_or_default()
            ),
        ),
        Ok(moved) => Json(json!({ "moved": moved, "to": source.name() })).into_response(),
        Err(e) => unavailable("the queues", &e),
    }
}
