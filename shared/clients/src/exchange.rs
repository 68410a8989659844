//! HTTP plumbing shared by the provider clients: one attempt with a timeout, and the verdict on a
//! failure (can a retry help?), so that PayPal, SendGrid and Mailchimp classify failures alike.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

/// How long a provider call may take, connecting included, unless configured.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest piece of an unrecognised error body kept in a message.
const EXCERPT_CHARS: usize = 200;

/// A failed call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Unreachable, too slow, throttled or failing: the same request may succeed later.
    Retryable(String),
    /// The provider refused the request, or answered in a way we cannot trust: repeating it
    /// cannot help.
    Terminal(String),
}

/// Sends `request` and reads the whole reply. Connect errors, timeouts and a reply cut short
/// are retryable; a request that cannot even be built (a malformed URL) is terminal.
pub(crate) async fn send(request: RequestBuilder) -> Result<(StatusCode, String), Failure> {
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let body = response.text().await.map_err(transport)?;
    Ok((status, body))
}

fn transport(error: reqwest::Error) -> Failure {
    if error.is_builder() {
        Failure::Terminal(format!("cannot build the request: {error}"))
    } else if error.is_timeout() {
        Failure::Retryable(format!("timed out: {error}"))
    } else if error.is_connect() {
        Failure::Retryable(format!("cannot connect: {error}"))
    } else {
        Failure::Retryable(error.to_string())
    }
}

/// The failure an error status means: 408, 429 and 5xx are retryable, any other status is
/// terminal. `detail` is the provider's own explanation, when its error document gave one;
/// otherwise the message quotes the start of the body.
pub(crate) fn for_status(status: StatusCode, detail: Option<String>, body: &str) -> Failure {
    let detail = detail.unwrap_or_else(|| match body.trim() {
        "" => "no details".to_owned(),
        body => body.chars().take(EXCERPT_CHARS).collect(),
    });
    let message = format!("HTTP {status}: {detail}");
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Failure::Retryable(message)
    } else {
        Failure::Terminal(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_retryable_or_terminal() {
        for code in [408, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).expect("status");
            assert!(
                matches!(for_status(status, None, ""), Failure::Retryable(_)),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 405, 413, 422] {
            let status = StatusCode::from_u16(code).expect("status");
            assert!(
                matches!(for_status(status, None, ""), Failure::Terminal(_)),
                "{code}"
            );
        }
        assert_eq!(
            for_status(StatusCode::BAD_GATEWAY, None, &"x".repeat(500)),
            Failure::Retryable(format!("HTTP 502 Bad Gateway: {}", "x".repeat(200)))
        );
        assert_eq!(
            for_status(StatusCode::BAD_REQUEST, Some("why".into()), "{}"),
            Failure::Terminal("HTTP 400 Bad Request: why".into())
        );
        assert_eq!(
            for_status(StatusCode::FORBIDDEN, None, " "),
            Failure::Terminal("HTTP 403 Forbidden: no details".into())
        );
    }
}
