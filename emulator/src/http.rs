//! The emulator's HTTP face: the static site at `/`, the API gateway at `/api/*` (what API Gateway
//! HTTP API does in front of the payment function), the inspector at `/_emulator` (a page) and `/_emulator/api/*` (JSON), and the
//! local providers at `/_providers/{paypal,sendgrid,mailchimp}`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use function_model::HttpRequest;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Services;
use crate::faults::{Fault, FaultSpec};
use crate::records::Listing;

type Shared = State<Arc<Services>>;

/// The most a request body may hold before the gateway refuses it: API Gateway's 10 MB payload
/// limit (the function's own limit is far lower and answers with its own message).
const GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// How much of an oversized body the gateway still reads (and discards) before answering, so that
/// an HTTP client still sending it receives the 413 instead of a broken connection.
const GATEWAY_DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub(crate) async fn serve(
    listener: TcpListener,
    services: Arc<Services>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route(
            "/",
            get(|| {
                static_file(
                    "text/html; charset=utf-8",
                    include_str!("../../web/index.html"),
                )
            }),
        )
        .route(
            "/app.js",
            get(|| {
                static_file(
                    "text/javascript; charset=utf-8",
                    include_str!("../../web/app.js"),
                )
            }),
        )
        .route(
            "/_emulator",
            get(|| {
                static_file(
                    "text/html; charset=utf-8",
                    include_str!("../inspector/index.html"),
                )
            }),
        )
        .route(
            "/openapi.json",
            get(|| static_file("application/json", include_str!("../../web/openapi.json"))),
        )
        .route(
            "/style.css",
            get(|| {
                static_file(
                    "text/css; charset=utf-8",
                    include_str!("../../web/style.css"),
                )
            }),
        )
        .route("/api/{*route}", any(gateway))
        .route(
            "/_emulator/api/health",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/_emulator/api/queues", get(queues))
        .route("/_emulator/api/queues/{name}/messages", post(send_message))
        .route("/_emulator/api/executions", get(executions))
        .route("/_emulator/api/executions/{name}", get(execution))
        .route(
            "/_emulator/api/outbox",
            get(|s: Shared, q: Query<PageQuery>| listing(s, q, Listing::Emails)),
        )
        .route(
            "/_emulator/api/audience",
            get(|s: Shared, q: Query<PageQuery>| listing(s, q, Listing::Members)),
        )
        .route(
            "/_emulator/api/payments",
            get(|s: Shared, q: Query<PageQuery>| listing(s, q, Listing::Captures)),
        )
        .route("/_emulator/api/orders", get(orders))
        .route("/_emulator/api/stats", get(stats))
        .route(
            "/_emulator/api/faults",
            get(list_faults).post(inject_fault).delete(clear_faults),
        )
        .layer(DefaultBodyLimit::max(GATEWAY_BODY_LIMIT))
        .with_state(services.clone())
        .nest("/_providers/paypal", services.paypal.router())
        .nest("/_providers/sendgrid", services.sendgrid.router())
        .nest("/_providers/mailchimp", services.mailchimp.router());
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!("the emulator's HTTP server stopped: {e}");
    }
}

async fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn gateway_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// Hands the request to the payment function, as API Gateway's Lambda proxy integration does.
async fn gateway(State(services): Shared, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(body) = read_body(body).await else {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    if *services.stopping.borrow() {
        let mut response = gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return response;
    }
    match services.faults.next("payment") {
        Some(Fault::Fail { .. }) => {
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
        Some(Fault::Timeout) => {
            tokio::time::sleep(services.payment_timeout).await;
            return gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    let request = HttpRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    };
    match tokio::time::timeout(services.payment_timeout, services.payment.handle(request)).await {
        Ok(response) => {
            let mut out = Response::new(Body::from(response.body));
            *out.status_mut() = response.status;
            *out.headers_mut() = response.headers;
            out
        }
        Err(_) => gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    }
}

/// The whole body, or `None` when it is over the gateway's limit (or breaks off). An oversized
/// body is drained up to [`GATEWAY_DRAIN_LIMIT`] before the 413 goes out.
async fn read_body(body: Body) -> Option<Bytes> {
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        seen += chunk.len();
        if seen > GATEWAY_DRAIN_LIMIT {
            return None;
        }
        if seen <= GATEWAY_BODY_LIMIT {
            kept.extend_from_slice(&chunk);
        }
    }
    (seen <= GATEWAY_BODY_LIMIT).then(|| kept.into())
}

/// What a store failure answers: the inspector says which part is down, the log says why.
fn unavailable(what: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!("could not read {what}: {e}");
    gateway_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("{what} cannot be read: the database is unavailable"),
    )
}

async fn queues(State(services): Shared) -> Response {
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
async fn send_message(State(services): Shared, Path(name): Path<String>, body: String) -> Response {
    let Some(queue) = services.queues.iter().find(|q| q.name() == name) else {
        return gateway_error(StatusCode::NOT_FOUND, &format!("no queue named {name:?}"));
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

/// `?limit=N&cursor=C` of a paged listing.
#[derive(Deserialize)]
struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

impl PageQuery {
    fn request(self) -> durable::PageRequest {
        durable::PageRequest {
            limit: self.limit,
            cursor: self.cursor,
        }
    }
}

/// A page of what a local provider keeps, newest first.
async fn listing(
    State(services): Shared,
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

async fn executions(State(services): Shared, Query(query): Query<PageQuery>) -> Response {
    match services
        .step_functions
        .executions()
        .page(&query.request())
        .await
    {
        Ok(page) => Json(page).into_response(),
        Err(e) => unavailable("the executions", &e),
    }
}

async fn execution(State(services): Shared, Path(name): Path<String>) -> Response {
    match services.step_functions.execution(&name).await {
        Ok(Some(execution)) => Json(execution).into_response(),
        Ok(None) => gateway_error(
            StatusCode::NOT_FOUND,
            &format!("no execution named {name:?}"),
        ),
        Err(e) => unavailable("the executions", &e),
    }
}

/// Orders, newest first; the cursor is the last order's `storedAt` and id.
async fn orders(State(services): Shared, Query(query): Query<PageQuery>) -> Response {
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

/// Counts of everything, cheap enough to poll: what a benchmark or a test waits on.
async fn stats(State(services): Shared) -> Response {
    let records = &services.records;
    let counts = async {
        let executions = services.step_functions.executions().counts().await?;
        let mut queues = Vec::new();
        for queue in &services.queues {
            queues.push(queue.stats().await.map_err(|e| anyhow::anyhow!(e))?);
        }
        anyhow::Ok(json!({
            "executions": executions,
            "orders": services.store.count().await?,
            "emails": records.count(Listing::Emails, None).await?,
            "members": records.count(Listing::Members, None).await?,
            "payments": {
                "completed": records.count(Listing::Captures, Some("COMPLETED")).await?,
                "declined": records.count(Listing::Captures, Some("DECLINED")).await?,
            },
            "queues": queues,
        }))
    };
    match counts.await {
        Ok(counts) => Json(counts).into_response(),
        Err(e) => unavailable("the counts", &e),
    }
}

async fn list_faults(State(services): Shared) -> Json<Vec<FaultSpec>> {
    Json(services.faults.list())
}

async fn inject_fault(State(services): Shared, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => {
            return gateway_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "expected {{\"target\", \"mode\": \"fail\"|\"timeout\"|\"slow\", \"times\"?, \"delayMs\"?, \"status\"?}}: {e}"
                ),
            );
        }
    };
    match services.faults.inject(spec.clone()) {
        Ok(()) => (StatusCode::CREATED, Json(spec)).into_response(),
        Err(e) => gateway_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct ClearFaults {
    target: Option<String>,
}

async fn clear_faults(State(services): Shared, Query(query): Query<ClearFaults>) -> StatusCode {
    services.faults.clear(query.target.as_deref());
    StatusCode::NO_CONTENT
}
