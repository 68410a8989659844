//! What the three local providers share on the wire: the fault injector in front of each (a
//! failure answered with the provider's own error body), HTTP authentication and content-type
//! checks, email address checks, random ids, and JSON kinds for error messages.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;

use super::faults::{Fault, Faults};

/// How long a client is told to wait after an injected 429.
const RETRY_AFTER_SECONDS: &str = "1";

/// Where a provider consults the fault injector, and how it words a failure.
#[derive(Clone)]
struct FaultPoint {
    faults: Arc<Faults>,
    target: &'static str,
    failure: fn(StatusCode) -> Response,
}

/// Wraps a fake's routes so that every request, whichever route, first suffers `target`'s fault.
/// `failure` writes the provider's error body for an injected status.
pub(super) fn with_faults(
    routes: Router,
    faults: Arc<Faults>,
    target: &'static str,
    failure: fn(StatusCode) -> Response,
) -> Router {
    let point = FaultPoint {
        faults,
        target,
        failure,
    };
    routes.layer(middleware::from_fn_with_state(point, suffer_fault))
}

async fn suffer_fault(State(point): State<FaultPoint>, request: Request, next: Next) -> Response {
    match point.faults.next(point.target) {
        None => {}
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        // The connection stays open and silent until the client gives up and closes it.
        Some(Fault::Timeout) => return std::future::pending().await,
        Some(Fault::Fail { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response = (point.failure)(status);
            if status == StatusCode::TOO_MANY_REQUESTS {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            }
            return response;
        }
    }
    next.run(request).await
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The credentials of an `Authorization: <scheme> <credentials>` header, if it uses `scheme`
/// (compared without case, as RFC 9110 asks).
fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let (given, credentials) = headers.get(AUTHORIZATION)?.to_str().ok()?.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credentials.trim())
        .filter(|credentials| !credentials.is_empty())
}

/// The token of `Authorization: Bearer <token>`.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    authorization(headers, "Bearer")
}

/// The user and password of `Authorization: Basic base64(user:password)`.
pub(super) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let decoded = String::from_utf8(base64_decode(authorization(headers, "Basic")?)?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Decodes standard base64 (RFC 4648 §4), padded or not.
fn base64_decode(encoded: &str) -> Option<Vec<u8>> {
    let encoded = encoded.trim_end_matches('=');
    if encoded.len() % 4 == 1 {
        return None;
    }
    let mut decoded = Vec::with_capacity(encoded.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in encoded.bytes() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            decoded.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(decoded)
}

/// Whether the request's `Content-Type` is `media_type` (parameters such as `charset` aside).
pub(super) fn has_media_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|given| given.trim().eq_ignore_ascii_case(media_type))
}

/// Whether the providers would take `address` as an email address (the domain's own rule: one
/// `@`, a dotted domain, no spaces).
pub(super) fn is_email(address: &str) -> bool {
    domain::EmailAddress::parse(address).is_ok()
}

