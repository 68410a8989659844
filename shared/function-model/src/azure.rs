//! The Azure Functions host (cargo feature `azure`): the function model as a custom handler.
//!
//! Azure runs Rust only as a custom handler: one HTTP server per Function App, on the port in
//! `FUNCTIONS_CUSTOMHANDLER_PORT`, to which the Functions host sends every invocation of every
//! function as `POST /{FunctionName}` with `{"Data": ..., "Metadata": ...}`, and from which it
//! takes `{"Outputs": ..., "Logs": [...], "ReturnValue": ...}`. The shapes are Microsoft Learn's,
//! "Azure Functions custom handlers"
//! (<https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers>): the sections
//! "Request payload" and "Response payload", and the HTTP trigger's `Data` in "Examples" >
//! "Function with bindings".
//! A [`FunctionApp`] routes each function name to its handler, the same library code the Lambda
//! binaries run:
//!
//! - an HTTP function gets the `httpTrigger` binding [`HTTP_REQUEST`] (`Url`, `Method`, `Headers`
//!   as lists, `Body` as text) as an [`HttpRequest`], and its answer goes out as the `http` output
//!   binding [`HTTP_RESPONSE`] (`statusCode`, `headers`, `body`);
//! - a queue function gets the `serviceBusTrigger` binding [`QUEUE_MESSAGE`] and the message's
//!   metadata (`MessageId`, `DeliveryCount`, `ApplicationProperties`) as a [`QueueMessage`]. The
//!   host JSON-encodes scalars (a body `{...}` may arrive as `"\"{...}\""`, `DeliveryCount` as
//!   `"3"`, as reported in <https://github.com/Azure/azure-functions-host/issues/6574>): both
//!   forms are read. A failure answers `500`: the invocation fails, the host abandons
//!   the message, Service Bus delivers it again and dead-letters it after the queue's
//!   `maxDeliveryCount`. A custom handler cannot dead-letter a message itself, so a message that
//!   can never succeed takes that road too, quickly (it fails at once every time).
//! - Other output bindings (the payment's Service Bus output, the orchestrator's follow-up queue)
//!   are written by the handler's code during the invocation with [`add_output`]; the host sends
//!   them only when the invocation succeeds.
//!
//! The [`Invocation`] comes from the request: its id from `X-Azure-Functions-InvocationId`, its
//! deadline from the app's `functionTimeout`, its trace from a W3C `traceparent` (the HTTP
//! header, or a message's `Diagnostic-Id` property, as the Service Bus SDKs set it).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::{HttpFunction, HttpRequest, Invocation, QueueFunction, QueueMessage};

/// The name of an HTTP function's `httpTrigger` binding in its `function.json`.
pub const HTTP_REQUEST: &str = "req";
/// The name of an HTTP function's `http` output binding.
pub const HTTP_RESPONSE: &str = "res";
/// The name of a queue function's `serviceBusTrigger` binding.
pub const QUEUE_MESSAGE: &str = "message";
/// The header that carries the host's invocation id.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// The largest invocation payload read (a registration is well under 2 KiB).
const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

enum Handler {
    Http(Arc<dyn HttpFunction>),
    Queue(Arc<dyn QueueFunction>),
}

/// The functions of one Function App, by name (the folder of their `function.json`).
pub struct FunctionApp {
    functions: HashMap<String, Handler>,
    /// The app's `functionTimeout`: every invocation's deadline.
    timeout: Duration,
}

/// What the handler answers the host: a status (non-2xx fails the invocation) and the invocation
/// response, `{Outputs, Logs, ReturnValue}`.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

/// The host's request: the trigger's and input bindings' values, and the trigger's metadata.
#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "Data", default)]
    data: Map<String, Value>,
    #[serde(rename = "Metadata", default)]
    metadata: Map<String, Value>,
}

/// Why an invocation failed: logged, and given to the host in `Logs`.
struct Failure {
    status: StatusCode,
    log: String,
}

impl FunctionApp {
    /// An app whose invocations end `timeout` after they start (its `host.json` `functionTimeout`).
    pub fn new(timeout: Duration) -> Self {
        Self {
            functions: HashMap::new(),
            timeout,
        }
    }

    /// Adds an HTTP-triggered function.
    pub fn http(mut self, name: &str, function: Arc<dyn HttpFunction>) -> Self {
        self.functions
            .insert(name.to_owned(), Handler::Http(function));
        self
    }

    /// Adds a Service Bus-triggered function.
    pub fn queue(mut self, name: &str, function: Arc<dyn QueueFunction>) -> Self {
        self.functions
            .insert(name.to_owned(), Handler::Queue(function));
        self
    }

