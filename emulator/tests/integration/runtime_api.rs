//! The emulator's Lambda Runtime API (`emulator::aws::lambda::runtime_api`), driven as a runtime drives it
//! (plain HTTP, as `lambda_runtime` does; the real client is exercised by
//! `functions/save-order/tests/lambda.rs`): the headers of `/next`, the deadline, a function
//! that does not answer in time, one that fails to start, overlapping invocations taken by two
//! runtimes, and answers to unknown invocations.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emulator::aws::lambda::runtime_api::{InvokeError, RuntimeApi};
use serde_json::{Value, json};

const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:echo";

async fn start() -> (RuntimeApi, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let base = format!(
        "http://{}/2018-06-01/runtime",
        listener.local_addr().expect("an address")
    );
    (RuntimeApi::serve(listener, ARN), base)
}

/// Invokes the function in a task of its own (as the Lambda service would), so that the test can
/// play the runtime meanwhile.
fn invoke_in_background(
    api: &RuntimeApi,
    payload: Value,
    timeout: Duration,
    trace_id: Option<&str>,
) -> tokio::task::JoinHandle<Result<bytes::Bytes, InvokeError>> {
    let api = api.clone();
    let trace_id = trace_id.map(str::to_owned);
    tokio::spawn(async move {
        let request_id = uuid::Uuid::new_v4().to_string();
        api.invoke(request_id, payload.to_string().into(), timeout, trace_id)
            .await
    })
}

