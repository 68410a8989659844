//! The AWS Lambda host (cargo feature `aws`): runs a handler under the Lambda Runtime API with
//! `lambda_runtime` (and `lambda_http` for HTTP), translating each event into the function model
//! and back.
//!
//! - A task (Step Functions' `Invoke`) gets the JSON payload; a failure reaches Step Functions as
//!   `errorType` = the [`ErrorType`](crate::ErrorType)'s name, which `Retry`/`Catch` match.
//! - A queue function gets the SQS event's records and answers `batchItemFailures`, so that only
//!   the failed messages are retried (`ReportBatchItemFailures`). A message that can never
//!   succeed is sent to the dead-letter queue at once by the consumer's sink, instead of being
//!   received `maxReceiveCount` times.
//! - An HTTP function gets API Gateway's HTTP API payload 2.0 (and a function URL's, the same
//!   format) as an [`HttpRequest`].
//!
//! The invocation context comes from the Runtime API's headers (`LambdaEvent::context`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::RequestExt;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tracing::Instrument;

use crate::queue::{BatchItemFailure, QueueConsumer};
use crate::{
    FunctionError, HttpFunction, HttpRequest, Invocation, QueueFunction, QueueMessage,
    TaskFunction, handle_batch,
};

/// Our invocation, from Lambda's context: the deadline (epoch milliseconds) becomes an instant.
pub fn invocation(context: &lambda_runtime::Context) -> Invocation {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let remaining = Duration::from_millis(
        u64::try_from(u128::from(context.deadline).saturating_sub(now_ms)).unwrap_or(0),
    );
    Invocation {
        request_id: context.request_id.clone(),
        deadline: tokio::time::Instant::now() + remaining,
        function_name: context.env_config.function_name.clone(),
        function_id: context.invoked_function_arn.clone(),
        trace_id: context.xray_trace_id.clone(),
    }
}

/// A failure as Lambda reports it: our stable error type, and the message (never the sources,
/// which go to the log).
fn diagnostic(error: FunctionError) -> Diagnostic {
    tracing::warn!(
        error_type = error.error_type().name(),
        "invocation failed: {}",
        error.chain()
    );
    Diagnostic {
        error_type: error.error_type().name().to_owned(),
        error_message: error.message().to_owned(),
    }
}

/// Runs a workflow task until the runtime stops.
pub async fn run_task(task: impl TaskFunction) -> Result<(), lambda_runtime::Error> {
    let task = &task;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = invocation(&event.context);
        task.handle(&invocation, event.payload)
            .instrument(invocation.span())
            .await
            .map_err(diagnostic)
    }))
    .await
}

/// The SQS event's records as queue messages.
pub fn queue_messages(event: aws_lambda_events::sqs::SqsEvent) -> Vec<QueueMessage> {
    event
        .records
        .into_iter()
        .map(|record| {
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            // System attributes (`AWSTraceHeader`, ...) and string message attributes alike.
            let mut attributes: BTreeMap<String, String> = record.attributes.into_iter().collect();
            for (name, attribute) in record.message_attributes {
                if let Some(value) = attribute.string_value {
                    attributes.insert(name, value);
                }
            }
            QueueMessage {
                message_id: record.message_id.unwrap_or_default(),
                body: record.body.unwrap_or_default(),
                attributes,
                receive_count,
            }
        })
        .collect()
}

/// Runs a queue function on SQS batches until the runtime stops. A message that can never
/// succeed goes to the consumer's dead-letter sink and is reported handled (so SQS deletes it);
/// if the sink fails, it is reported failed, and retried.
pub async fn run_queue<T: QueueFunction>(
    consumer: QueueConsumer<T>,
) -> Result<(), lambda_runtime::Error> {
    let consumer = &consumer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| async move {
            let invocation = invocation(&event.context);
            let messages = queue_messages(event.payload);
            let span = invocation.span();
            let mut outcome = handle_batch(&consumer.function, &invocation, &messages)
                .instrument(span.clone())
                .await;
            for dead in outcome.dead_letter.drain(..) {
                let Some(message) = messages.iter().find(|m| m.message_id == dead.message_id)
                else {
                    continue;
                };
                let kept = consumer
                    .dead_letters
                    .dead_letter(message, &dead)
                    .instrument(span.clone())
                    .await;
                if let Err(e) = kept {
                    let _entered = span.enter();
                    tracing::warn!(
                        message_id = %dead.message_id,
                        "could not dead-letter the message; it will be delivered again: {}",
                        crate::chain(&*e)
                    );
                    outcome.retry.batch_item_failures.push(BatchItemFailure {
                        item_identifier: dead.message_id,
                    });
                }
            }
            Ok::<_, Diagnostic>(outcome.retry)
        },
    ))
    .await
}

/// API Gateway's request as the function model's.
pub fn http_request(request: lambda_http::Request) -> HttpRequest {
    let path_parameters = request
        .path_parameters_ref()
        .map(|parameters| {
            parameters
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let source_ip = match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok()),
        _ => None,
    };
    let (parts, body) = request.into_parts();
    HttpRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        path_parameters,
        source_ip,
        headers: parts.headers,
        body: bytes::Bytes::copy_from_slice(body.as_ref()),
    }
}

/// Runs an HTTP function behind API Gateway (HTTP API) or a function URL until the runtime stops.
pub async fn run_http(function: impl HttpFunction) -> Result<(), lambda_runtime::Error> {
    let function = &function;
    lambda_http::run(service_fn(
        move |request: lambda_http::Request| async move {
            let invocation = request
                .lambda_context_ref()
                .map(invocation)
                .unwrap_or_else(|| Invocation::local("http", Duration::from_secs(29), None));
            let response = function
                .handle(&invocation, http_request(request))
                .instrument(invocation.span())
                .await;
            let body = match String::from_utf8(response.body.to_vec()) {
                Ok(text) => lambda_http::Body::Text(text),
                Err(binary) => lambda_http::Body::Binary(binary.into_bytes()),
            };
            let mut out = lambda_http::Response::new(body);
            *out.status_mut() = response.status;
            *out.headers_mut() = response.headers;
            Ok::<_, Diagnostic>(out)
        },
    ))
    .await
}