/// `len` random lower-case hexadecimal digits.
pub(super) fn random_hex(len: usize) -> String {
    let mut hex = String::with_capacity(len + 32);
    while hex.len() < len {
        hex.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    hex.truncate(len);
    hex
}

/// A JSON value's type, as validation messages name it.
pub(super) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
pub(super) mod testing {
    use std::time::{Duration, Instant};

    use axum::Router;
    use reqwest::{RequestBuilder, Response};
    use serde_json::Value;

    use crate::local_providers::faults::{FaultMode, FaultSpec, Faults};

    /// Serves `router` on a free port of 127.0.0.1 and returns its base URL.
    pub(in crate::local_providers) async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    /// Sends `request`: its status and JSON body (`null` when empty or not JSON).
    pub(in crate::local_providers) async fn answer(request: RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `body` with the member at `pointer` set to `value` (created in its parent object if
    /// missing).
    pub(in crate::local_providers) fn with(mut body: Value, pointer: &str, value: Value) -> Value {
        match body.pointer_mut(pointer) {
            Some(field) => *field = value,
            None => {
                let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
                body.pointer_mut(parent).expect("a parent")[key] = value;
            }
        }
        body
    }

    /// `body` without the member at `pointer`.
    pub(in crate::local_providers) fn without(mut body: Value, pointer: &str) -> Value {
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        body.pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("an object")
            .remove(key);
        body
    }

    pub(in crate::local_providers) fn inject(
        faults: &Faults,
        target: &str,
        mode: FaultMode,
        status: Option<u16>,
    ) {
        faults
            .inject(FaultSpec {
                target: target.into(),
                mode,
                times: Some(1),
                delay_ms: Some(SLOW.as_millis() as u64),
                status,
            })
            .expect("a valid fault");
    }

    const SLOW: Duration = Duration::from_millis(300);

    /// A one-time `fail` fault with status 429: the next request, whichever it is, answers 429
    /// with `Retry-After`. The caller checks the provider's error body.
    pub(in crate::local_providers) async fn rate_limited(
        faults: &Faults,
        target: &str,
        request: impl Fn() -> RequestBuilder,
    ) -> Response {
        inject(faults, target, FaultMode::Fail, Some(429));
        let response = request().send().await.expect("an answer");
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "1");
        response
    }

    /// `slow` delays the next answer; `timeout` leaves the next request unanswered until the
    /// client gives up; then the provider answers again.
    pub(in crate::local_providers) async fn slow_then_timeout(
        faults: &Faults,
        target: &str,
        request: impl Fn() -> RequestBuilder,
    ) {
        inject(faults, target, FaultMode::Slow, None);
        let started = Instant::now();
        let response = request().send().await.expect("a late answer");
        assert!(started.elapsed() >= SLOW, "answered after the delay");
        assert!(response.status().is_success(), "then handled normally");

        inject(faults, target, FaultMode::Timeout, None);
        let outcome = request().timeout(SLOW).send().await;
        assert!(
            outcome.expect_err("no answer").is_timeout(),
            "the client's timeout decides"
        );

        let response = request().send().await.expect("an answer");
        assert!(response.status().is_success(), "the fault was used up");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::local_providers::SendGridFake;
    use crate::local_providers::faults::FaultMode;

    /// As the emulator mounts them: under a prefix, on a server that shuts down gracefully. A
    /// `timeout` fault holds its request only until the client gives up and closes the
    /// connection; it never keeps the server from stopping.
    #[tokio::test]
    async fn nested_under_a_prefix_and_never_blocking_shutdown() {
        let faults = Arc::new(Faults::default());
        let records = crate::local_providers::records::testing::records().await;
        let sendgrid = SendGridFake::new("SG.key".into(), faults.clone(), records);
        let app = Router::new().nest("/_providers/sendgrid", sendgrid.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!(
            "http://{}/_providers/sendgrid/v3/mail/send",
            listener.local_addr().expect("a bound address")
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        let mail = serde_json::json!({
            "personalizations": [{ "to": [{ "email": "ada@example.com" }] }],
            "from": { "email": "tickets@conference.example" },
            "subject": "Your ticket",
            "content": [{ "type": "text/plain", "value": "See you there." }],
            "mail_settings": { "sandbox_mode": { "enable": true } },
        });
        let send = || {
            reqwest::Client::new()
                .post(&url)
                .bearer_auth("SG.key")
                .json(&mail)
                .timeout(Duration::from_millis(300))
                .send()
        };
        assert_eq!(send().await.expect("an answer").status(), 200);

        testing::inject(&faults, "sendgrid", FaultMode::Timeout, None);
        assert!(send().await.expect_err("no answer").is_timeout());
        let _ = stop.send(());
        let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;
        assert!(stopped.is_ok(), "the server stopped");
    }

    #[test]
    fn decodes_base64_as_http_basic_sends_it() {
        assert_eq!(
            base64_decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ==").as_deref(),
            Some(&b"Aladdin:open sesame"[..])
        );
        assert_eq!(base64_decode("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("not base64!"), None);
        assert_eq!(base64_decode("Y"), None);
    }

    #[test]
    fn reads_authorization_schemes_without_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("basic dXNlcjpwYTpzcw=="),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(bearer_token(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer  "));
        assert_eq!(bearer_token(&headers), None, "an empty token is no token");
    }
}
