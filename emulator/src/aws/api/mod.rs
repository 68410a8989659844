//! AWS's own APIs on the emulator's port, so that the official SDKs (and the function binaries,
//! through `AWS_ENDPOINT_URL`) reach the local cloud as they reach AWS: SQS ([`sqs`]) and Step
//! Functions ([`sfn`]) over the JSON protocol, `POST /` with `X-Amz-Target:
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
mod sfn;
mod sqs;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::state::Services;

/// `POST /` with an `X-Amz-Target` (SQS, Step Functions) and Lambda's `Invoke`.
pub(crate) fn routes() -> Router<Arc<Services>> {
    Router::new().route("/", post(json_protocol)).route(
        "/2015-03-31/functions/{function}/invocations",
        post(lambda::invoke),
    )
}

/// The JSON protocol's content type (the SDKs send 1.0 for SQS and Step Functions).
const AMZ_JSON: &str = "application/x-amz-json-1.0";

/// An error as an AWS service answers it.
#[derive(Debug)]
pub(crate) struct AwsError {
    status: StatusCode,
    /// The error shape's name (`__type`).
    code: &'static str,
    /// SQS's historical (query protocol) error code, sent in `x-amzn-query-error`.
    query_code: Option<&'static str>,
    message: String,
}

impl AwsError {
    /// A client error named `code` (a shape of the service's model).
    pub(crate) fn client(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            query_code: None,
            message: message.into(),
        }
    }

    /// An SQS client error, with its query-protocol code.
    pub(crate) fn sqs(
        code: &'static str,
        query_code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            query_code: Some(query_code),
            ..Self::client(code, message)
        }
    }

    /// A failure of the emulator itself (its database): a 500, which the SDKs retry.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::warn!("AWS API call failed inside the emulator: {error}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalFailure",
            query_code: None,
            message: "The emulator could not complete the request; see its log.".into(),
        }
    }

    /// A request that does not fit the operation's input shape.
    fn validation(message: impl Into<String>) -> Self {
        Self::client("ValidationException", message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = json!({ "__type": self.code, "message": self.message }).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
        if let Some(code) = self.query_code {
            let sender = if self.status.is_client_error() {
                "Sender"
            } else {
                "Receiver"
            };
            if let Ok(value) = HeaderValue::from_str(&format!("{code};{sender}")) {
                headers.insert("x-amzn-query-error", value);
            }
        }
        response
    }
}

pub(crate) type AwsResult = Result<Value, AwsError>;

/// Reads an operation's input shape from the request body.
pub(crate) fn input<T: DeserializeOwned>(body: Value) -> Result<T, AwsError> {
    serde_json::from_value(body).map_err(|e| AwsError::validation(format!("Invalid request: {e}")))
}

/// Seconds since the epoch, as the JSON protocol writes timestamps.
pub(crate) fn epoch_seconds(at: chrono::DateTime<chrono::Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
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
