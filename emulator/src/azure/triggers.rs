//! The Functions host's side of an invocation: the HTTP trigger behind the gateway's routes, the
//! Service Bus trigger polling its queue, and the output bindings applied after a successful
//! invocation, with the payloads the host sends (Microsoft Learn, "Azure Functions custom
//! handlers", its request and response payloads:
//! <https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers>).
//!
//! Service Bus semantics over the durable queue: a message is received under a peek-lock
//! (invisible for the queue's lock duration, the lock renewed while the invocation runs, as the
//! host's `maxAutoLockRenewalDuration` does), completed (deleted) when the invocation succeeds and
//! its outputs are sent, abandoned (visible again at once) when it fails, and dead-lettered to
//! `<queue>/$DeadLetterQueue` when its `maxDeliveryCount`th delivery fails (reason
//! `MaxDeliveryCountExceeded`, the failure as its description). The host's
//! metadata comes with it: `MessageId`, `DeliveryCount`, `EnqueuedTimeUtc`, the application
//! properties; scalars JSON-encoded, as the host encodes them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use durable::Queue;
use durable::queue::ReceivedMessage;
use function_model::azure::{HTTP_REQUEST, HTTP_RESPONSE, QUEUE_MESSAGE};
use function_model::{HttpFunction, HttpRequest, HttpResponse, Invocation};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

use super::handler::CustomHandler;
use crate::local_providers::faults::{Fault, Faults};

/// Output bindings to queues: binding name and queue.
pub type QueueOutputs = Vec<(String, Arc<Queue>)>;

/// The `sys` metadata the host adds to every invocation.
fn sys(function: &str) -> Value {
    json!({
        "MethodName": function,
        "UtcNow": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "RandGuid": uuid::Uuid::new_v4().to_string(),
    })
}

/// The host's encoding of a string scalar: JSON text (`abc` as `"abc"`, quotes included).
fn encoded(text: &str) -> Value {
    Value::String(Value::String(text.to_owned()).to_string())
}

/// The W3C trace context property the Service Bus SDKs and the host's output binding set on a
/// message: the invocation's `traceparent`.
const DIAGNOSTIC_ID: &str = "Diagnostic-Id";

/// A new W3C `traceparent`: version 00, a random trace id and parent id, sampled.
fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!("00-{trace}-{}-01", &parent[..16])
}

/// Sends what the invocation wrote to its queue outputs (one message per value; an array is
/// several), with the invocation's trace as `Diagnostic-Id`, as the host's output binding does.
/// An object is sent as its JSON text, a string as itself.
async fn send_outputs(
    outputs: &QueueOutputs,
    response: &Value,
    traceparent: Option<&str>,
) -> anyhow::Result<()> {
    let attributes: BTreeMap<String, String> = traceparent
        .map(|trace| (DIAGNOSTIC_ID.to_owned(), trace.to_owned()))
        .into_iter()
        .collect();
    for (binding, queue) in outputs {
        let values = match &response["Outputs"][binding] {
            Value::Null => continue,
            Value::Array(values) => values.clone(),
            value => vec![value.clone()],
        };
        for value in values {
            let body = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            queue
                .send(body, attributes.clone(), None)
                .await
                .map_err(|e| anyhow::anyhow!("the output {binding} to {}: {e}", queue.name()))?;
        }
    }
    Ok(())
}

/// An HTTP-triggered function, behind the gateway.
pub struct HttpTrigger {
    pub function: String,
    pub handler: Arc<CustomHandler>,
    pub outputs: QueueOutputs,
    pub timeout: Duration,
}

