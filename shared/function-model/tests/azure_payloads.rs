//! The Azure adapter on the custom-handler payloads the Functions host sends (`tests/azure/`,
//! written from the shapes in Microsoft Learn's "Azure Functions custom handlers",
//! <https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers>, sections
//! "Request payload", "Response payload" and the HTTP trigger in "Examples" > "Function with
//! bindings"; the JSON-encoded Service Bus scalars are those reported in
//! <https://github.com/Azure/azure-functions-host/issues/6574>): an HTTP trigger becomes the
//! function's request and its answer the `http` output; a Service Bus trigger becomes a queue
//! message whether the host JSON-encoded its scalars or not; output bindings go out only with a
//! successful invocation; a failure is a non-2xx answer with the reason in `Logs`; and all of it
//! through a real socket, as the host calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use function_model::azure::{FunctionApp, add_output};
use function_model::{
    ErrorType, FunctionError, HttpFunction, HttpRequest, HttpResponse, Invocation, QueueFunction,
    QueueMessage,
};
use http::StatusCode;
use serde_json::{Value, json};

/// Answers with what it saw, and writes the body to the `order` output binding.
struct Echo;

#[async_trait]
impl HttpFunction for Echo {
    async fn handle(&self, invocation: &Invocation, request: HttpRequest) -> HttpResponse {
        add_output(
            "order",
            json!({ "body": String::from_utf8_lossy(&request.body) }),
        )
        .expect("within an invocation");
        let accept: Vec<_> = request
            .headers
            .get_all("accept")
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .collect();
        HttpResponse::json(
            StatusCode::CREATED,
            &json!({
                "method": request.method.as_str(),
                "path": request.path,
                "query": request.query,
                "key": request.header("idempotency-key"),
                "accept": accept,
                "sourceIp": request.source_ip.map(|ip| ip.to_string()),
                "body": String::from_utf8_lossy(&request.body),
                "invocation": invocation.request_id,
                "trace": invocation.trace_id,
                "secondsLeft": invocation.remaining().as_secs(),
            }),
        )
        .with_header(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        )
    }
}

/// Keeps every message; `fail` fails it retryably, `bad` hopelessly, after writing an output.
#[derive(Default)]
struct Recorder(Mutex<Vec<(QueueMessage, Option<String>)>>);

#[async_trait]
impl QueueFunction for Recorder {
    async fn handle_message(
        &self,
        invocation: &Invocation,
        message: &QueueMessage,
    ) -> Result<(), FunctionError> {
        self.0
            .lock()
            .expect("lock")
            .push((message.clone(), invocation.trace_id.clone()));
        add_output("followUp", json!("written before the outcome")).expect("in an invocation");
        match message.body.as_str() {
            "fail" => Err(FunctionError::new(
                ErrorType::WorkflowUnavailable,
                "the workflow store is down",
            )),
            "bad" => Err(FunctionError::new(
                ErrorType::InvalidMessage,
                "not an OrderPlaced",
            )),
            _ => Ok(()),
        }
    }
}

fn app(recorder: Arc<Recorder>) -> FunctionApp {
    FunctionApp::new(Duration::from_secs(300))
        .http("payment", Arc::new(Echo))
        .queue("orchestrator", recorder)
}

