//! The sample events of `emulator invoke --example NAME`, one for each trigger the project's
//! functions have, made by the code that makes the real ones: the order is the domain's
//! documented `OrderPlaced` example, checked by `OrderPlaced` itself; the SQS batch is what the
//! event source mapping sends (`sqs_event`); the HTTP request is what the gateway sends payment
//! (`api_gateway_event`). A change to those types or builders changes the examples with them.

use std::time::Duration;

use bytes::Bytes;
use domain::OrderPlaced;
use function_model::{HttpRequest, Invocation, QueueMessage};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

use crate::aws::lambda::{api_gateway_event, sqs_event};
use crate::names::queue_arn;

/// Each example's name, what it is, and the functions it is for.
pub const EXAMPLES: [(&str, &str); 3] = [
    (
        "order",
        "an OrderPlaced, as the workflow gives save-order, email and mailing-list",
    ),
    (
        "sqs-batch",
        "an SQS event holding one OrderPlaced, as the orchestrator gets it",
    ),
    (
        "http-request",
        "an HTTP API request (payload 2.0) of POST /api/registrations, as payment gets it",
    ),
];

/// The example `name`, or `None` for a name that is not one.
pub fn example(name: &str) -> Option<Value> {
    match name {
        "order" => Some(order()),
        "sqs-batch" => Some(sqs_batch()),
        "http-request" => Some(http_request()),
        _ => None,
    }
}

fn order() -> Value {
    let documented: Value = serde_json::from_str(include_str!(
        "../../../shared/domain/data/order-placed.example.json"
    ))
    .expect("the domain's example is JSON");
    let order =
        OrderPlaced::from_value(documented).expect("the domain's example is an OrderPlaced");
    serde_json::to_value(order).expect("an OrderPlaced serialises")
}

fn sqs_batch() -> Value {
    let message = QueueMessage {
        message_id: uuid::Uuid::new_v4().to_string(),
        body: order().to_string(),
        attributes: Default::default(),
        receive_count: 1,
    };
    let sent_at = chrono::Utc::now().timestamp_millis();
    let receipt = uuid::Uuid::new_v4().simple().to_string();
    sqs_event(
        &queue_arn("RegistrationsQueue"),
        &[(message, receipt.as_str(), sent_at)],
    )
}

fn http_request() -> Value {
    let registration = json!({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.org"},
        "card": {"name": "Ada Lovelace", "number": "4012888888881881", "expiry": "2030-12", "securityCode": "123"},
        "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": true
    });
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let key = uuid::Uuid::new_v4().to_string();
    headers.insert(
        "idempotency-key",
        HeaderValue::from_str(&key).expect("a UUID is a header value"),
    );
    let request = HttpRequest {
        method: Method::POST,
        path: "/api/registrations".to_owned(),
        query: String::new(),
        path_parameters: Default::default(),
        source_ip: Some([127, 0, 0, 1].into()),
        headers,
        body: Bytes::from(registration.to_string()),
    };
    let invocation = Invocation::local("payment", Duration::from_secs(29), None);
    api_gateway_event(&invocation, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_is_what_its_function_reads() {
        for (name, _) in EXAMPLES {
            assert!(example(name).is_some(), "{name}");
        }
        OrderPlaced::from_value(example("order").expect("an order")).expect("an OrderPlaced");
        let batch = example("sqs-batch").expect("a batch");
        let body = batch["Records"][0]["body"].as_str().expect("a body");
        OrderPlaced::from_json(body).expect("the message is an OrderPlaced");
        let request = example("http-request").expect("a request");
        let parsed: lambda_http::request::LambdaRequest =
            serde_json::from_value(request.clone()).expect("lambda_http reads it");
        assert!(
            matches!(parsed, lambda_http::request::LambdaRequest::ApiGatewayV2(_)),
            "an HTTP API (payload 2.0) event"
        );
        assert_eq!(request["rawPath"], "/api/registrations");
        assert_eq!(example("nothing"), None);
    }
}
