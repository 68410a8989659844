//! AWS Lambda's `Invoke` (REST: `POST /2015-03-31/functions/{FunctionName}/invocations`) on the
//! emulator's port, for the SDKs and the AWS CLI.
//!
//! - `RequestResponse` (the default) answers the function's payload; a function error is a 200
//!   with `X-Amz-Function-Error: Unhandled` and `{"errorType", "errorMessage"}`, as Lambda
//!   answers it; `Event` queues the invocation and answers 202; `DryRun` answers 204.
//! - The function is named by its name or its ARN. The workflow's task functions can be invoked in
//!   both modes; payment and the orchestrator in process mode (in-process they are not
//!   JSON-in/JSON-out functions).
//! - Lambda's payload quotas hold before any function runs: a payload that is not JSON is
//!   `InvalidRequestContentException` (400); over 6 MB (6,291,456 bytes) synchronously, or 1 MB
//!   (1,048,576 bytes, since 2025) for an `Event`, `RequestEntityTooLargeException` (413)
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>).
//! - `X-Amz-Log-Type: Tail` answers the invocation's log in `X-Amz-Log-Result` (base64, its last
//!   4 KB), as Lambda does: `START`, what the function printed during the invocation, `END`,
//!   `REPORT`. In process mode those are the instance's lines; in-process, a library's log lines
//!   are the emulator's own and are not attributed, so only `START`, `END` and `REPORT` are.
//! - The request must be signed (any SigV4 credentials): without an `Authorization` header it is
//!   refused as AWS refuses it, which also keeps a web page from invoking functions (a browser
//!   sends that header only after a CORS preflight, which the emulator does not grant).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use function_model::{Invocation, TaskFunction, local_function_arn};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::aws::lambda::runtime_api::InvokeError;
use crate::aws::step_functions::TaskTarget;
use crate::state::Services;

/// The most a synchronous invocation's payload may hold.
const REQUEST_RESPONSE_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// The most an asynchronous (`Event`) invocation's payload may hold.
const EVENT_PAYLOAD_LIMIT: usize = 1024 * 1024;

/// Lambda's checks of a payload before it reaches the function: its size for the invocation
/// type, and JSON (an empty payload passes, as the CLI sends none).
fn refused_payload(invocation_type: &str, payload: &[u8]) -> Option<Response> {
    let too_large = |message: String| {
        Some(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            &message,
        ))
    };
    match invocation_type {
        "Event" if payload.len() > EVENT_PAYLOAD_LIMIT => {
            return too_large(format!(
                "{} byte payload is too large for the Event invocation type (limit {EVENT_PAYLOAD_LIMIT} bytes)",
                payload.len()
            ));
        }
        _ if payload.len() > REQUEST_RESPONSE_PAYLOAD_LIMIT => {
            return too_large(format!(
                "Request must be smaller than {REQUEST_RESPONSE_PAYLOAD_LIMIT} bytes for the InvokeFunction operation"
            ));
        }
        _ => {}
    }
    if payload.is_empty() {
        return None;
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)
        .err()
        .map(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                &format!("Could not parse request body into json: {e}"),
            )
        })
}

/// A Lambda REST error: `x-amzn-errortype` and a JSON body, as the service answers it.
fn error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    error_with(
        status,
        error_type,
        json!({ "Type": "User", "message": message }),
    )
}

