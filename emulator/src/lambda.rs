//! Process mode: each function's real binary, run as AWS Lambda runs it, so that what runs
//! locally is what deploys.
//!
//! A [`LambdaFunction`] starts instances of its executable on demand, each a process with a Lambda
//! Runtime API of its own ([`RuntimeApi`]) and the environment Lambda gives
//! (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
//! `AWS_REGION`, `_HANDLER`, `LAMBDA_TASK_ROOT`, `PATH`, `TZ`, test credentials,
//! `AWS_ENDPOINT_URL` pointing at the emulator) plus the function's variables, and nothing of the
//! emulator's own environment but `RUST_LOG`. As on Lambda:
//!
//! - an instance runs one invocation at a time; overlapping invocations start more instances, up
//!   to the function's concurrency (further invocations wait for a free instance, where Lambda
//!   would throttle);
//! - an instance that does not answer within the function's timeout is stopped and replaced, and
//!   the invocation fails as timed out; one that exits fails its invocation with
//!   `Runtime.ExitError` and is replaced;
//! - instances stay warm between invocations; their output is the emulator's log, line by line,
//!   under the function's name.
//!
//! The adapters below present a process function as the function model's traits, with the
//! payloads AWS sends: API Gateway's HTTP API payload 2.0 for payment ([`ProcessHttpFunction`]),
//! an SQS event for the orchestrator ([`sqs_event`]), the task's JSON for the workflow's tasks.
//! [`build_binaries`] builds the executables with cargo.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use function_model::{HttpFunction, HttpRequest, HttpResponse, Invocation, QueueMessage};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

use crate::aws::{ACCOUNT, REGION};
use crate::runtime_api::{FunctionFailure, InvokeError, RuntimeApi};

/// The workspace's function packages, which [`build_binaries`] builds (each has one binary of
/// its name, as `template.yaml`'s `rust-cargolambda` functions name them).
pub const FUNCTIONS: [&str; 5] = [
    "payment",
    "orchestrator",
    "save-order",
    "email",
    "mailing-list",
];

/// How one function runs. Not `Debug`: its environment holds the providers' secrets.
#[derive(Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub executable: PathBuf,
    /// The function's own variables (`template.yaml`'s `Environment`).
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// The most instances at once.
    pub concurrency: usize,
    /// Where the functions' AWS SDK clients are sent (the emulator).
    pub endpoint_url: String,
}

/// A started instance: its process and its Runtime API.
struct Instance {
    api: RuntimeApi,
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.api.stop();
        // `kill_on_drop` stops the process.
    }
}

/// A function run as processes of its binary; see the module documentation.
pub struct LambdaFunction {
    spec: FunctionSpec,
    arn: String,
    idle: Mutex<Vec<Instance>>,
    slots: Semaphore,
    /// Each started instance's init (spawn to its first `/next`), in start order.
    init_durations: Mutex<Vec<Duration>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LambdaFunction {
    pub fn new(spec: FunctionSpec) -> Arc<Self> {
        Arc::new(Self {
            arn: function_model::local_function_arn(&spec.name),
            slots: Semaphore::new(spec.concurrency.max(1)),
            idle: Mutex::new(Vec::new()),
            init_durations: Mutex::new(Vec::new()),
            spec,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn timeout(&self) -> Duration {
        self.spec.timeout
    }

    /// The init of each instance started so far (spawn to its first `/next`), in start order.
    pub fn init_durations(&self) -> Vec<Duration> {
        lock(&self.init_durations).clone()
    }

    /// Invokes the function with `payload`, on a warm instance or a new one; see the module
    /// documentation for timeouts and exits.
    pub async fn invoke(
        &self,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> Result<Bytes, InvokeError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| init_failure("Runtime.Unavailable", "the function is stopping"))?;
        let (mut instance, cold) = match self.warm_instance() {
            Some(instance) => (instance, false),
            None => (self.start_instance().await?, true),
        };
        let outcome = tokio::select! {
            outcome = instance.api.invoke(payload, self.spec.timeout, trace_id) => outcome,
            status = instance.child.wait() => Err(InvokeError::Function(FunctionFailure {
                error_type: "Runtime.ExitError".into(),
                error_message: match status {
                    Ok(status) => format!("Runtime exited ({status})"),
                    Err(e) => format!("Runtime exited: {e}"),
                },
            })),
        };
        if let Some(init) = instance.api.init_duration().filter(|_| cold) {
            // As Lambda's REPORT line gives `Init Duration` for a cold start.
            tracing::info!(
                function = %self.spec.name,
                init_ms = format!("{:.2}", init.as_secs_f64() * 1000.0),
                "new instance"
            );
            lock(&self.init_durations).push(init);
        }
        let healthy = match &outcome {
            Ok(_) => true,
            Err(InvokeError::Function(failure)) => failure.error_type != "Runtime.ExitError",
            Err(InvokeError::TimedOut(_) | InvokeError::InitFailed(_)) => false,
        };
        if healthy {
            lock(&self.idle).push(instance);
        } else {
            tracing::warn!(
                function = %self.spec.name,
                "instance stopped ({}); the next invocation starts a new one",
                outcome.as_ref().err().map(ToString::to_string).unwrap_or_default()
            );
        }
        outcome
    }

    /// An idle instance whose process still runs.
    fn warm_instance(&self) -> Option<Instance> {
        let mut idle = lock(&self.idle);
        while let Some(mut instance) = idle.pop() {
            if matches!(instance.child.try_wait(), Ok(None)) {
                return Some(instance);
            }
        }
        None
    }

    async fn start_instance(&self) -> Result<Instance, InvokeError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| init_failure("Runtime.Unavailable", &e.to_string()))?;
        let runtime_api = listener
            .local_addr()
            .map_err(|e| init_failure("Runtime.Unavailable", &e.to_string()))?;
        let api = RuntimeApi::serve(listener, &self.arn);
        let spec = &self.spec;
        let mut command = Command::new(&spec.executable);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("_HANDLER", "bootstrap")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/opt/bin")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env(
                "LAMBDA_TASK_ROOT",
                spec.executable.parent().unwrap_or(Path::new("/")),
            )
            .env("AWS_ACCESS_KEY_ID", "emulator")
            .env("AWS_SECRET_ACCESS_KEY", "emulator")
            .env("AWS_ENDPOINT_URL", &spec.endpoint_url)
            .envs(spec.environment.iter().map(|(k, v)| (k, v)));
        let child = spawn_function_process(&mut command, &spec.name).map_err(|e| {
            init_failure(
                "Runtime.InvalidEntrypoint",
                &format!("could not start {}: {e}", spec.executable.display()),
            )
        })?;
        tracing::debug!(function = %spec.name, %runtime_api, "instance started");
        Ok(Instance { api, child })
    }
}

