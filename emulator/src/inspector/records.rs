//! What the local providers and the order store keep, page by page and newest first: the emails
//! sent (and each one's HTML part, for the inspector's sandboxed frame), the audience, the
//! captured payments, and the orders.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::answers::{PageQuery, inspector_error, unavailable};
use crate::local_providers::records::Listing;
use crate::state::Services;

pub(super) async fn emails(services: State<Arc<Services>>, query: Query<PageQuery>) -> Response {
    listing(services, query, Listing::Emails).await
}

pub(super) async fn members(services: State<Arc<Services>>, query: Query<PageQuery>) -> Response {
    listing(services, query, Listing::Members).await
}

pub(super) async fn captures(services: State<Arc<Services>>, query: Query<PageQuery>) -> Response {
    listing(services, query, Listing::Captures).await
}

/// A page of what a local provider keeps, newest first.
async fn listing(
    State(services): State<Arc<Services>>,
    Query(query): Query<PageQuery>,
    listing: Listing,
) -> Response {
    match services
        .records
        .page::<Value>(listing, &query.request())
        .await
    {
        Ok(page) => Json(page).into_response(),
        Err(e) => unavailable("the records", &e),
    }
}

/// The policy of an email's HTML part, shown in the inspector's sandboxed frame: its own inline
/// styles and embedded images, nothing fetched, no script, framed by the inspector only.
const EMAIL_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

/// An email's HTML part as a page of its own (for the inspector's `<iframe sandbox>`).
pub(super) async fn email_html(
    State(services): State<Arc<Services>>,
    Path(id): Path<String>,
) -> Response {
    let email = match services.records.email(&id).await {
        Ok(Some(email)) => email,
        Ok(None) => return inspector_error(StatusCode::NOT_FOUND, &format!("no email {id:?}")),
        Err(e) => return unavailable("the outbox", &e),
    };
    let html = email["html"].as_str().unwrap_or_default().to_owned();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, EMAIL_POLICY),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        ],
        html,
    )
        .into_response()
}

/// Orders, newest first; the cursor is the last order's `storedAt` and id.
pub(super) async fn orders(
    State(services): State<Arc<Services>>,
    Query(query): Query<PageQuery>,
) -> Response {
    let request = query.request();
    let after = request.cursor.as_deref().and_then(|cursor| {
        let (at, id) = cursor.split_once('.')?;
        let at = chrono::DateTime::from_timestamp_micros(at.parse().ok()?)?;
        Some((at, id.to_owned()))
    });
    match services.store.recent(request.limit() + 1, after).await {
        Ok(orders) => {
            let page = durable::Page::from_rows(orders, &request, |order| {
                (
                    order.stored_at.timestamp_micros(),
                    order.order.order_id.to_string(),
                )
            });
            Json(page).into_response()
        }
        Err(e) => unavailable("the orders", &e),
    }
}
