//! Amazon SQS over the JSON protocol, on the emulator's durable queues (`durable::Queue`, which
//! keeps SQS's semantics: visibility timeouts, receive counts and receipt handles, redrive to a
//! dead-letter queue, delays, long polling).
//!
//! Operations: `SendMessage`, `SendMessageBatch`, `ReceiveMessage`, `DeleteMessage`,
//! `DeleteMessageBatch`, `ChangeMessageVisibility`, `GetQueueUrl`, `GetQueueAttributes`,
//! `ListQueues`, `PurgeQueue`. Queues are those of the topology (no `CreateQueue`). A queue URL
//! is `http://{emulator}/000000000000/{name}`; any URL whose last segment names a queue is
//! accepted, as the URL is only a name under the JSON protocol.
//!
//! SQS's limits on what a call sends (sizes, characters, attributes, batches, ranges) are checked
//! as SQS checks them (`limits`). Not reproduced: message attributes other than `String` (a
//! valid `Number` or `Binary` one is refused, not kept), FIFO parameters, and a queue's own
//! `MaximumMessageSize` (the topology's queues take SQS's default, 1 MiB).

use std::collections::BTreeMap;
use std::sync::Arc;

use durable::Queue;
use durable::queue::ReceivedMessage;
use serde::Deserialize;
use serde_json::{Map, Value, json};

mod attributes;
mod errors;
mod limits;

use crate::aws::api::protocol::{AwsError, AwsResult, input};
use crate::names::{queue_arn, queue_url};
use crate::state::Services;
use attributes::{
    AttributeValue, TRACE_HEADER, asked, md5_hex, md5_of_attributes, message_attributes,
    stored_attributes,
};
use errors::{internal, queue_does_not_exist};
use limits::{MAX_MESSAGE_SIZE, check_batch, check_batch_size, check_message, message_size};

pub(crate) async fn call(
    services: &Services,
    host: &str,
    operation: &str,
    body: Value,
) -> AwsResult {
    let queues = &services.queues;
    match operation {
        "SendMessage" => send_message(queues, input(body)?).await,
        "SendMessageBatch" => send_message_batch(queues, input(body)?).await,
        "ReceiveMessage" => receive_message(queues, input(body)?).await,
        "DeleteMessage" => delete_message(queues, input(body)?).await,
        "DeleteMessageBatch" => delete_message_batch(queues, input(body)?).await,
        "ChangeMessageVisibility" => change_message_visibility(queues, input(body)?).await,
        "GetQueueUrl" => get_queue_url(queues, host, input(body)?),
        "GetQueueAttributes" => get_queue_attributes(queues, input(body)?).await,
        "ListQueues" => list_queues(queues, host, input(body)?),
        "PurgeQueue" => purge_queue(queues, input(body)?).await,
        other => Err(AwsError::sqs(
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            format!("The emulator does not serve SQS {other}"),
        )),
    }
}

/// The queue a URL names (its last path segment).
fn queue<'a>(queues: &'a [Arc<Queue>], url: &str) -> Result<&'a Arc<Queue>, AwsError> {
    let name = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    queues
        .iter()
        .find(|queue| queue.name() == name)
        .ok_or_else(queue_does_not_exist)
}

