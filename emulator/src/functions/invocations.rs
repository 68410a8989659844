//! What the emulator keeps of the recent invocations of functions run as their binaries, for one
//! registration's story in the inspector: each invocation's function, request id, the orders it
//! was about, its trace id, start, duration and outcome, the SQS messages it was handed, and the
//! log lines it printed.
//!
//! Lines are attributed by the `requestId` each carries: the functions log one JSON object per
//! line when `AWS_LAMBDA_LOG_FORMAT=JSON` (the template's `LoggingConfig`, as Lambda sets it), with
//! `lambda_runtime`'s invocation span and its `requestId`. So no invocation waits for its lines:
//! a line that comes through the pipe after the answer still joins its invocation. Plain-text
//! lines name no invocation and are kept by none.
//!
//! Bounded: the newest [`KEPT`] invocations, in memory (a story is for the developer's loop, not
//! an audit log; the durable records are the queues, executions and provider records).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// How many invocations are kept, the oldest dropped first.
pub const KEPT: usize = 5_000;

/// One line an invocation printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub timestamp: Option<String>,
    pub level: Option<String>,
    pub message: String,
}

/// An SQS message as its consumer's event carried it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredMessage {
    pub message_id: String,
    pub queue: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub first_received_at: Option<DateTime<Utc>>,
    /// How many times it was delivered, this delivery included.
    pub receive_count: u64,
    pub order_ids: Vec<String>,
}

/// One invocation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    pub request_id: String,
    pub function: String,
    /// The orders its event or its answer named (`orderId`, `registrationId`).
    pub order_ids: Vec<String>,
    pub trace_id: Option<String>,
    pub started_at: DateTime<Utc>,
    /// `None` while it runs.
    pub duration_ms: Option<f64>,
    /// `None` while it runs, `"ok"`, or the error type (`Sandbox.Timedout`, …).
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub messages: Vec<DeliveredMessage>,
    pub log: Vec<LogLine>,
}

#[derive(Default)]
struct Kept {
    order: VecDeque<String>,
    by_request: HashMap<String, Invocation>,
}

/// The recent invocations; see the module documentation.
#[derive(Default)]
pub struct Invocations {
    kept: Mutex<Kept>,
}

impl Invocations {
    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An invocation begins with `event`.
    pub fn begin(&self, request_id: &str, function: &str, trace_id: Option<&str>, event: &[u8]) {
        let event: Value = serde_json::from_slice(event).unwrap_or_default();
        let mut order_ids = Vec::new();
        collect_order_ids(&event, &mut order_ids, 0);
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            function: function.to_owned(),
            order_ids,
            trace_id: trace_id.map(str::to_owned),
            started_at: Utc::now(),
            duration_ms: None,
            outcome: None,
            error: None,
            messages: sqs_messages(&event),
            log: Vec::new(),
        };
        let mut kept = self.kept();
        kept.order.push_back(request_id.to_owned());
        kept.by_request.insert(request_id.to_owned(), invocation);
        while kept.order.len() > KEPT {
            if let Some(oldest) = kept.order.pop_front() {
                kept.by_request.remove(&oldest);
            }
        }
    }

    /// It ended: `outcome` is `Ok(answer)` or `Err((error type, message))`.
    pub fn end(&self, request_id: &str, duration_ms: f64, outcome: Result<&[u8], (&str, &str)>) {
        let mut kept = self.kept();
        let Some(invocation) = kept.by_request.get_mut(request_id) else {
            return;
        };
        invocation.duration_ms = Some(duration_ms);
        match outcome {
            Ok(answer) => {
                invocation.outcome = Some("ok".to_owned());
                let answer: Value = serde_json::from_slice(answer).unwrap_or_default();
                let mut found = Vec::new();
                collect_order_ids(&answer, &mut found, 0);
                for id in found {
                    if !invocation.order_ids.contains(&id) {
                        invocation.order_ids.push(id);
                    }
                }
            }
            Err((error_type, message)) => {
                invocation.outcome = Some(error_type.to_owned());
                invocation.error = Some(message.to_owned());
            }
        }
    }

    /// A JSON line a function printed ([`json_line`]): kept with its invocation when it names
    /// one (a `requestId` at its top or in one of its spans).
    pub fn printed(&self, line: &Value) {
        let Some(request_id) = request_id(line) else {
            return;
        };
        let logged = LogLine {
            timestamp: line["timestamp"].as_str().map(str::to_owned),
            level: line["level"].as_str().map(str::to_owned),
            message: message(line),
        };
        if let Some(invocation) = self.kept().by_request.get_mut(request_id) {
            invocation.log.push(logged);
        }
    }

    /// The order of the newest kept invocation traced as `trace_id` that names one (the POST's
    /// trace id leads to its registration).
    pub fn order_traced_as(&self, trace_id: &str) -> Option<String> {
        let kept = self.kept();
        kept.order
            .iter()
            .rev()
            .filter_map(|id| kept.by_request.get(id))
            .filter(|invocation| invocation.trace_id.as_deref() == Some(trace_id))
            .find_map(|invocation| invocation.order_ids.first().cloned())
    }

    /// The kept invocations about `order_id`, oldest first.
    pub fn of_order(&self, order_id: &str) -> Vec<Invocation> {
        let kept = self.kept();
        kept.order
            .iter()
            .filter_map(|id| kept.by_request.get(id))
            .filter(|invocation| invocation.order_ids.iter().any(|id| id == order_id))
            .cloned()
            .collect()
    }
}

