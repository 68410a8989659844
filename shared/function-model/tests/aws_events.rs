//! The AWS adapter's translations, on AWS's own sample events (`tests/events/`): an SQS batch
//! becomes queue messages with their receive counts and attributes; an API Gateway HTTP API
//! request (payload 2.0) becomes the function's request with its query string, path parameters
//! and source address.

use function_model::aws::{http_request, queue_messages};

#[test]
fn an_sqs_event_becomes_queue_messages() {
    let event: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_str(include_str!("events/example-sqs-event.json")).expect("the sample");
    let messages = queue_messages(event);
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.message_id, "MessageID_1");
    assert_eq!(message.body, "Message Body");
    assert_eq!(message.receive_count, 2, "ApproximateReceiveCount");
    assert_eq!(
        message.attributes.get("SenderId").map(String::as_str),
        Some("AROAIWPX5BD2BHG722MW4:sender")
    );
    assert_eq!(
        message.attributes.get("Attribute2").map(String::as_str),
        Some("123"),
        "a string message attribute"
    );
}

#[test]
fn an_http_api_request_becomes_the_functions_request() {
    let request = lambda_http::request::from_str(include_str!(
        "events/example-apigw-v2-request-multi-value-parameters.json"
    ))
    .expect("the sample");
    let request = http_request(request);
    assert_eq!(request.method, http::Method::GET);
    assert_eq!(request.path, "/my/path");
    assert_eq!(request.query, "Parameter1=value1&Parameter1=value2");
    assert_eq!(
        request.path_parameters.get("proxy").map(String::as_str),
        Some("hello/world")
    );

    let request = http_request(
        lambda_http::request::from_str(include_str!(
            "events/example-apigw-v2-request-no-authorizer.json"
        ))
        .expect("the sample"),
    );
    assert_eq!(
        request.source_ip,
        Some("1.2.3.4".parse().expect("an address"))
    );
    assert_eq!(
        request
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok()),
        Some("curl/7.58.0")
    );
}