fn init_failure(error_type: &str, message: &str) -> InvokeError {
    InvokeError::InitFailed(FunctionFailure {
        error_type: error_type.to_owned(),
        error_message: message.to_owned(),
    })
}

/// Starts a function's process as a cloud host does: with the variables `command` was given (and
/// the emulator's `RUST_LOG` unless it sets one), no input, its output copied into the
/// emulator's log under `name`, and killed when dropped.
pub(crate) fn spawn_function_process(command: &mut Command, name: &str) -> std::io::Result<Child> {
    if !command
        .as_std()
        .get_envs()
        .any(|(key, _)| key == "RUST_LOG")
    {
        command.env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        );
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(relay(name.to_owned(), stdout));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(relay(name.to_owned(), stderr));
    }
    Ok(child)
}

/// Copies an instance's output into the emulator's log, a line at a time.
async fn relay(function: String, output: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "function", "[{function}] {line}");
    }
}

/// The Azure Function App's package and its one binary, the custom handler.
pub const AZURE_HANDLER: (&str, &str) = ("azure-app", "handler");

/// Builds the functions' binaries with cargo, as `cargo run -p emulator` was built (the same
/// packages' features, so the build shares its artifacts; `--release` for a release emulator),
/// and returns their paths by binary name: the five Lambda functions', and the Azure Function
/// App's custom handler.
pub fn build_binaries() -> anyhow::Result<HashMap<String, PathBuf>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = std::process::Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--message-format", "json-render-diagnostics", "--bins"])
        .args(["-p", "emulator"]);
    for package in FUNCTIONS.iter().chain([&AZURE_HANDLER.0]) {
        command.args(["-p", package]);
    }
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| anyhow::anyhow!("could not run cargo to build the functions: {e}"))?;
    anyhow::ensure!(
        output.status.success(),
        "cargo could not build the functions ({})",
        output.status
    );
    let wanted: Vec<&str> = FUNCTIONS.iter().copied().chain([AZURE_HANDLER.1]).collect();
    let mut binaries = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(executable)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) && wanted.contains(&name)
        {
            binaries.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    for binary in wanted {
        anyhow::ensure!(
            binaries.contains_key(binary),
            "cargo built no binary named {binary}"
        );
    }
    Ok(binaries)
}

/// The binaries `names` in `dir`, laid out as `cargo lambda build` leaves them
/// (`{dir}/{name}/bootstrap`) or side by side (`{dir}/{name}`).
pub fn binaries_in(dir: &Path, names: &[String]) -> anyhow::Result<HashMap<String, PathBuf>> {
    names
        .iter()
        .map(|name| {
            let candidates = [dir.join(name).join("bootstrap"), dir.join(name)];
            candidates
                .into_iter()
                .find(|path| path.is_file())
                .map(|path| (name.clone(), path))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no binary for {name} in {} (looked for {name}/bootstrap and {name})",
                        dir.display()
                    )
                })
        })
        .collect()
}

/// The payment function as API Gateway's HTTP API calls it: payload 2.0 in, the proxy response
/// out; a function error or timeout is API Gateway's 500 or 503.
pub struct ProcessHttpFunction(pub Arc<LambdaFunction>);