    /// The names of the functions the app runs.
    pub fn function_names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// Runs one invocation of `function` with the host's `payload`.
    pub async fn invoke(
        &self,
        function: &str,
        invocation_id: Option<&str>,
        payload: &[u8],
    ) -> Answer {
        let invocation = Invocation {
            request_id: invocation_id
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned),
            deadline: tokio::time::Instant::now() + self.timeout,
            function_name: function.to_owned(),
            function_id: function_id(function),
            trace_id: None,
        };
        let run = async {
            let handler = self.functions.get(function).ok_or_else(|| Failure {
                status: StatusCode::NOT_FOUND,
                log: format!("this handler has no function {function:?}"),
            })?;
            let payload: Payload = serde_json::from_slice(payload).map_err(|e| Failure {
                status: StatusCode::BAD_REQUEST,
                log: format!("the invocation payload is not {{\"Data\", \"Metadata\"}}: {e}"),
            })?;
            match handler {
                Handler::Http(function) => run_http(function.as_ref(), invocation, payload).await,
                Handler::Queue(function) => run_queue(function.as_ref(), invocation, payload).await,
            }
        };
        let (result, outputs) = with_outputs(run).await;
        let mut bindings: Map<String, Value> = outputs
            .into_iter()
            .map(|(name, mut values)| {
                let value = if values.len() == 1 {
                    values.remove(0)
                } else {
                    Value::Array(values)
                };
                (name, value)
            })
            .collect();
        match result {
            Ok(http_response) => {
                if let Some(response) = http_response {
                    bindings.insert(HTTP_RESPONSE.to_owned(), response);
                }
                Answer {
                    status: StatusCode::OK,
                    body: json!({ "Outputs": bindings, "Logs": [], "ReturnValue": null }),
                }
            }
            Err(failure) => {
                tracing::warn!(function, "invocation failed: {}", failure.log);
                Answer {
                    status: failure.status,
                    body: json!({ "Outputs": {}, "Logs": [failure.log], "ReturnValue": null }),
                }
            }
        }
    }

    /// Serves the host on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            let app = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(app.answer(request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                if let Err(e) = connection.await {
                    tracing::debug!("the host's connection ended: {e}");
                }
            });
        }
    }

    /// Serves the port the host gives in `FUNCTIONS_CUSTOMHANDLER_PORT`, on the loopback address
    /// it connects to.
    pub async fn serve_host(self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let port: u16 = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")
            .map_err(|_| "FUNCTIONS_CUSTOMHANDLER_PORT is not set")?
            .parse()
            .map_err(|_| "FUNCTIONS_CUSTOMHANDLER_PORT is not a port number")?;
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).await?;
        let mut names: Vec<_> = self.function_names().collect();
        names.sort_unstable();
        tracing::info!(port, functions = ?names, "custom handler listening");
        Arc::new(self).serve(listener).await?;
        Ok(())
    }

    async fn answer(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> http::Response<Full<Bytes>> {
        let respond = |status: StatusCode, body: &Value| {
            let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
            *response.status_mut() = status;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        };
        if request.method() != Method::POST {
            let body = json!({ "Logs": ["the Functions host invokes with POST /{FunctionName}"] });
            return respond(StatusCode::METHOD_NOT_ALLOWED, &body);
        }
        let function = request.uri().path().trim_start_matches('/').to_owned();
        let invocation_id = request
            .headers()
            .get(INVOCATION_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let payload = match Limited::new(request.into_body(), MAX_PAYLOAD_BYTES)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(e) => {
                let body =
                    json!({ "Logs": [format!("the invocation payload could not be read: {e}")] });
                return respond(StatusCode::PAYLOAD_TOO_LARGE, &body);
            }
        };
        let answer = self
            .invoke(&function, invocation_id.as_deref(), &payload)
            .await;
        respond(answer.status, &answer.body)
    }
}

/// What Consumption plans allow when `host.json` sets no `functionTimeout`.
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `host.json`'s `functionTimeout` (`hh:mm:ss`, or `d.hh:mm:ss`); five minutes when unset. What
/// the handler gives each invocation, and what the emulator, as the host, holds it to.
pub fn function_timeout(host_json: &Value) -> Result<Duration, String> {
    let Some(raw) = host_json.get("functionTimeout") else {
        return Ok(DEFAULT_FUNCTION_TIMEOUT);
    };
    let invalid = || format!("host.json: functionTimeout {raw} is not \"[d.]hh:mm:ss\"");
    let text = raw.as_str().ok_or_else(invalid)?;
    let (days, clock) = match text.split_once('.') {
        Some((days, clock)) if !days.contains(':') => {
            (days.parse::<u64>().map_err(|_| invalid())?, clock)
        }
        _ => (0, text),
    };
    let parts: Vec<u64> = clock
        .split(':')
        .map(|part| part.parse().map_err(|_| invalid()))
        .collect::<Result<_, _>>()?;
    let [hours, minutes, seconds] = parts[..] else {
        return Err(invalid());
    };
    if minutes >= 60 || seconds >= 60 {
        return Err(invalid());
    }
    Ok(Duration::from_secs(
        ((days * 24 + hours) * 60 + minutes) * 60 + seconds,
    ))
}

