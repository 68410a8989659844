//! The emulator's HTTP face: the static site at `/`, the API gateway at `/api/*` (what API Gateway
//! HTTP API does in front of the functions, with the template's routes and CORS), the inspector at `/_emulator` (a page) and
//! `/_emulator/api/*` (JSON), and the local providers at `/_providers/{paypal,sendgrid,mailchimp}`.
//!
//! Every answer carries the security headers; every error is JSON (`{"message"}` from the gateway,
//! as API Gateway words it; `{"error"}` everywhere else); request bodies are read whole within
//! [`Limits::body_timeout`]; and neither the inspector nor the local providers take a write from
//! another site (a page the developer visits while the emulator runs). Request heads are checked
//! before all of this, in `front.rs`.

use durable::Queue;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use function_model::{HttpRequest, Invocation, is_json};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::Instrument;

use crate::execution_view;
use crate::faults::{Fault, FaultSpec};
use crate::front::{self, Limits, SECURITY_HEADERS};
use crate::records::Listing;
use crate::template::Cors;
use crate::{HttpRoute, Services};

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
    limits: Limits,
    shutdown: watch::Receiver<bool>,
) {
    let app = routes(services.clone())
        .layer(middleware::from_fn(guard_writes))
        .layer(middleware::from_fn_with_state(limits, buffer_body))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(security_headers));
    front::serve(listener, app, limits, shutdown).await;
}

fn routes(services: Arc<Services>) -> Router {
    Router::new()
        .route(
            "/",
            get(|h: HeaderMap| asset(&INDEX_HTML, h)).post(crate::aws::json_protocol),
        )
        .route("/app.js", get(|h: HeaderMap| asset(&APP_JS, h)))
        .route("/style.css", get(|h: HeaderMap| asset(&STYLE_CSS, h)))
        .route("/openapi.json", get(|h: HeaderMap| asset(&OPENAPI_JSON, h)))
        .route("/_emulator", get(|h: HeaderMap| asset(&INSPECTOR_HTML, h)))
        .route(
            "/_emulator/inspector.js",
            get(|h: HeaderMap| asset(&INSPECTOR_JS, h)),
        )
        .route(
            "/_emulator/inspector.css",
            get(|h: HeaderMap| asset(&INSPECTOR_CSS, h)),
        )
        .route("/api/{*route}", any(gateway))
        .route(
            "/2015-03-31/functions/{function}/invocations",
            post(crate::aws::lambda::invoke),
        )
        .route(
            "/_emulator/api/health",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/_emulator/api/queues", get(queues))
        .route(
            "/_emulator/api/queues/{name}/messages",
            post(send_message).delete(purge_queue),
        )
        .route(
            "/_emulator/api/queues/{name}/messages/{id}",
            axum::routing::delete(delete_message),
        )
        .route("/_emulator/api/queues/{name}/redrive", post(redrive))
        .route("/_emulator/api/executions", get(executions))
        .route("/_emulator/api/executions/{name}", get(execution))
        .route("/_emulator/api/workflow", get(workflow))
        .route(
            "/_emulator/api/outbox",
            get(|s: Shared, q: Query<PageQuery>| listing(s, q, Listing::Emails)),
        )
        .route("/_emulator/api/outbox/{id}/html", get(email_html))
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
        .route("/_emulator/api/faults/next", post(next_fault))
        .with_state(services.clone())
        .nest("/_providers/paypal", services.paypal.router())
        .nest("/_providers/sendgrid", services.sendgrid.router())
        .nest("/_providers/mailchimp", services.mailchimp.router())
}

/// Adds the security headers to every answer that does not set its own.
async fn security_headers(request: Request, next: Next) -> Response {
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
async fn json_errors(request: Request, next: Next) -> Response {
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
async fn buffer_body(State(limits): State<Limits>, request: Request, next: Next) -> Response {
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
async fn guard_writes(request: Request, next: Next) -> Response {
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

/// A file of the site or the inspector, built into the binary, with its validator and its gzip
/// form made once, at first use.
struct Asset {
    content_type: &'static str,
    body: &'static str,
    prepared: OnceLock<Prepared>,
}

struct Prepared {
    /// A strong validator: the start of the body's SHA-256.
    etag: HeaderValue,
    gzip: Bytes,
}

impl Asset {
    const fn new(content_type: &'static str, body: &'static str) -> Self {
        Self {
            content_type,
            body,
            prepared: OnceLock::new(),
        }
    }

    fn prepared(&self) -> &Prepared {
        self.prepared.get_or_init(|| {
            let digest = sha2::Sha256::digest(self.body.as_bytes());
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gzip.write_all(self.body.as_bytes())
                .expect("compressing into memory cannot fail");
            Prepared {
                etag: HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a header value"),
                gzip: gzip
                    .finish()
                    .expect("compressing into memory cannot fail")
                    .into(),
            }
        })
    }
}

static INDEX_HTML: Asset = Asset::new(
    "text/html; charset=utf-8",
    include_str!("../../web/index.html"),
);
static APP_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_str!("../../web/app.js"),
);
static STYLE_CSS: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_str!("../../web/style.css"),
);
static OPENAPI_JSON: Asset = Asset::new("application/json", include_str!("../../web/openapi.json"));
static INSPECTOR_HTML: Asset = Asset::new(
    "text/html; charset=utf-8",
    include_str!("../inspector/index.html"),
);
static INSPECTOR_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_str!("../inspector/inspector.js"),
);
static INSPECTOR_CSS: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_str!("../inspector/inspector.css"),
);

/// Serves `asset`: `304` when the client's copy is current (`If-None-Match`), gzip when the
/// client accepts it; always revalidated (`no-cache`), so that a new build shows at once.
async fn asset(asset: &'static Asset, request: HeaderMap) -> Response {
    let prepared = asset.prepared();
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, prepared.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let current = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/").as_bytes() == prepared.etag.as_bytes()
        });
    if current {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    let gzip = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|q| matches!(q.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        });
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (headers, prepared.gzip.clone()).into_response()
    } else {
        (headers, asset.body).into_response()
    }
}