#[async_trait]
impl HttpFunction for ProcessHttpFunction {
    async fn handle(&self, invocation: &Invocation, request: HttpRequest) -> HttpResponse {
        let event = api_gateway_event(invocation, &request);
        match self
            .0
            .invoke(event.to_string().into(), invocation.trace_id.clone())
            .await
        {
            Ok(answer) => proxy_response(&answer).unwrap_or_else(|| {
                tracing::warn!("the function's answer is not an API Gateway proxy response");
                gateway_error(StatusCode::BAD_GATEWAY, "Bad Gateway")
            }),
            Err(InvokeError::TimedOut(_)) => {
                gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
            Err(e) => {
                tracing::warn!("the payment function failed: {e}");
                gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

fn gateway_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "message": message }))
}

/// An HTTP API payload 2.0 event for `request` (routes `METHOD /path`, as `template.yaml`'s).
fn api_gateway_event(invocation: &Invocation, request: &HttpRequest) -> Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &request.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let (body, encoded) = match std::str::from_utf8(&request.body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&request.body),
            true,
        ),
    };
    let now = chrono::Utc::now();
    let route = format!("{} {}", request.method, request.path);
    let host = request.header("host").unwrap_or("localhost").to_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": request.method.as_str(),
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                "userAgent": request.header("user-agent").unwrap_or_default(),
            },
            "requestId": invocation.request_id,
            "routeKey": route,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": encoded,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !request.path_parameters.is_empty() {
        event["pathParameters"] = json!(request.path_parameters);
    }
    event
}

/// The HTTP response in an API Gateway proxy response (`statusCode`, `headers`, `cookies`,
/// `body`, `isBase64Encoded`).
fn proxy_response(answer: &[u8]) -> Option<HttpResponse> {
    let answer: Value = serde_json::from_slice(answer).ok()?;
    let status = StatusCode::from_u16(u16::try_from(answer["statusCode"].as_u64()?).ok()?).ok()?;
    let mut headers = HeaderMap::new();
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.append(name, value);
        }
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        if let Some(Ok(value)) = cookie.as_str().map(HeaderValue::from_str) {
            headers.append(http::header::SET_COOKIE, value);
        }
    }
    let body = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"] == true {
        Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()?,
        )
    } else {
        Bytes::copy_from_slice(body.as_bytes())
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// An SQS event for a batch, as Lambda's event source mapping sends it.
pub fn sqs_event(queue_arn: &str, batch: &[(QueueMessage, &str, i64)]) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|(message, receipt_handle, sent_at_ms)| {
            let mut attributes = json!({
                "ApproximateReceiveCount": message.receive_count.to_string(),
                "SentTimestamp": sent_at_ms.to_string(),
                "SenderId": ACCOUNT,
                "ApproximateFirstReceiveTimestamp": chrono::Utc::now().timestamp_millis().to_string(),
            });
            let mut message_attributes = serde_json::Map::new();
            for (name, value) in &message.attributes {
                if name == clients::publisher::TRACE_ATTRIBUTE {
                    attributes[name] = json!(value);
                } else {
                    message_attributes.insert(
                        name.clone(),
                        json!({ "stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String" }),
                    );
                }
            }
            json!({
                "messageId": message.message_id,
                "receiptHandle": receipt_handle,
                "body": message.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": format!("{:x}", <md5::Md5 as md5::Digest>::digest(message.body.as_bytes())),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_becomes_the_http_api_event_lambda_http_reads() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        let request = HttpRequest {
            method: http::Method::POST,
            path: "/api/registrations".into(),
            query: "a=1".into(),
            path_parameters: Default::default(),
            source_ip: Some("10.0.0.1".parse().expect("an address")),
            headers,
            body: Bytes::from_static(b"{}"),
        };
        let invocation = Invocation::local("payment", Duration::from_secs(1), None);
        let event = api_gateway_event(&invocation, &request);
        let parsed: lambda_http::request::LambdaRequest =
            serde_json::from_value(event.clone()).expect("lambda_http reads it");
        assert!(matches!(
            parsed,
            lambda_http::request::LambdaRequest::ApiGatewayV2(_)
        ));
        assert_eq!(event["headers"]["x-a"], "1,2");
        assert_eq!(event["routeKey"], "POST /api/registrations");
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "10.0.0.1");
    }

    #[test]
    fn a_proxy_response_becomes_the_http_response() {
        let answer = json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json"},
            "cookies": ["a=1"],
            "body": "eyJvayI6dHJ1ZX0=",
            "isBase64Encoded": true
        });
        let response = proxy_response(answer.to_string().as_bytes()).expect("a response");
        assert_eq!(response.status, StatusCode::CREATED);
        assert_eq!(response.body, Bytes::from_static(b"{\"ok\":true}"));
        assert_eq!(response.headers["set-cookie"], "a=1");
        assert!(proxy_response(b"{}").is_none());
    }
}
