//! The shape of an AWS JSON-protocol answer: the content type, and errors as the services write
//! them (`__type`, `message`, and for SQS the `x-amzn-query-error` header that carries its
//! historical error code, which the SDK matches on), so that the SDKs map them to their typed
//! errors; and the reading of an operation's input.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The JSON protocol's content type (the SDKs send 1.0 for SQS and Step Functions).
pub(super) const AMZ_JSON: &str = "application/x-amz-json-1.0";

/// An error as an AWS service answers it.
#[derive(Debug)]
pub(crate) struct AwsError {
    pub(super) status: StatusCode,
    /// The error shape's name (`__type`).
    pub(super) code: &'static str,
    /// SQS's historical (query protocol) error code, sent in `x-amzn-query-error`.
    pub(super) query_code: Option<&'static str>,
    pub(super) message: String,
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
    pub(crate) fn validation(message: impl Into<String>) -> Self {
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