fn gateway_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

fn inspector_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Hands the request to the function of the template's route that matches it, as API Gateway's
/// Lambda proxy integration does (no route: API Gateway's `404`), and holds it to the function's
/// timeout whatever the function (or a fault) does: past it, a `504`. Answers CORS as the HTTP
/// API's `CorsConfiguration` says.
async fn gateway(State(services): Shared, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let origin = allowed_origin(&services, &parts.headers);
    if parts.method == Method::OPTIONS
        && parts
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(&services.cors, origin);
    }
    // Read whole by `buffer_body` already.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let route = services.routes.iter().find_map(|route| {
        route
            .route
            .matches(parts.method.as_str(), parts.uri.path())
            .map(|parameters| (route, parameters))
    });
    let mut response = if *services.stopping.borrow() {
        let mut response = gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        response
    } else if let Some((route, path_parameters)) = route {
        // API Gateway passes the caller's trace header on, or starts a trace.
        let trace_id = parts
            .headers
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(new_trace_id, str::to_owned);
        let invocation = Invocation::local(&route.route.function, route.timeout, Some(trace_id));
        let request = function_request(parts, path_parameters, body);
        invoke(&services, route, &invocation, request)
            .instrument(invocation.span())
            .await
    } else {
        gateway_error(StatusCode::NOT_FOUND, "Not Found")
    };
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Ok(exposed) = HeaderValue::from_str(&services.cors.expose_headers.join(","))
            && !exposed.is_empty()
        {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
        }
    }
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// The request as the function sees it: what API Gateway's payload 2.0 carries.
fn function_request(
    parts: http::request::Parts,
    path_parameters: BTreeMap<String, String>,
    body: Bytes,
) -> HttpRequest {
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    HttpRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        path_parameters,
        source_ip,
        headers: parts.headers,
        body,
    }
}

async fn invoke(
    services: &Services,
    route: &HttpRoute,
    invocation: &Invocation,
    request: HttpRequest,
) -> Response {
    let invocation = async {
        match services.faults.next(&route.route.function) {
            Some(Fault::Fail { .. }) => return None,
            Some(Fault::Timeout) => std::future::pending::<()>().await,
            Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
            None => {}
        }
        Some(route.function.handle(invocation, request).await)
    };
    match tokio::time::timeout(route.timeout, invocation).await {
        Ok(Some(response)) => {
            let mut out = Response::new(Body::from(response.body));
            *out.status_mut() = response.status;
            *out.headers_mut() = response.headers;
            out
        }
        Ok(None) => gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        Err(_) => gateway_error(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out"),
    }
}

/// A new X-Ray trace header: `Root=1-<epoch seconds, hex>-<96 random bits, hex>`.
fn new_trace_id() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{seconds:08x}-{}", &random[..24])
}

/// The request's `Origin`, when it is the configured site origin (the only one the API answers
/// cross-origin requests from).
fn allowed_origin(services: &Services, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    services
        .cors
        .allow_origins
        .iter()
        .any(|allowed| allowed == "*" || origin.as_bytes() == allowed.as_bytes())
        .then(|| origin.clone())
}