fn url(host: &str, name: &str) -> String {
    queue_url(&format!("http://{host}"), name)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendMessage {
    queue_url: String,
    message_body: String,
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: BTreeMap<String, AttributeValue>,
    #[serde(default)]
    message_system_attributes: BTreeMap<String, AttributeValue>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendEntry {
    id: String,
    message_body: String,
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: BTreeMap<String, AttributeValue>,
    #[serde(default)]
    message_system_attributes: BTreeMap<String, AttributeValue>,
}

/// Checks one message against SQS's limits, then sends it and answers with its id and digests.
async fn send(
    queue: &Queue,
    body: String,
    delay_seconds: Option<i64>,
    user_attributes: BTreeMap<String, AttributeValue>,
    system_attributes: BTreeMap<String, AttributeValue>,
) -> Result<Map<String, Value>, AwsError> {
    check_message(&body, &user_attributes)?;
    let delay = limits::delay_seconds(delay_seconds)?;
    let attributes = stored_attributes(user_attributes, system_attributes)?;
    let md5_of_body = md5_hex(body.as_bytes());
    let digested = message_attributes(&attributes);
    let message_id = queue
        .send(body, attributes, delay)
        .await
        .map_err(internal)?;
    let mut answer = Map::new();
    answer.insert("MessageId".into(), json!(message_id));
    answer.insert("MD5OfMessageBody".into(), json!(md5_of_body));
    if !digested.is_empty() {
        answer.insert(
            "MD5OfMessageAttributes".into(),
            json!(md5_of_attributes(&digested)),
        );
    }
    Ok(answer)
}

async fn send_message(queues: &[Arc<Queue>], request: SendMessage) -> AwsResult {
    let queue = queue(queues, &request.queue_url)?;
    let answer = send(
        queue,
        request.message_body,
        request.delay_seconds,
        request.message_attributes,
        request.message_system_attributes,
    )
    .await?;
    Ok(Value::Object(answer))
}

/// A batch entry that failed, as `Failed` lists it.
fn failed_entry(id: &str, error: &AwsError) -> Value {
    json!({
        "Id": id,
        "SenderFault": error.status.is_client_error(),
        "Code": error.query_code.unwrap_or(error.code),
        "Message": error.message,
    })
}

async fn send_message_batch(queues: &[Arc<Queue>], request: Batch<SendEntry>) -> AwsResult {
    let queue = queue(queues, &request.queue_url)?;
    check_batch(request.entries.iter().map(|entry| entry.id.as_str()))?;
    check_batch_size(
        request
            .entries
            .iter()
            .map(|entry| message_size(&entry.message_body, &entry.message_attributes))
            .sum(),
    )?;
    let (mut successful, mut failed) = (Vec::new(), Vec::new());
    for entry in request.entries {
        let sent = send(
            queue,
            entry.message_body,
            entry.delay_seconds,
            entry.message_attributes,
            entry.message_system_attributes,
        )
        .await;
        match sent {
            Ok(mut answer) => {
                answer.insert("Id".into(), json!(entry.id));
                successful.push(Value::Object(answer));
            }
            Err(e) if e.status.is_client_error() => failed.push(failed_entry(&entry.id, &e)),
            Err(e) => return Err(e),
        }
    }
    Ok(json!({ "Successful": successful, "Failed": failed }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Batch<T> {
    queue_url: String,
    entries: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveMessage {
    queue_url: String,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
}

/// One received message, with the system attributes and message attributes asked for.
fn received(message: ReceivedMessage, system: &[String], user: &[String]) -> Value {
    let millis = |at: chrono::DateTime<chrono::Utc>| at.timestamp_millis().to_string();
    let mut attributes = BTreeMap::from([
        ("SentTimestamp", millis(message.sent_at)),
        ("ApproximateReceiveCount", message.receive_count.to_string()),
        (
            "ApproximateFirstReceiveTimestamp",
            millis(message.first_received_at),
        ),
        ("SenderId", crate::names::ACCOUNT.to_owned()),
    ]);
    if let Some(trace) = message.attributes.get(TRACE_HEADER) {
        attributes.insert(TRACE_HEADER, trace.clone());
    }
    attributes.retain(|name, _| system.iter().any(|asked| asked == "All" || asked == name));
    let user_attributes: BTreeMap<String, String> = message_attributes(&message.attributes)
        .into_iter()
        .filter(|(name, _)| asked(user, name))
        .collect();
    let mut answer = json!({
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": md5_hex(message.body.as_bytes()),
        "Body": message.body,
    });
    if !attributes.is_empty() {
        answer["Attributes"] = json!(attributes);
    }
    if !user_attributes.is_empty() {
        answer["MD5OfMessageAttributes"] = json!(md5_of_attributes(&user_attributes));
        answer["MessageAttributes"] = user_attributes
            .into_iter()
            .map(|(name, value)| (name, json!({ "DataType": "String", "StringValue": value })))
            .collect::<Map<_, _>>()
            .into();
    }
    answer
}

async fn receive_message(queues: &[Arc<Queue>], request: ReceiveMessage) -> AwsResult {
    let queue = queue(queues, &request.queue_url)?;
    let max = limits::max_number_of_messages(request.max_number_of_messages)?;
    let visibility = limits::visibility_timeout(request.visibility_timeout)?;
    let wait = limits::wait_time_seconds(request.wait_time_seconds)?.unwrap_or_default();
    let messages = if wait.is_zero() {
        queue.receive(max, visibility).await
    } else {
        queue.receive_wait(max, visibility, wait).await
    }
    .map_err(internal)?;
    let system: Vec<String> = request
        .attribute_names
        .into_iter()
        .chain(request.message_system_attribute_names)
        .collect();
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|message| received(message, &system, &request.message_attribute_names))
        .collect();
    Ok(json!({ "Messages": messages }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteMessage {
    queue_url: String,
    receipt_handle: String,
}

async fn delete_message(queues: &[Arc<Queue>], request: DeleteMessage) -> AwsResult {
    let queue = queue(queues, &request.queue_url)?;
    queue
        .delete(&request.receipt_handle)
        .await
        .map_err(internal)?;
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteEntry {
    id: String,
    receipt_handle: String,
}

async fn delete_message_batch(queues: &[Arc<Queue>], request: Batch<DeleteEntry>) -> AwsResult {
    let queue = queue(queues, &request.queue_url)?;
    check_batch(request.entries.iter().map(|entry| entry.id.as_str()))?;
    let (mut successful, mut failed) = (Vec::new(), Vec::new());
    for entry in request.entries {
        match queue.delete(&entry.receipt_handle).await.map_err(internal) {
            Ok(()) => successful.push(json!({ "Id": entry.id })),
            Err(e) if e.status.is_client_error() => failed.push(failed_entry(&entry.id, &e)),
            Err(e) => return Err(e),
        }
    }
    Ok(json!({ "Successful": successful, "Failed": failed }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChangeMessageVisibility {
    queue_url: String,
    receipt_handle: String,
    visibility_timeout: i64,
}

async fn change_message_visibility(
    queues: &[Arc<Queue>],
    request: ChangeMessageVisibility,
) -> AwsResult {
    let queue = queue(queues, &request.queue_url)?;
    let timeout = limits::visibility_timeout(Some(request.visibility_timeout))?.unwrap_or_default();
    queue
        .change_visibility(&request.receipt_handle, timeout)
        .await
        .map_err(internal)?;
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueUrl {
    queue_name: String,
}

fn get_queue_url(queues: &[Arc<Queue>], host: &str, request: GetQueueUrl) -> AwsResult {
    let queue = queues
        .iter()
        .find(|queue| queue.name() == request.queue_name)
        .ok_or_else(queue_does_not_exist)?;
    Ok(json!({ "QueueUrl": url(host, queue.name()) }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueAttributes {
    queue_url: String,
    #[serde(default)]
    attribute_names: Vec<String>,
}

/// The attributes `GetQueueAttributes` answers (SQS's defaults for what the emulator does not
/// model: retention, size, long-polling default).
const QUEUE_ATTRIBUTES: [&str; 10] = [
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "VisibilityTimeout",
    "DelaySeconds",
    "RedrivePolicy",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
];

async fn get_queue_attributes(queues: &[Arc<Queue>], request: GetQueueAttributes) -> AwsResult {
    let queue = queue(queues, &request.queue_url)?;
    if let Some(unknown) = request
        .attribute_names
        .iter()
        .find(|name| *name != "All" && !QUEUE_ATTRIBUTES.contains(&name.as_str()))
    {
        return Err(AwsError::sqs(
            "InvalidAttributeName",
            "InvalidAttributeName",
            format!("Unknown Attribute {unknown}."),
        ));
    }
    let stats = queue.stats().await.map_err(internal)?;
    let config = queue.config();
    let mut attributes = Map::new();
    let mut set = |name: &str, value: String| {
        if request
            .attribute_names
            .iter()
            .any(|asked| asked == "All" || asked == name)
        {
            attributes.insert(name.to_owned(), json!(value));
        }
    };
    set("QueueArn", queue_arn(queue.name()));
    set("ApproximateNumberOfMessages", stats.visible.to_string());
    set(
        "ApproximateNumberOfMessagesNotVisible",
        stats.in_flight.to_string(),
    );
    set(
        "ApproximateNumberOfMessagesDelayed",
        stats.delayed.to_string(),
    );
    set(
        "VisibilityTimeout",
        config.visibility_timeout.as_secs().to_string(),
    );
    set("DelaySeconds", config.delay.as_secs().to_string());
    if let Some(redrive) = &config.redrive {
        let policy = json!({
            "deadLetterTargetArn": queue_arn(redrive.dead_letter_queue.name()),
            "maxReceiveCount": redrive.max_receive_count,
        });
        set("RedrivePolicy", policy.to_string());
    }
    set("ReceiveMessageWaitTimeSeconds", "0".into());
    set("MaximumMessageSize", MAX_MESSAGE_SIZE.to_string());
    set("MessageRetentionPeriod", "345600".into());
    Ok(json!({ "Attributes": attributes }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListQueues {
    queue_name_prefix: Option<String>,
}

fn list_queues(queues: &[Arc<Queue>], host: &str, request: ListQueues) -> AwsResult {
    let prefix = request.queue_name_prefix.unwrap_or_default();
    let urls: Vec<String> = queues
        .iter()
        .filter(|queue| queue.name().starts_with(&prefix))
        .map(|queue| url(host, queue.name()))
        .collect();
    Ok(json!({ "QueueUrls": urls }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PurgeQueue {
    queue_url: String,
}

async fn purge_queue(queues: &[Arc<Queue>], request: PurgeQueue) -> AwsResult {
    let queue = queue(queues, &request.queue_url)?;
    let purged = queue.purge().await.map_err(internal)?;
    tracing::info!(queue = queue.name(), purged, "queue purged");
    Ok(json!({}))
}

#[cfg(test)]
mod tests;