/// The function's id on Azure: the app (`WEBSITE_SITE_NAME`, set by App Service) and the function.
fn function_id(function: &str) -> String {
    let app = std::env::var("WEBSITE_SITE_NAME").unwrap_or_else(|_| "local".to_owned());
    format!("{app}/{function}")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

tokio::task_local! {
    /// The output bindings the running invocation has written, by binding name.
    static OUTPUTS: Arc<Mutex<BTreeMap<String, Vec<Value>>>>;
}

/// Called outside an Azure invocation: there is no output binding to write.
#[derive(Debug, thiserror::Error)]
#[error("no Azure Functions invocation is running here, so there is no output binding {0:?}")]
pub struct OutsideInvocation(String);

/// Writes `value` to the output binding `binding` of the running invocation (a Service Bus
/// output takes one message per call). The host sends it once the invocation succeeds.
pub fn add_output(binding: &str, value: Value) -> Result<(), OutsideInvocation> {
    OUTPUTS
        .try_with(|outputs| {
            lock(outputs)
                .entry(binding.to_owned())
                .or_default()
                .push(value);
        })
        .map_err(|_| OutsideInvocation(binding.to_owned()))
}

/// Runs `work` as an invocation runs: what it writes with [`add_output`] is collected, by
/// binding, and returned with its result.
pub async fn with_outputs<T>(work: impl Future<Output = T>) -> (T, BTreeMap<String, Vec<Value>>) {
    let outputs = Arc::new(Mutex::new(BTreeMap::new()));
    let result = OUTPUTS.scope(outputs.clone(), work).await;
    let written = std::mem::take(&mut *lock(&outputs));
    (result, written)
}

/// The text of a value the host may have JSON-encoded: `"\"abc\""` and `"abc"` are both `abc`,
/// `"3"` and `3` both `3`; `null` is none.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::String(inner)) => Some(inner),
            _ => Some(text.clone()),
        },
        other => Some(other.to_string()),
    }
}

/// An object the host may have sent as JSON text.
fn object(value: Option<&Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(map)) => map.clone(),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        },
        _ => Map::new(),
    }
}

/// A message body as the handler reads it: text. The host sends a string body JSON-encoded (or
/// not), and may send a JSON body as an object.
fn message_body(value: &Value) -> String {
    match value {
        Value::String(_) => scalar_text(value).unwrap_or_default(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `httpTrigger` binding's value as the function model's request.
pub fn http_request(value: &Value) -> Result<HttpRequest, String> {
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let url: Uri = field("Url")
        .ok_or("the request has no Url")?
        .parse()
        .map_err(|e| format!("the request's Url is not a URL: {e}"))?;
    let method = Method::from_bytes(
        field("Method")
            .ok_or("the request has no Method")?
            .as_bytes(),
    )
    .map_err(|e| format!("the request's Method: {e}"))?;
    let mut headers = HeaderMap::new();
    for (name, values) in object(value.get("Headers")) {
        let Ok(name) = HeaderName::try_from(name.as_str()) else {
            continue;
        };
        let values = match values {
            Value::Array(values) => values,
            single => vec![single],
        };
        // Bytes as sent, not only visible ASCII: a value the function must refuse (a key in
        // another encoding) is not silently dropped here.
        for text in values.iter().filter_map(scalar_text) {
            if let Ok(text) = HeaderValue::from_bytes(text.as_bytes()) {
                headers.append(name.clone(), text);
            }
        }
    }
    let body = match value.get("Body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(other) => Bytes::from(other.to_string()),
    };
    let path_parameters = object(value.get("Params"))
        .iter()
        .filter_map(|(name, value)| Some((name.clone(), scalar_text(value)?)))
        .collect();
    let source_ip = client_address(&headers);
    Ok(HttpRequest {
        method,
        path: url.path().to_owned(),
        query: url.query().unwrap_or_default().to_owned(),
        path_parameters,
        source_ip,
        headers,
        body,
    })
}

/// The Service Bus trigger's message and metadata as the function model's message.
pub fn queue_message(body: &Value, metadata: &Map<String, Value>) -> QueueMessage {
    let text = |name: &str| metadata.get(name).and_then(scalar_text);
    let mut properties = object(metadata.get("ApplicationProperties"));
    if properties.is_empty() {
        properties = object(metadata.get("UserProperties"));
    }
    QueueMessage {
        message_id: text("MessageId").unwrap_or_default(),
        body: message_body(body),
        attributes: properties
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), scalar_text(value)?)))
            .collect(),
        receive_count: text("DeliveryCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1),
    }
}