/// The answer to a CORS preflight: what an allowed origin may send, or a refusal.
fn preflight(cors: &Cors, origin: Option<HeaderValue>) -> Response {
    let Some(origin) = origin else {
        return gateway_error(
            StatusCode::FORBIDDEN,
            "This origin may not call the API from a browser.",
        );
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    let lists = [
        (header::ACCESS_CONTROL_ALLOW_METHODS, &cors.allow_methods),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, &cors.allow_headers),
    ];
    for (name, list) in lists {
        if let Ok(value) = HeaderValue::from_str(&list.join(","))
            && !value.is_empty()
        {
            headers.insert(name, value);
        }
    }
    if let Some(max_age) = cors.max_age {
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age));
    }
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// What a store failure answers: the inspector says which part is down, the log says why.
fn unavailable(what: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!("could not read {what}: {e}");
    inspector_error(
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
async fn purge_queue(State(services): Shared, Path(name): Path<String>) -> Response {
    let Some(queue) = queue_named(&services, &name) else {
        return no_queue(&name);
    };
    match queue.purge().await {
        Ok(purged) => Json(json!({ "purged": purged })).into_response(),
        Err(e) => unavailable("the queue", &e),
    }
}

/// Deletes one message of a queue, whatever its state.
async fn delete_message(
    State(services): Shared,
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
async fn redrive(State(services): Shared, Path(name): Path<String>, body: Bytes) -> Response {
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
    match services.executions.page(&query.request()).await {
        Ok(page) => Json(page).into_response(),
        Err(e) => unavailable("the executions", &e),
    }
}

async fn execution(State(services): Shared, Path(name): Path<String>) -> Response {
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
    let failed = matches!(summary.status, durable::ExecutionStatus::Failed { .. });
    let states =
        execution_view::state_runs(&execution.events, &replayed, failed, summary.stopped_at);
    let mut body = json!(execution);
    body["states"] = json!(states);
    Json(body).into_response()
}

/// The policy of an email's HTML part, shown in the inspector's sandboxed frame: its own inline
/// styles and embedded images, nothing fetched, no script, framed by the inspector only.
const EMAIL_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

/// An email's HTML part as a page of its own (for the inspector's `<iframe sandbox>`).
async fn email_html(State(services): Shared, Path(id): Path<String>) -> Response {
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

/// The state machine that the executions run, to draw as a graph.
async fn workflow(State(services): Shared) -> Response {
    Json(json!({
        "name": services.workflow.name,
        "definition": services.workflow.definition,
    }))
    .into_response()
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

async fn list_faults(State(services): Shared) -> Json<Vec<FaultSpec>> {
    Json(services.faults.list())
}

/// The fault the next invocation of a target suffers, counted down: for the Azure handler, which
/// runs the workflow's tasks in its own process and asks here before each (`{"target"}` in,
/// `{"fault": null | {"mode", "delayMs"?, "status"?}}` out).
async fn next_fault(State(services): Shared, body: Bytes) -> Response {
    let target = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body["target"].as_str().map(str::to_owned));
    let Some(target) = target else {
        return inspector_error(StatusCode::BAD_REQUEST, "expected {\"target\"}");
    };
    let fault = services
        .faults
        .next(&target)
        .map(crate::faults::Fault::to_json);
    Json(json!({ "fault": fault })).into_response()
}

async fn inject_fault(State(services): Shared, body: Bytes) -> Response {
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
struct ClearFaults {
    target: Option<String>,
}

async fn clear_faults(State(services): Shared, Query(query): Query<ClearFaults>) -> StatusCode {
    services.faults.clear(query.target.as_deref());
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fetch(headers: &[(&'static str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = HeaderMap::new();
        for (name, value) in headers {
            request.insert(*name, HeaderValue::from_str(value).expect("a header value"));
        }
        let response = asset(&APP_JS, request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, headers, body)
    }

    #[tokio::test]
    async fn static_files_are_compressed_and_revalidated() {
        let (status, plain_headers, plain) = fetch(&[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(plain.as_ref(), APP_JS.body.as_bytes());
        let etag = plain_headers[header::ETAG]
            .to_str()
            .expect("text")
            .to_owned();

        let (_, headers, gzipped) = fetch(&[("accept-encoding", "br, gzip;q=0.8")]).await;
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert!(
            gzipped.len() * 3 < plain.len(),
            "{} of {}",
            gzipped.len(),
            plain.len()
        );
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(gzipped.as_ref()),
            &mut unzipped,
        )
        .expect("valid gzip");
        assert_eq!(unzipped, APP_JS.body);

        let (_, headers, _) = fetch(&[("accept-encoding", "gzip;q=0")]).await;
        assert!(
            !headers.contains_key(header::CONTENT_ENCODING),
            "gzip refused"
        );

        let (status, headers, body) = fetch(&[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(headers[header::ETAG], etag.as_str());
        let (status, _, _) = fetch(&[("if-none-match", "\"stale\"")]).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn the_function_gets_the_query_string_path_parameters_and_the_source_address() {
        let (mut parts, _) = http::Request::post("/api/registrations?ref=newsletter&x=%20")
            .body(())
            .expect("a request")
            .into_parts();
        let peer: std::net::SocketAddr = "192.0.2.7:50000".parse().expect("an address");
        parts.extensions.insert(ConnectInfo(peer));
        let parameters = BTreeMap::from([("id".to_owned(), "42".to_owned())]);
        let request = function_request(parts, parameters.clone(), Bytes::from_static(b"{}"));
        assert_eq!(request.path, "/api/registrations");
        assert_eq!(request.path_parameters, parameters);
        assert_eq!(request.query, "ref=newsletter&x=%20");
        assert_eq!(request.source_ip, Some(peer.ip()));
        assert_eq!(request.body.as_ref(), b"{}");
    }
}