/// A printed line as JSON, when it is a JSON object (each line is parsed once, for both uses).
pub fn json_line(line: &str) -> Option<Value> {
    line.starts_with('{')
        .then(|| serde_json::from_str(line).ok())
        .flatten()
}

/// The invocation a JSON log line names: its `requestId`, at the top (Lambda's own lines) or in
/// one of its spans (`spans`, as `tracing-subscriber` writes them; or the current `span`).
fn request_id(line: &Value) -> Option<&str> {
    line["requestId"]
        .as_str()
        .or(line["span"]["requestId"].as_str())
        .or_else(|| {
            line["spans"]
                .as_array()?
                .iter()
                .rev()
                .find_map(|span| span["requestId"].as_str())
        })
}

/// A JSON log line's message and fields (`fields.message` and the rest of `fields`, as
/// `tracing-subscriber` writes them; or Lambda's own `message`).
fn message(line: &Value) -> String {
    let message = line["fields"]["message"]
        .as_str()
        .or(line["message"].as_str())
        .unwrap_or_default();
    let fields = line["fields"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != "message")
        .map(|(key, value)| match value {
            Value::String(text) => format!("{key}={text}"),
            other => format!("{key}={other}"),
        });
    std::iter::once(message.to_owned())
        .chain(fields)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A JSON log line as a person reads it in the terminal: `LEVEL message fields (request id)`.
pub fn readable(line: &Value) -> String {
    let level = line["level"].as_str().unwrap_or("INFO");
    let request = request_id(line)
        .map(|id| format!(" (request {id})"))
        .unwrap_or_default();
    format!("{level} {}{request}", message(line))
}

/// The order ids in a JSON document: the values of `orderId` and `registrationId`, also inside
/// strings that hold JSON (an HTTP body, an SQS message's body).
fn collect_order_ids(value: &Value, into: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("orderId" | "registrationId", Value::String(id)) => {
                        if !into.contains(id) {
                            into.push(id.clone());
                        }
                    }
                    _ => collect_order_ids(value, into, depth + 1),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_order_ids(item, into, depth + 1);
            }
        }
        Value::String(text) if text.starts_with('{') => {
            if let Ok(inner) = serde_json::from_str::<Value>(text) {
                collect_order_ids(&inner, into, depth + 1);
            }
        }
        _ => {}
    }
}