#[tokio::test]
async fn an_http_trigger_is_the_functions_request_and_its_answer_the_http_output() {
    let app = app(Arc::default());
    let answer = app
        .invoke(
            "payment",
            Some("inv-1"),
            include_bytes!("azure/http-trigger.json"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let outputs = &answer.body["Outputs"];
    let response = &outputs["res"];
    assert_eq!(response["statusCode"], 201);
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert_eq!(response["headers"]["cache-control"], "no-store");
    let seen: Value = serde_json::from_str(response["body"].as_str().expect("text")).expect("json");
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/api/registrations");
    assert_eq!(seen["query"], "source=site&utm=a%20b", "the query as sent");
    assert_eq!(seen["key"], "3f1c2a1e-8d8b-4b43-9a55-6f7c0b2f8f10");
    assert_eq!(seen["accept"], json!(["application/json", "text/plain"]));
    assert_eq!(
        seen["sourceIp"], "203.0.113.7",
        "X-Forwarded-For, without the port"
    );
    assert_eq!(seen["body"], "{\"ticket\":\"standard\"}");
    assert_eq!(seen["invocation"], "inv-1");
    assert_eq!(
        seen["trace"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert!(
        (298..=300).contains(&seen["secondsLeft"].as_u64().expect("seconds")),
        "the deadline is the app's functionTimeout: {}",
        seen["secondsLeft"]
    );
    assert_eq!(
        outputs["order"],
        json!({ "body": "{\"ticket\":\"standard\"}" }),
        "the output binding the function wrote"
    );
    assert_eq!(answer.body["Logs"], json!([]));
}

#[tokio::test]
async fn a_service_bus_trigger_reads_json_encoded_and_plain_values_alike() {
    let recorder = Arc::new(Recorder::default());
    let app = app(recorder.clone());
    for payload in [
        &include_bytes!("azure/service-bus-trigger-encoded.json")[..],
        &include_bytes!("azure/service-bus-trigger-plain.json")[..],
    ] {
        let answer = app.invoke("orchestrator", None, payload).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(
            answer.body["Outputs"]["followUp"],
            "written before the outcome"
        );
    }
    let seen = recorder.0.lock().expect("lock");
    let [(encoded, trace), (plain, no_trace)] = &seen[..] else {
        panic!("two messages: {seen:?}");
    };
    assert_eq!(encoded.message_id, "a1b2c3");
    assert_eq!(encoded.body, r#"{"orderId":"ord_1"}"#);
    assert_eq!(encoded.receive_count, 3, "DeliveryCount");
    assert_eq!(
        encoded.attributes.get("tenant").map(String::as_str),
        Some("conference")
    );
    assert_eq!(
        trace.as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        "the message's Diagnostic-Id"
    );
    assert_eq!(plain.message_id, "a1b2c3");
    assert_eq!(
        plain.body, r#"{"orderId":"ord_1"}"#,
        "a body sent as an object"
    );
    assert_eq!(plain.receive_count, 1);
    assert_eq!(
        plain.attributes.get("tenant").map(String::as_str),
        Some("conference"),
        "properties sent as JSON text"
    );
    assert_eq!(*no_trace, None);
}

#[tokio::test]
async fn a_failed_invocation_is_a_500_with_its_reason_logged_and_no_outputs() {
    let app = app(Arc::default());
    for (body, fate) in [
        ("fail", "it will be delivered again"),
        (
            "bad",
            "reaches the dead-letter queue after maxDeliveryCount",
        ),
    ] {
        let payload = json!({
            "Data": { "message": body },
            "Metadata": { "MessageId": "m-1", "DeliveryCount": "2" },
        });
        let answer = app
            .invoke("orchestrator", None, payload.to_string().as_bytes())
            .await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(answer.body["Outputs"], json!({}), "nothing is sent");
        let log = answer.body["Logs"][0].as_str().expect("a log line");
        assert!(
            log.contains("message m-1 (delivery 2)") && log.contains(fate),
            "{log}"
        );
    }
}

#[tokio::test]
async fn unknown_functions_and_malformed_payloads_fail_the_invocation() {
    let app = app(Arc::default());
    let answer = app.invoke("refunds", None, b"{}").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = app.invoke("payment", None, b"not json").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = app.invoke("payment", None, br#"{"Data": {}}"#).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body["Logs"][0]
            .as_str()
            .expect("log")
            .contains("\"req\"")
    );
    let no_url = json!({ "Data": { "req": { "Method": "GET" } } });
    let answer = app
        .invoke("payment", None, no_url.to_string().as_bytes())
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_host_reaches_the_handler_over_http() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(Arc::new(app(Arc::default())).serve(listener));
    let payload = include_str!("azure/http-trigger.json");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!(
        "POST /payment HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Azure-Functions-InvocationId: inv-9\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("reads");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body: Value = serde_json::from_str(body).expect("json");
    let seen: Value =
        serde_json::from_str(body["Outputs"]["res"]["body"].as_str().expect("text")).expect("json");
    assert_eq!(
        seen["invocation"], "inv-9",
        "X-Azure-Functions-InvocationId"
    );
}