/// One `/next` as a runtime calls it: the request id, the headers and the payload.
async fn next(client: &reqwest::Client, base: &str) -> (String, reqwest::header::HeaderMap, Value) {
    let response = client
        .get(format!("{base}/invocation/next"))
        .send()
        .await
        .expect("next answers");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let id = headers["lambda-runtime-aws-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    let payload = response.json().await.expect("a JSON payload");
    (id, headers, payload)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_gives_the_payload_with_lambdas_headers_and_takes_the_answer() {
    let (api, base) = start().await;
    let client = reqwest::Client::new();
    let invoked = invoke_in_background(
        &api,
        json!({"hello": "world"}),
        Duration::from_secs(10),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793"),
    );
    let before = now_ms();
    let (id, headers, payload) = next(&client, &base).await;
    assert_eq!(payload, json!({"hello": "world"}));
    assert_eq!(headers["lambda-runtime-invoked-function-arn"], ARN);
    assert_eq!(
        headers["lambda-runtime-trace-id"],
        "Root=1-5759e988-bd862e3fe1be46a994272793"
    );
    let deadline: u128 = headers["lambda-runtime-deadline-ms"]
        .to_str()
        .expect("text")
        .parse()
        .expect("epoch milliseconds");
    assert!(
        deadline > before + 8_000 && deadline <= now_ms() + 10_000,
        "the deadline is the timeout from now, in epoch milliseconds: {deadline}"
    );
    let answered = client
        .post(format!("{base}/invocation/{id}/response"))
        .body(r#"{"echo": true}"#)
        .send()
        .await
        .expect("answered");
    assert_eq!(answered.status(), 202);
    let result = invoked.await.expect("joined").expect("a response");
    assert_eq!(result.as_ref(), br#"{"echo": true}"#);

    // The same id again, or one never given: refused as Lambda refuses them.
    let again = client
        .post(format!("{base}/invocation/{id}/response"))
        .body("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.expect("an error document");
    assert_eq!(body["errorType"], "InvalidRequestID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_arrives_with_its_error_type() {
    let (api, base) = start().await;
    let client = reqwest::Client::new();
    let invoked = invoke_in_background(&api, json!({}), Duration::from_secs(10), None);
    let (id, _, _) = next(&client, &base).await;
    client
        .post(format!("{base}/invocation/{id}/error"))
        .header("lambda-runtime-function-error-type", "Runtime.Unknown")
        .json(&json!({"errorType": "ProviderUnavailable", "errorMessage": "SendGrid is down"}))
        .send()
        .await
        .expect("answered");
    match invoked.await.expect("joined") {
        Err(InvokeError::Function(failure)) => {
            assert_eq!(failure.error_type, "ProviderUnavailable");
            assert_eq!(failure.error_message, "SendGrid is down");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_does_not_answer_in_time_times_out() {
    let (api, base) = start().await;
    let client = reqwest::Client::new();
    let invoked = invoke_in_background(&api, json!({}), Duration::from_millis(300), None);
    let (id, _, _) = next(&client, &base).await;
    let outcome = invoked.await.expect("joined");
    assert_eq!(
        outcome,
        Err(InvokeError::TimedOut(Duration::from_millis(300)))
    );
    // Its late answer is refused: the invocation is over.
    let late = client
        .post(format!("{base}/invocation/{id}/response"))
        .body("{}")
        .send()
        .await
        .expect("answered");
    assert_eq!(late.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_that_fails_to_start_fails_its_invocations() {
    let (api, base) = start().await;
    let client = reqwest::Client::new();
    let reported = client
        .post(format!("{base}/init/error"))
        .json(
            &json!({"errorType": "Runtime.ConfigError", "errorMessage": "DATABASE_URL is not set"}),
        )
        .send()
        .await
        .expect("answered");
    assert_eq!(reported.status(), 202);
    let request_id = uuid::Uuid::new_v4().to_string();
    match api
        .invoke(request_id, "{}".into(), Duration::from_secs(5), None)
        .await
    {
        Err(InvokeError::InitFailed(failure)) => {
            assert_eq!(failure.error_type, "Runtime.ConfigError");
            assert_eq!(failure.error_message, "DATABASE_URL is not set");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_invocations_go_to_two_runtimes() {
    let (api, base) = start().await;
    let client = reqwest::Client::new();
    let invoke =
        |n: u32| invoke_in_background(&api, json!({"n": n}), Duration::from_secs(10), None);
    let (first, second) = (invoke(1), invoke(2));
    // Two runtimes (two instances of the function) each take one, and answer in reverse order.
    let (id_a, _, payload_a) = next(&client, &base).await;
    let (id_b, _, payload_b) = next(&client, &base).await;
    assert_ne!(id_a, id_b);
    let mut seen = [payload_a["n"].as_u64(), payload_b["n"].as_u64()];
    seen.sort();
    assert_eq!(seen, [Some(1), Some(2)]);
    for (id, payload) in [(&id_b, &payload_b), (&id_a, &payload_a)] {
        client
            .post(format!("{base}/invocation/{id}/response"))
            .json(&json!({"echo": payload["n"]}))
            .send()
            .await
            .expect("answered");
    }
    for (handle, n) in [(first, 1), (second, 2)] {
        let answer: Value =
            serde_json::from_slice(&handle.await.expect("joined").expect("answered"))
                .expect("JSON");
        assert_eq!(
            answer,
            json!({"echo": n}),
            "each caller gets its own answer"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_over_6_mb_fails_the_invocation_as_lambda_does() {
    let (api, base) = start().await;
    let client = reqwest::Client::new();
    for (size, accepted) in [(6_291_556, true), (6_291_557, false)] {
        let invoked = invoke_in_background(&api, json!({}), Duration::from_secs(10), None);
        let (id, _, _) = next(&client, &base).await;
        let answered = client
            .post(format!("{base}/invocation/{id}/response"))
            .body(vec![b'x'; size])
            .send()
            .await
            .expect("answered");
        let outcome = invoked.await.expect("joined");
        if accepted {
            assert_eq!(answered.status(), 202, "{size} bytes is within the quota");
            assert_eq!(outcome.expect("a response").len(), size);
        } else {
            assert_eq!(answered.status(), 413);
            match outcome {
                Err(InvokeError::Function(failure)) => {
                    assert_eq!(failure.error_type, "Function.ResponseSizeTooLarge");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