/// The messages of an SQS event (`Records` whose `eventSource` is `aws:sqs`).
fn sqs_messages(event: &Value) -> Vec<DeliveredMessage> {
    let millis = |value: &Value| {
        value
            .as_str()
            .and_then(|text| text.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis)
    };
    event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|record| record["eventSource"] == "aws:sqs")
        .map(|record| {
            let attributes = &record["attributes"];
            let mut order_ids = Vec::new();
            collect_order_ids(&record["body"], &mut order_ids, 0);
            DeliveredMessage {
                message_id: record["messageId"].as_str().unwrap_or_default().to_owned(),
                queue: record["eventSourceARN"]
                    .as_str()
                    .and_then(|arn| arn.rsplit(':').next())
                    .unwrap_or_default()
                    .to_owned(),
                sent_at: millis(&attributes["SentTimestamp"]),
                first_received_at: millis(&attributes["ApproximateFirstReceiveTimestamp"]),
                receive_count: attributes["ApproximateReceiveCount"]
                    .as_str()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
                order_ids,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn printed(invocations: &Invocations, line: &str) {
        invocations.printed(&json_line(line).expect("a JSON line"));
    }

    #[test]
    fn an_invocation_is_found_by_the_orders_of_its_event_and_answer_with_its_lines() {
        let invocations = Invocations::default();
        let sqs = json!({"Records": [{
            "eventSource": "aws:sqs", "messageId": "m-1",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:RegistrationsQueue",
            "body": "{\"orderId\":\"o-1\"}",
            "attributes": {"SentTimestamp": "1700000000000", "ApproximateReceiveCount": "2",
                           "ApproximateFirstReceiveTimestamp": "1700000000100"}
        }]});
        invocations.begin("r-1", "orchestrator", None, sqs.to_string().as_bytes());
        invocations.begin("r-2", "payment", Some("Root=1-a"), b"{\"body\":\"{}\"}");
        invocations.end(
            "r-2",
            12.5,
            Ok(br#"{"statusCode":201,"body":"{\"registrationId\":\"o-1\"}"}"#),
        );
        printed(
            &invocations,
            r#"{"timestamp":"t","level":"INFO","fields":{"message":"paid","order_id":"o-1"},"span":{"requestId":"r-2"}}"#,
        );
        printed(
            &invocations,
            r#"{"level":"WARN","fields":{"message":"nested"},"spans":[{"name":"invocation","requestId":"r-1"},{"name":"orchestrate"}]}"#,
        );
        printed(
            &invocations,
            r#"{"level":"INFO","fields":{"message":"elsewhere"},"span":{"requestId":"r-9"}}"#,
        );

        let story = invocations.of_order("o-1");
        let functions: Vec<&str> = story.iter().map(|i| i.function.as_str()).collect();
        assert_eq!(functions, ["orchestrator", "payment"]);
        assert_eq!(story[0].messages[0].queue, "RegistrationsQueue");
        assert_eq!(story[0].messages[0].receive_count, 2);
        assert_eq!(story[0].outcome, None, "still running");
        assert_eq!(story[0].log[0].message, "nested", "found in its spans");
        assert_eq!(story[1].outcome.as_deref(), Some("ok"));
        assert_eq!(story[1].log.len(), 1);
        assert_eq!(story[1].log[0].message, "paid order_id=o-1");
        assert!(invocations.of_order("o-2").is_empty());
        assert_eq!(
            invocations.order_traced_as("Root=1-a").as_deref(),
            Some("o-1")
        );
        assert_eq!(invocations.order_traced_as("Root=1-b"), None);
        assert_eq!(json_line("plain text is no JSON line"), None);
    }

    #[test]
    fn only_the_newest_are_kept() {
        let invocations = Invocations::default();
        for n in 0..=KEPT {
            invocations.begin(&format!("r-{n}"), "f", None, br#"{"orderId":"o"}"#);
        }
        let kept = invocations.of_order("o");
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0].request_id, "r-1", "the oldest went first");
    }
}
