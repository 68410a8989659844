//! Amazon SQS: the order publisher (`OrderPlaced` as the message body, the payment's trace header
//! as the `AWSTraceHeader` system attribute, which SQS hands to the orchestrator's invocation, as
//! X-Ray expects), and the orchestrator's dead-letter sink (a message that can never succeed,
//! sent to the dead-letter queue with its reason, since a Lambda function cannot ask SQS to
//! dead-letter it).

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
};
use clients::config::{ConfigError, Env, required};
use clients::publisher::{OrderPublisher, PublishError, TRACE_ATTRIBUTE};
use domain::OrderPlaced;
use function_model::{DeadLetter, DeadLetterSink, QueueMessage};

use crate::{AwsSettings, CallError};

fn client(aws: &AwsSettings) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(crate::service_config!(aws_sdk_sqs, "SQS", aws))
}

/// Publishes orders on one queue.
#[derive(Debug, Clone)]
pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsPublisher {
    pub fn new(aws: &AwsSettings, queue_url: impl Into<String>) -> Self {
        Self {
            client: client(aws),
            queue_url: queue_url.into(),
        }
    }

    /// The queue named by `REGISTRATIONS_QUEUE_URL` (set by `template.yaml`).
    pub fn from_env(aws: &AwsSettings, env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::new(aws, required(env, "REGISTRATIONS_QUEUE_URL")?))
    }
}

#[async_trait]
impl OrderPublisher for SqsPublisher {
    async fn publish(
        &self,
        order: &OrderPlaced,
        trace_id: Option<&str>,
    ) -> Result<(), PublishError> {
        send(
            &self.client,
            &self.queue_url,
            order.to_json(),
            trace_id,
            &[],
        )
        .await
        .map_err(PublishError::new)
    }
}

/// Sends one message with its trace header and string message attributes.
async fn send(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    body: String,
    trace_id: Option<&str>,
    attributes: &[(&str, &str)],
) -> Result<(), CallError> {
    fn failed(e: impl std::error::Error + Send + Sync + 'static) -> CallError {
        CallError::new("SQS SendMessage", e)
    }
    let string = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(failed)
    };
    let mut request = client
        .send_message()
        .queue_url(queue_url)
        .message_body(body);
    if let Some(trace) = trace_id {
        let header = MessageSystemAttributeValue::builder()
            .data_type("String")
            .string_value(trace)
            .build()
            .map_err(failed)?;
        request = request
            .message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, header);
    }
    for (name, value) in attributes {
        request = request.message_attributes(*name, string(value)?);
    }
    request.send().await.map(drop).map_err(failed)
}

/// Sends hopeless messages to a dead-letter queue, with the attributes the emulator's queue
/// gives a message it dead-letters (`DeadLetterReason`, `DeadLetterErrorDescription`, as Service
/// Bus names them) and the id it had (`SourceMessageId`).
#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(aws: &AwsSettings, queue_url: impl Into<String>) -> Self {
        Self {
            client: client(aws),
            queue_url: queue_url.into(),
        }
    }

    /// The queue named by `DEAD_LETTER_QUEUE_URL` (set by `template.yaml`).
    pub fn from_env(aws: &AwsSettings, env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::new(aws, required(env, "DEAD_LETTER_QUEUE_URL")?))
    }
}

#[async_trait]
impl DeadLetterSink for SqsDeadLetters {
    async fn dead_letter(
        &self,
        message: &QueueMessage,
        dead: &DeadLetter,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        send(
            &self.client,
            &self.queue_url,
            message.body.clone(),
            message.attributes.get(TRACE_ATTRIBUTE).map(String::as_str),
            &[
                ("DeadLetterReason", dead.reason),
                ("DeadLetterErrorDescription", &dead.description),
                ("SourceMessageId", &message.message_id),
            ],
        )
        .await
        .map_err(Into::into)
    }
}
