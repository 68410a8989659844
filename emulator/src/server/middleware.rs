//! What every answer shares, whichever part gives it: the security headers; errors as JSON
//! (`{"message"}` from the gateway, as API Gateway words it; `{"error"}` everywhere else);
//! request bodies read whole within [`Limits::body_timeout`]; and no write to the inspector or a
//! local provider from another site (a page the developer visits while the emulator runs).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use function_model::is_json;
use futures_util::StreamExt;

use super::headers::SECURITY_HEADERS;
use crate::config::Limits;
use crate::gateway::gateway_error;
use crate::inspector::answers::inspector_error;

/// The most a request body may hold before the gateway refuses it: API Gateway's 10 MB payload
/// limit (the function's own limit is far lower and answers with its own message).
const GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// How much of an oversized body the gateway still reads (and discards) before answering, so that
/// an HTTP client still sending it receives the 413 instead of a broken connection.
const GATEWAY_DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Adds the security headers to every answer that does not set its own.
pub(super) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// Whether a path is the gateway's, whose errors take API Gateway's `{"message"}` shape.
fn is_gateway(path: &str) -> bool {
    path.starts_with("/api/")
}

/// An error answer in the shape of the part that gives it.
fn error_at(path: &str, status: StatusCode, message: &str) -> Response {
    if is_gateway(path) {
        gateway_error(status, message)
    } else {
        inspector_error(status, message)
    }
}

/// Turns an error answer that is not JSON (axum's plain-text rejections, empty 404s and 405s) into
/// a JSON one with the same status and headers.
pub(super) async fn json_errors(request: Request, next: Next) -> Response {
    let uri = request.uri().clone();
    let path = uri.path();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/json") || ct.starts_with("application/x-amz-json")
        });
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::NOT_FOUND) => format!("Nothing is served at {path}."),
        (true, StatusCode::METHOD_NOT_ALLOWED) => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            format!("{path} does not take this method (it takes {allowed}).")
        }
        (true, _) => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let json = error_at(path, status, &message);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, json.into_body())
}

/// Why a request body could not be read.
enum BodyError {
    /// Over [`GATEWAY_BODY_LIMIT`].
    TooLarge,
    /// The framing broke (a bad chunk, a connection closed before `Content-Length` bytes).
    Malformed(axum::Error),
}

/// Reads every request's body whole, within [`Limits::body_timeout`], so that a client sending
/// it slowly cannot hold a connection and a task: too slow is a `408`, malformed framing a `400`,
/// too large a `413`, each closing the connection.
pub(super) async fn buffer_body(
    State(limits): State<Limits>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let uri = parts.uri.clone();
    let path = uri.path();
    let refusal = match tokio::time::timeout(limits.body_timeout, read_body(body)).await {
        Ok(Ok(body)) => return next.run(Request::from_parts(parts, Body::from(body))).await,
        Err(_) => error_at(
            path,
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "The request body did not arrive within {} s.",
                limits.body_timeout.as_secs()
            ),
        ),
        Ok(Err(BodyError::TooLarge)) => error_at(
            path,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
        ),
        Ok(Err(BodyError::Malformed(e))) => error_at(
            path,
            StatusCode::BAD_REQUEST,
            &format!("The request body is malformed ({}).", innermost(&e)),
        ),
    };
    let mut refusal = refusal;
    refusal
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    refusal
}

/// What an error chain ends with: the framing problem itself (`invalid chunk size line`), not
/// the layers that passed it on.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

/// The whole body; over the gateway's limit, it is drained up to [`GATEWAY_DRAIN_LIMIT`] before
/// the 413 goes out.
async fn read_body(body: Body) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Malformed)?;
        seen += chunk.len();
        if seen > GATEWAY_DRAIN_LIMIT {
            return Err(BodyError::TooLarge);
        }
        if seen <= GATEWAY_BODY_LIMIT {
            kept.extend_from_slice(&chunk);
        }
    }
    if seen > GATEWAY_BODY_LIMIT {
        return Err(BodyError::TooLarge);
    }
    Ok(kept.into())
}

/// Refuses a write to the inspector or a local provider that a browser sent from another site, so
/// that a hostile page cannot inject faults or forge orders: the `Origin` must be the emulator's
/// own, and `Sec-Fetch-Site`, when sent, `same-origin` or `none`. The inspector's writes must also
/// be `application/json`, which a cross-site form or `fetch` cannot send without a preflight (which
/// finds no CORS here). Clients that send neither header (curl, the functions' HTTP clients) pass.
pub(super) async fn guard_writes(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let guarded = path.starts_with("/_emulator/") || path.starts_with("/_providers/");
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !guarded || safe {
        return next.run(request).await;
    }
    let headers = request.headers();
    if is_cross_site(headers) {
        return error_at(
            path,
            StatusCode::FORBIDDEN,
            "Writes from another site are refused: use the inspector page, curl or the API from this origin.",
        );
    }
    let has_body = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    if path.starts_with("/_emulator/") && has_body && !is_json(headers) {
        return error_at(
            path,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the request body as application/json.",
        );
    }
    next.run(request).await
}

fn is_cross_site(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = headers.get("sec-fetch-site")
        && !(site == "same-origin" || site == "none")
    {
        return true;
    }
    match (headers.get(header::ORIGIN), text(header::HOST)) {
        (None, _) => false,
        (Some(origin), Some(host)) => origin.as_bytes() != format!("http://{host}").as_bytes(),
        (Some(_), None) => true,
    }
}
