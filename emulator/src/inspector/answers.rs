//! How the inspector answers: errors in its shape (`{"error"}`), the `503` of a store that cannot
//! be read (naming the part; the log says why), and the paging query its listings take.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// An error in the inspector's shape.
pub(crate) fn inspector_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// What a store failure answers: the inspector says which part is down, the log says why.
pub(crate) fn unavailable(what: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!("could not read {what}: {e}");
    inspector_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("{what} cannot be read: the database is unavailable"),
    )
}

/// `?limit=N&cursor=C` of a paged listing.
#[derive(Deserialize)]
pub(super) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

impl PageQuery {
    pub(super) fn request(self) -> durable::PageRequest {
        durable::PageRequest {
            limit: self.limit,
            cursor: self.cursor,
        }
    }
}
