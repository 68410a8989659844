//! AWS's own APIs on the emulator's port, so that the official SDKs (and the function binaries,
//! through `AWS_ENDPOINT_URL`) reach the local cloud as they reach AWS: SQS (`sqs`) and Step
//! Functions (`sfn`) over the JSON protocol, `POST /` with `X-Amz-Target:
//! AmazonSQS.SendMessage` (or `AWSStepFunctions.StartExecution`, …) and a body of
//! `application/x-amz-json-1.0`; and Lambda's `Invoke` over its REST protocol (`lambda`).
//!
//! Any SigV4 credentials are accepted and signatures are not checked, as local emulators do. A web
//! page cannot call these APIs from another site: the target header and the content type are not
//! what a cross-site form sends, so a browser would first ask for a CORS preflight, which the
//! emulator does not grant.
//!
//! Errors take AWS's shape (`__type`, `message`, and for SQS the `x-amzn-query-error` header that
//! carries its historical error code, which the SDK matches on), so the SDKs map them to their
//! typed errors.

mod lambda;
mod protocol;
mod sfn;
mod sqs;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::state::Services;
use protocol::{AMZ_JSON, AwsError};

/// `POST /` with an `X-Amz-Target` (SQS, Step Functions) and Lambda's `Invoke`. Their bodies
/// are not held to axum's default 2 MB: the services' own quotas answer as the services do (a
/// synchronous `Invoke` takes 6 MB), within the server's bound on every body.
pub(crate) fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route("/", post(json_protocol))
        .route(
            "/2015-03-31/functions/{function}/invocations",
            post(lambda::invoke),
        )
        .layer(DefaultBodyLimit::disable())
}

/// `POST /` with an `X-Amz-Target`: one JSON-protocol call.
async fn json_protocol(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) else {
        // Not an AWS call: `/` is the site's page, which takes GET (the JSON error is written by
        // the server's error layer).
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("GET,HEAD"))],
        )
            .into_response();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-amz-json-1.") {
        return AwsError::client(
            "UnknownOperationException",
            "AWS API calls take X-Amz-Target and a body of application/x-amz-json-1.0",
        )
        .into_response();
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(body @ Value::Object(_)) => body,
            _ => {
                return AwsError::client(
                    "SerializationException",
                    "The request body is not a JSON object",
                )
                .into_response();
            }
        }
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let outcome = match target.split_once('.') {
        Some(("AmazonSQS", operation)) => sqs::call(&services, host, operation, body).await,
        Some(("AWSStepFunctions", operation)) => sfn::call(&services, operation, body).await,
        _ => Err(AwsError::client(
            "UnknownOperationException",
            format!("The emulator does not serve the operation {target:?}"),
        )),
    };
    match outcome {
        Ok(output) => {
            let mut response = (StatusCode::OK, output.to_string()).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
            response
        }
        Err(error) => error.into_response(),
    }
}