async fn run_http(
    function: &dyn HttpFunction,
    mut invocation: Invocation,
    payload: Payload,
) -> Result<Option<Value>, Failure> {
    let bad_request = |log: String| Failure {
        status: StatusCode::BAD_REQUEST,
        log,
    };
    let request = payload
        .data
        .get(HTTP_REQUEST)
        .ok_or_else(|| bad_request(format!("the payload has no {HTTP_REQUEST:?} binding")))
        .and_then(|value| http_request(value).map_err(bad_request))?;
    invocation.trace_id = request.header("traceparent").map(str::to_owned);
    let response = function
        .handle(&invocation, request)
        .instrument(invocation.span())
        .await;
    let body = String::from_utf8(response.body.to_vec()).map_err(|_| Failure {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        log: "the function answered a body that is not UTF-8 text".to_owned(),
    })?;
    let mut headers = Map::new();
    for name in response.headers.keys() {
        let values: Vec<&str> = response
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        headers.insert(name.to_string(), Value::String(values.join(", ")));
    }
    Ok(Some(json!({
        "statusCode": response.status.as_u16(),
        "headers": headers,
        "body": body,
    })))
}

async fn run_queue(
    function: &dyn QueueFunction,
    mut invocation: Invocation,
    payload: Payload,
) -> Result<Option<Value>, Failure> {
    let body = payload.data.get(QUEUE_MESSAGE).ok_or_else(|| Failure {
        status: StatusCode::BAD_REQUEST,
        log: format!("the payload has no {QUEUE_MESSAGE:?} binding"),
    })?;
    let message = queue_message(body, &payload.metadata);
    invocation.trace_id = message
        .attributes
        .get("Diagnostic-Id")
        .or_else(|| message.attributes.get("traceparent"))
        .cloned();
    let span = invocation.span();
    match function
        .handle_message(&invocation, &message)
        .instrument(span)
        .await
    {
        Ok(()) => Ok(None),
        Err(e) => {
            let fate = if e.is_retryable() {
                "it will be delivered again"
            } else {
                "it can never succeed, and reaches the dead-letter queue after maxDeliveryCount \
                 deliveries"
            };
            Err(Failure {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                log: format!(
                    "message {} (delivery {}) failed with {}: {}; {fate}",
                    message.message_id,
                    message.receive_count,
                    e.error_type(),
                    e.chain()
                ),
            })
        }
    }
}

/// The client, as App Service's front end says: `Client-IP` (`ip:port`), which it sets itself,
/// overwriting whatever the client sent; without it, the last `X-Forwarded-For` entry, the one
/// the nearest proxy added (the first ones are whatever the client sent).
fn client_address(headers: &HeaderMap) -> Option<IpAddr> {
    crate::last_address(headers, "client-ip")
        .or_else(|| crate::last_address(headers, "x-forwarded-for"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_function_timeout_of_host_json() {
        let timeout = |value| function_timeout(&json!({ "functionTimeout": value }));
        assert_eq!(timeout(json!("00:05:00")), Ok(Duration::from_secs(300)));
        assert_eq!(timeout(json!("01:30:15")), Ok(Duration::from_secs(5415)));
        assert_eq!(timeout(json!("1.00:00:00")), Ok(Duration::from_secs(86400)));
        assert_eq!(function_timeout(&json!({})), Ok(DEFAULT_FUNCTION_TIMEOUT));
        for bad in [
            json!("5 minutes"),
            json!("00:60:00"),
            json!(300),
            json!("00:05"),
        ] {
            assert!(timeout(bad.clone()).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_client_is_what_the_front_end_says_not_what_the_client_sent() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.append(*name, value.parse().expect("a header value"));
            }
            headers
        };
        let ip = |text: &str| Some(text.parse::<IpAddr>().expect("an address"));
        assert_eq!(
            client_address(&headers(&[
                ("x-forwarded-for", "198.51.100.1, 203.0.113.7:52344"),
                ("client-ip", "203.0.113.8:52344"),
            ])),
            ip("203.0.113.8"),
            "Client-IP first"
        );
        assert_eq!(
            client_address(&headers(&[(
                "x-forwarded-for",
                "198.51.100.1, 203.0.113.7:52344"
            )])),
            ip("203.0.113.7"),
            "the entry the front end appended, not the one the client sent"
        );
        assert_eq!(
            client_address(&headers(&[("x-forwarded-for", "[2001:db8::1]:443")])),
            ip("2001:db8::1")
        );
        assert_eq!(client_address(&headers(&[])), None);
    }
}