/// The `httpTrigger` binding's value: the request as the host describes it.
fn request_data(request: &HttpRequest) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    for name in request.headers.keys() {
        let values: Vec<Value> = request
            .headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        headers.insert(name.to_string(), Value::Array(values));
    }
    // App Service's front end: the client's address in `Client-IP` and as the last
    // `X-Forwarded-For` entry, whatever the client sent as either.
    if let Some(ip) = request.source_ip {
        headers.insert("client-ip".into(), json!([format!("{ip}:0")]));
        let mut forwarded: Vec<String> = request
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        forwarded.push(format!("{ip}:0"));
        headers.insert("x-forwarded-for".into(), json!([forwarded.join(", ")]));
    }
    let host = request.header("host").unwrap_or("localhost");
    let query: Map<String, Value> = request
        .query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
        .collect();
    let mut url = format!("http://{host}{}", request.path);
    if !request.query.is_empty() {
        url = format!("{url}?{}", request.query);
    }
    let mut data = json!({
        "Url": url,
        "Method": request.method.as_str(),
        "Query": query,
        "Headers": headers,
        "Params": request.path_parameters,
        "Identities": [],
    });
    if !request.body.is_empty() {
        data["Body"] = Value::String(String::from_utf8_lossy(&request.body).into_owned());
    }
    data
}

/// The `http` output as the response.
fn response_of(output: &Value) -> Option<HttpResponse> {
    let status = StatusCode::from_u16(u16::try_from(output["statusCode"].as_u64()?).ok()?).ok()?;
    let mut headers = HeaderMap::new();
    for (name, value) in output["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::try_from(name.as_str()),
            value.as_str().map(HeaderValue::try_from),
        ) {
            headers.insert(name, value);
        }
    }
    let body = match &output["body"] {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Some(HttpResponse {
        status,
        headers,
        body: body.into(),
    })
}

#[async_trait]
impl HttpFunction for HttpTrigger {
    async fn handle(&self, _invocation: &Invocation, request: HttpRequest) -> HttpResponse {
        let failed = || HttpResponse {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            headers: HeaderMap::new(),
            body: Default::default(),
        };
        // The host's trace of the invocation: the caller's `traceparent`, or a new one.
        let traceparent = request
            .header("traceparent")
            .map_or_else(new_traceparent, str::to_owned);
        let mut data = request_data(&request);
        data["Headers"]["traceparent"] = json!([traceparent]);
        let payload = json!({
            "Data": { HTTP_REQUEST: data },
            "Metadata": { "sys": sys(&self.function) },
        });
        let answer = match self
            .handler
            .invoke(&self.function, &payload, self.timeout)
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(function = %self.function, "{e}");
                return failed();
            }
        };
        // The outputs go out before the caller hears the answer: a 201 means the order is queued.
        if let Err(e) = send_outputs(&self.outputs, &answer, Some(&traceparent)).await {
            tracing::error!(function = %self.function, "could not send the outputs: {e:#}");
            return failed();
        }
        response_of(&answer["Outputs"][HTTP_RESPONSE]).unwrap_or_else(|| {
            tracing::warn!(function = %self.function, "the invocation set no valid http output {HTTP_RESPONSE:?}");
            failed()
        })
    }
}

/// A Service Bus-triggered function and its queue.
pub struct ServiceBusTrigger {
    pub function: String,
    pub queue: Arc<Queue>,
    pub handler: Arc<CustomHandler>,
    pub outputs: QueueOutputs,
    pub lock_duration: Duration,
    pub timeout: Duration,
    pub max_concurrent_calls: usize,
    pub drain_timeout: Duration,
    pub faults: Arc<Faults>,
}

/// Long-poll wait per receive (short keeps shutdown prompt).
const WAIT: Duration = Duration::from_secs(1);

