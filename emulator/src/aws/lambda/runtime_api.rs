//! The Lambda Runtime API (`2018-06-01`), as Lambda serves it to one function's runtime: a
//! function binary built with `lambda_runtime` and started with `AWS_LAMBDA_RUNTIME_API` pointing
//! here asks for its next invocation, and answers it, exactly as on AWS
//! (`specs/aws-lambda-runtime-api/runtime-api.yaml`, vendored from AWS).
//!
//! - `GET /2018-06-01/runtime/invocation/next` waits for an invocation and gives its payload with
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (epoch milliseconds),
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST .../invocation/{id}/response` and `.../invocation/{id}/error` (`{"errorType",
//!   "errorMessage"}`) answer it; an unknown or already answered id is a 400; a response over
//!   Lambda's 6 MB quota is a 413 to the runtime, and the invocation fails with
//!   `Function.ResponseSizeTooLarge`, as on Lambda;
//! - `POST /2018-06-01/runtime/init/error` reports a runtime that could not start.
//!
//! [`RuntimeApi::invoke`] is the caller's side (what the Lambda service does for `Invoke`): it
//! queues an invocation, waits for the answer up to the function's timeout, and reports a
//! function error by its `errorType`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

/// The most a function's response may hold, as Lambda counts it (6 MB and 100 bytes).
const RESPONSE_LIMIT: usize = 6_291_556;

/// A function's failure, as the runtime reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFailure {
    pub error_type: String,
    pub error_message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function answered with an error (`X-Amz-Function-Error: Unhandled` on AWS).
    #[error("{}: {}", .0.error_type, .0.error_message)]
    Function(FunctionFailure),
    /// No answer within the function's timeout (Step Functions' `Sandbox.Timedout`).
    #[error("the function did not answer within {0:?}")]
    TimedOut(Duration),
    /// The runtime reported that it could not start.
    #[error("the runtime failed to start: {}: {}", .0.error_type, .0.error_message)]
    InitFailed(FunctionFailure),
}

/// An invocation waiting for the runtime, or being run by it.
struct Invocation {
    request_id: String,
    payload: Bytes,
    deadline_ms: u128,
    trace_id: Option<String>,
    reply: oneshot::Sender<Result<Bytes, InvokeError>>,
}

#[derive(Default)]
struct Inner {
    function_arn: String,
    waiting: Mutex<VecDeque<Invocation>>,
    running: Mutex<HashMap<String, oneshot::Sender<Result<Bytes, InvokeError>>>>,
    init_error: Mutex<Option<FunctionFailure>>,
    /// Woken when an invocation is queued or the runtime reports an init error.
    queued: Notify,
    /// The server's task, aborted by [`RuntimeApi::stop`].
    server: Mutex<Option<tokio::task::AbortHandle>>,
    /// When the API started serving (before its process is spawned), and how long after that
    /// the runtime first asked for an invocation: its init, as Lambda's `Init Duration`.
    served_at: OnceLock<Instant>,
    init_duration: OnceLock<Duration>,
}

/// The Runtime API of one function.
#[derive(Clone)]
pub struct RuntimeApi {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RuntimeApi {
    /// Serves the Runtime API of the function with `function_arn` on `listener` (a task of its
    /// own, until the process ends).
    pub fn serve(listener: TcpListener, function_arn: &str) -> Self {
        let api = Self {
            inner: Arc::new(Inner {
                function_arn: function_arn.to_owned(),
                ..Inner::default()
            }),
        };
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // Room for a response over the quota to be read, and refused as Lambda refuses it.
            .layer(DefaultBodyLimit::max(2 * RESPONSE_LIMIT))
            .with_state(api.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("the Runtime API stopped: {e}");
            }
        });
        *lock(&api.inner.server) = Some(server.abort_handle());
        let _ = api.inner.served_at.set(Instant::now());
        api
    }

    /// The time from serving to the runtime's first `/next`: its process's start and init.
    pub fn init_duration(&self) -> Option<Duration> {
        self.inner.init_duration.get().copied()
    }

    /// Stops serving (the instance it served was stopped).
    pub fn stop(&self) {
        if let Some(server) = lock(&self.inner.server).take() {
            server.abort();
        }
    }

    /// Invokes the function with `payload` as request `request_id` and waits for its answer, at
    /// most `timeout`.
    pub async fn invoke(
        &self,
        request_id: String,
        payload: Bytes,
        timeout: Duration,
        trace_id: Option<String>,
    ) -> Result<Bytes, InvokeError> {
        if let Some(failure) = lock(&self.inner.init_error).clone() {
            return Err(InvokeError::InitFailed(failure));
        }
        let (reply, answer) = oneshot::channel();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        lock(&self.inner.waiting).push_back(Invocation {
            request_id: request_id.clone(),
            payload,
            deadline_ms: now_ms + timeout.as_millis(),
            trace_id,
            reply,
        });
        self.inner.queued.notify_waiters();
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) | Err(_) => {
                // Forgotten: a late answer for it is refused as an unknown request id.
                lock(&self.inner.waiting).retain(|i| i.request_id != request_id);
                lock(&self.inner.running).remove(&request_id);
                Err(InvokeError::TimedOut(timeout))
            }
        }
    }

    fn take_next(&self) -> Option<Invocation> {
        loop {
            let invocation = lock(&self.inner.waiting).pop_front()?;
            if !invocation.reply.is_closed() {
                return Some(invocation);
            }
        }
    }
}