/// A Lambda REST error with its whole body.
fn error_with(status: StatusCode, error_type: &'static str, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

/// A synchronous invocation past the function's reserved concurrency, as Lambda refuses it.
fn throttled() -> Response {
    error_with(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequestsException",
        json!({
            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
            "Type": "User",
            "message": "Rate Exceeded.",
        }),
    )
}

/// The function's answer, or its failure as Lambda reports it (`X-Amz-Function-Error`).
fn answer(outcome: Result<Bytes, (String, String)>) -> Response {
    let (body, failed) = match outcome {
        Ok(payload) => (payload, false),
        Err((error_type, error_message)) => (
            Bytes::from(
                json!({ "errorType": error_type, "errorMessage": error_message }).to_string(),
            ),
            true,
        ),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if failed {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    response
}

/// The most of an invocation's log that `X-Amz-Log-Result` holds (its end).
const LOG_TAIL: usize = 4096;

/// `log`'s last [`LOG_TAIL`] bytes (from a character's start), base64, for `X-Amz-Log-Result`.
fn log_result(log: &[String]) -> HeaderValue {
    let text = log
        .iter()
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    let mut start = text.len().saturating_sub(LOG_TAIL);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text[start..]);
    HeaderValue::from_str(&encoded).expect("base64 is a header value")
}

/// Runs one invocation of `target` and gives its payload or its `(errorType, errorMessage)`,
/// and, when `tail`, its log.
async fn run(
    name: &str,
    target: &TaskTarget,
    payload: Bytes,
    tail: bool,
) -> (Result<Bytes, (String, String)>, Vec<String>) {
    let failure = |e: InvokeError| match e {
        InvokeError::Function(failure) | InvokeError::InitFailed(failure) => {
            (failure.error_type, failure.error_message)
        }
        InvokeError::TimedOut(timeout) => (
            "Sandbox.Timedout".to_owned(),
            format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
        ),
    };
    match target {
        TaskTarget::Process(function) if tail => {
            let (outcome, log) = function.invoke_with_log(payload, None).await;
            (outcome.map_err(failure), log)
        }
        TaskTarget::Process(function) => (
            function.invoke(payload, None).await.map_err(failure),
            Vec::new(),
        ),
        TaskTarget::InProcess { function, timeout } => {
            let request_id = uuid::Uuid::new_v4().to_string();
            let started = std::time::Instant::now();
            let outcome = run_in_process(name, function.as_ref(), *timeout, payload).await;
            let log = if tail {
                let duration = started.elapsed().as_secs_f64() * 1000.0;
                vec![
                    format!("START RequestId: {request_id} Version: $LATEST"),
                    format!("END RequestId: {request_id}"),
                    format!(
                        "REPORT RequestId: {request_id}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\t",
                        duration.ceil()
                    ),
                ]
            } else {
                Vec::new()
            };
            (outcome, log)
        }
    }
}

/// Runs one invocation of a library function in the emulator's process.
async fn run_in_process(
    name: &str,
    function: &dyn TaskFunction,
    timeout: Duration,
    payload: Bytes,
) -> Result<Bytes, (String, String)> {
    let input = serde_json::from_slice(&payload).map_err(|e| {
        (
            "Runtime.UnmarshalError".to_owned(),
            format!("the payload is not JSON: {e}"),
        )
    })?;
    let invocation = Invocation::local(name, timeout, None);
    let run = function
        .handle(&invocation, input)
        .instrument(invocation.span());
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(output)) => Ok(Bytes::from(output.to_string())),
        Ok(Err(e)) => Err((e.error_type().name().to_owned(), e.message().to_owned())),
        Err(_) => Err((
            "Sandbox.Timedout".to_owned(),
            format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
        )),
    }
}

pub(crate) async fn invoke(
    State(services): State<Arc<Services>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    payload: Bytes,
) -> Response {
    let signed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256"));
    if !signed {
        return error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        );
    }
    // A name, or an ARN whose last part is the name.
    let name = function.rsplit(':').next().unwrap_or_default();
    let Some(target) = services.lambda_functions.get(name).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {}", local_function_arn(name)),
        );
    };
    let invocation_type = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    if let Some(refusal) = refused_payload(invocation_type, &payload) {
        return refusal;
    }
    match invocation_type {
        "RequestResponse" => {
            let _place = match services.reserved_concurrency.get(name) {
                Some(reserved) => match reserved.try_enter() {
                    Some(place) => Some(place),
                    None => return throttled(),
                },
                None => None,
            };
            let tail = headers
                .get("x-amz-log-type")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"Tail"));
            let (outcome, log) = run(name, &target, payload, tail).await;
            let mut response = answer(outcome);
            if tail {
                response
                    .headers_mut()
                    .insert("x-amz-log-result", log_result(&log));
            }
            response
        }
        "Event" => {
            let name = name.to_owned();
            tokio::spawn(async move {
                if let (Err((error_type, message)), _) = run(&name, &target, payload, false).await {
                    tracing::warn!(function = %name, %error_type, "asynchronous invocation failed: {message}");
                }
            });
            StatusCode::ACCEPTED.into_response()
        }
        "DryRun" => StatusCode::NO_CONTENT.into_response(),
        other => error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("Invalid InvocationType {other:?}: use RequestResponse, Event or DryRun"),
        ),
    }
}