impl ServiceBusTrigger {
    /// Delivers messages, up to `max_concurrent_calls` at once, until `shutdown`; then waits for
    /// the invocations in flight (up to the drain timeout: a message left locked is delivered
    /// again after its lock expires).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.max_concurrent_calls));
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("never closed"),
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let received = tokio::select! {
                received = self.queue.receive_wait(1, Some(self.lock_duration), WAIT) => received,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            match received {
                Ok(messages) => {
                    if let Some(message) = messages.into_iter().next() {
                        let trigger = self.clone();
                        let span = tracing::info_span!("delivery", function = %self.function, message_id = %message.message_id);
                        tokio::spawn(
                            async move {
                                trigger.deliver(message).await;
                                drop(slot);
                            }
                            .instrument(span),
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = self.queue.name(), "could not receive: {e}");
                    tokio::time::sleep(WAIT).await;
                }
            }
        }
        let all = u32::try_from(self.max_concurrent_calls).unwrap_or(u32::MAX);
        if tokio::time::timeout(self.drain_timeout, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(function = %self.function, "invocations still running at shutdown: their messages are delivered again");
        }
    }

    /// The host's payload for one message.
    fn payload(&self, message: &ReceivedMessage) -> Value {
        let properties: Map<String, Value> = message
            .attributes
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        json!({
            "Data": { QUEUE_MESSAGE: encoded(&message.body) },
            "Metadata": {
                "MessageId": encoded(&message.message_id),
                "DeliveryCount": message.receive_count.to_string(),
                "EnqueuedTimeUtc": message.sent_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "ContentType": Value::Null,
                "ApplicationProperties": properties.clone(),
                "UserProperties": properties,
                "sys": sys(&self.function),
            },
        })
    }

    /// Makes the message visible again at once, for its next delivery; or, if this was its
    /// `maxDeliveryCount`th, moves it to the dead-letter queue with Service Bus's reason and the
    /// failure as its description.
    async fn abandon(&self, message: &ReceivedMessage, why: &str) {
        let last = self
            .queue
            .config()
            .redrive
            .as_ref()
            .is_some_and(|redrive| message.receive_count >= redrive.max_receive_count);
        if last {
            tracing::warn!(delivery = message.receive_count, "dead-lettered: {why}");
            match self
                .queue
                .dead_letter_now(&message.receipt_handle, "MaxDeliveryCountExceeded", why)
                .await
            {
                Ok(()) => return,
                Err(e) => tracing::warn!("could not dead-letter the message: {e}"),
            }
        }
        tracing::warn!(delivery = message.receive_count, "abandoned: {why}");
        if let Err(e) = self
            .queue
            .change_visibility(&message.receipt_handle, Duration::ZERO)
            .await
        {
            tracing::warn!(
                "could not abandon the message (it comes back when its lock expires): {e}"
            );
        }
    }

    async fn deliver(&self, message: ReceivedMessage) {
        match self.faults.next(&self.function) {
            Some(Fault::Fail { .. }) => {
                return self
                    .abandon(&message, "the invocation failed (injected fault)")
                    .await;
            }
            Some(Fault::Timeout) => {
                tokio::time::sleep(self.timeout).await;
                let why = format!("timed out after {:?} (injected fault)", self.timeout);
                return self.abandon(&message, &why).await;
            }
            Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
            None => {}
        }
        let payload = self.payload(&message);
        let renewals = async {
            let mut every = tokio::time::interval(self.lock_duration / 2);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(e) = self
                    .queue
                    .change_visibility(&message.receipt_handle, self.lock_duration)
                    .await
                {
                    tracing::warn!("could not renew the message's lock: {e}");
                }
            }
        };
        let answer = tokio::select! {
            answer = self.handler.invoke(&self.function, &payload, self.timeout) => answer,
            () = renewals => unreachable!("lock renewals never end"),
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => return self.abandon(&message, &e.to_string()).await,
        };
        let trace = message.attributes.get(DIAGNOSTIC_ID).map(String::as_str);
        if let Err(e) = send_outputs(&self.outputs, &answer, trace).await {
            return self.abandon(&message, &format!("{e:#}")).await;
        }
        if let Err(e) = self.queue.delete(&message.receipt_handle).await {
            tracing::warn!("could not complete the message; it is delivered again: {e}");
        }
    }
}