/// The Runtime API's error document.
fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errorType": error_type, "errorMessage": message })),
    )
        .into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

async fn next(State(api): State<RuntimeApi>) -> Response {
    if let Some(served_at) = api.inner.served_at.get() {
        api.inner.init_duration.get_or_init(|| served_at.elapsed());
    }
    let invocation = loop {
        let queued = api.inner.queued.notified();
        let mut queued = std::pin::pin!(queued);
        queued.as_mut().enable();
        if let Some(invocation) = api.take_next() {
            break invocation;
        }
        queued.await;
    };
    let Invocation {
        request_id,
        payload,
        deadline_ms,
        trace_id,
        reply,
    } = invocation;
    lock(&api.inner.running).insert(request_id.clone(), reply);
    let mut headers = HeaderMap::new();
    let mut header = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    header("lambda-runtime-aws-request-id", &request_id);
    header("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    header(
        "lambda-runtime-invoked-function-arn",
        &api.inner.function_arn,
    );
    if let Some(trace_id) = &trace_id {
        header("lambda-runtime-trace-id", trace_id);
    }
    header("content-type", "application/json");
    (StatusCode::OK, headers, payload).into_response()
}

/// Settles the running invocation `id` with `outcome`; a 400 for an id that is not running.
fn settle(api: &RuntimeApi, id: &str, outcome: Result<Bytes, InvokeError>) -> Response {
    match lock(&api.inner.running).remove(id) {
        Some(reply) => {
            let _ = reply.send(outcome);
            accepted()
        }
        None => api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            &format!("no invocation {id} is waiting for an answer"),
        ),
    }
}

async fn response(State(api): State<RuntimeApi>, Path(id): Path<String>, body: Bytes) -> Response {
    if body.len() <= RESPONSE_LIMIT {
        return settle(&api, &id, Ok(body));
    }
    let message = format!(
        "Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes)."
    );
    let settled = settle(
        &api,
        &id,
        Err(InvokeError::Function(FunctionFailure {
            error_type: "Function.ResponseSizeTooLarge".to_owned(),
            error_message: message.clone(),
        })),
    );
    if settled.status() != StatusCode::ACCEPTED {
        return settled;
    }
    api_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &message,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorRequest {
    error_type: Option<String>,
    error_message: Option<String>,
}

/// A reported failure: the JSON document's `errorType`, or else the
/// `Lambda-Runtime-Function-Error-Type` header, or else `Unhandled`.
fn failure(headers: &HeaderMap, body: &[u8]) -> FunctionFailure {
    let document: Option<ErrorRequest> = serde_json::from_slice(body).ok();
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (error_type, error_message) = match document {
        Some(ErrorRequest {
            error_type,
            error_message,
        }) => (error_type, error_message),
        None => (None, None),
    };
    FunctionFailure {
        error_type: error_type
            .or(header_type)
            .unwrap_or_else(|| "Unhandled".into()),
        error_message: error_message.unwrap_or_default(),
    }
}

async fn error(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let failure = failure(&headers, &body);
    settle(&api, &id, Err(InvokeError::Function(failure)))
}

async fn init_error(State(api): State<RuntimeApi>, headers: HeaderMap, body: Bytes) -> Response {
    let failure = failure(&headers, &body);
    tracing::error!(
        error_type = failure.error_type,
        "the runtime failed to start: {}",
        failure.error_message
    );
    *lock(&api.inner.init_error) = Some(failure.clone());
    // Invocations already waiting fail now rather than at their timeout.
    for invocation in lock(&api.inner.waiting).drain(..) {
        let _ = invocation
            .reply
            .send(Err(InvokeError::InitFailed(failure.clone())));
    }
    accepted()
}
