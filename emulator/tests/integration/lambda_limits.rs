//! Lambda's `Invoke` refuses what Lambda refuses before any function runs, with Lambda's error
//! types and statuses, through the official client: a payload that is not JSON, and payloads over
//! the synchronous (6 MB) and asynchronous (1 MB) quotas; at the quotas, the call goes through.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

/// `{"pad": "xxx…"}` of exactly `size` bytes.
fn json_of_size(size: usize) -> Vec<u8> {
    let mut body = br#"{"pad":""#.to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

/// The error type (`x-amzn-errortype`, as the service sends it), the HTTP status and the body
/// of a refused `Invoke`. Lambda sends `RequestEntityTooLargeException` for a payload over its
/// quota, a name its own model does not list (it lists `RequestTooLargeException`), so the SDKs
/// surface it as an unmodelled error with that code, against Lambda as here.
fn refusal<T: std::fmt::Debug>(
    outcome: Result<
        T,
        aws_sdk_lambda::error::SdkError<aws_sdk_lambda::operation::invoke::InvokeError>,
    >,
) -> (String, u16, String) {
    let error = outcome.expect_err("refused");
    let response = error.raw_response().expect("an HTTP answer");
    let code = response
        .headers()
        .get("x-amzn-errortype")
        .unwrap_or_default()
        .to_owned();
    let body = String::from_utf8_lossy(response.body().bytes().unwrap_or_default()).into_owned();
    (code, response.status().as_u16(), body)
}

#[tokio::test]
async fn a_payload_that_is_not_json_is_refused_before_the_function_runs() {
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let lambda = crate::support::client!(aws_sdk_lambda, emulator.url());
    let outcome = lambda
        .invoke()
        .function_name("save-order")
        .payload(Blob::new("not json"))
        .send()
        .await;
    let (code, status, message) = refusal(outcome);
    assert_eq!(
        (code.as_str(), status),
        ("InvalidRequestContentException", 400),
        "{message}"
    );
    assert!(
        message.contains("Could not parse request body into json"),
        "{message}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_synchronous_payload_over_6_mb_is_too_large() {
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let lambda = crate::support::client!(aws_sdk_lambda, emulator.url());
    let outcome = lambda
        .invoke()
        .function_name("save-order")
        .payload(Blob::new(json_of_size(6 * 1024 * 1024 + 1)))
        .send()
        .await;
    let (code, status, message) = refusal(outcome);
    assert_eq!(
        (code.as_str(), status),
        ("RequestEntityTooLargeException", 413),
        "{message}"
    );
    // At the quota the function runs (and refuses the input as not an order).
    let at_quota = lambda
        .invoke()
        .function_name("save-order")
        .payload(Blob::new(json_of_size(6 * 1024 * 1024)))
        .send()
        .await
        .expect("at the quota, the function is invoked");
    assert_eq!(at_quota.function_error(), Some("Unhandled"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_event_payload_over_1_mb_is_too_large() {
    let (emulator, _dir) = crate::support::start_emulator(|_| {}).await;
    let lambda = crate::support::client!(aws_sdk_lambda, emulator.url());
    let event = |size| {
        lambda
            .invoke()
            .function_name("save-order")
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(json_of_size(size)))
            .send()
    };
    let (code, status, message) = refusal(event(1024 * 1024 + 1).await);
    assert_eq!(
        (code.as_str(), status),
        ("RequestEntityTooLargeException", 413),
        "{message}"
    );
    assert!(
        message.contains("1048577 byte payload is too large for the Event invocation type"),
        "{message}"
    );
    let queued = event(1024 * 1024).await.expect("at the quota, queued");
    assert_eq!(queued.status_code(), 202);
    emulator.shutdown().await;
}

/// A function whose reserved concurrency is taken (here 0, as a function switched off) is
/// throttled as Lambda throttles it: `TooManyRequestsException` 429, with its reason, to
/// `Invoke`, and `Lambda.TooManyRequestsException` to a state machine's task; a function without
/// a reservation is invoked as usual.
#[tokio::test]
async fn past_its_reserved_concurrency_a_function_is_throttled() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        folder.path().join("template.yaml"),
        r"
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Save
        States:
          Save: {Type: Task, Resource: 'arn:aws:lambda:us-east-1:000000000000:function:save-order', End: true}
  Off:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: save-order}}
    Properties: {CodeUri: ., Handler: bootstrap, Runtime: provided.al2023, ReservedConcurrentExecutions: 0}
  On:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: email}}
    Properties: {CodeUri: ., Handler: bootstrap, Runtime: provided.al2023}
",
    )
    .expect("written");
    let template = folder.path().join("template.yaml");
    let (emulator, _dir) =
        crate::support::start_emulator(|config| config.template = template).await;
    let lambda = crate::support::client!(aws_sdk_lambda, emulator.url());
    let invoke = |name: &'static str| {
        lambda
            .invoke()
            .function_name(name)
            .payload(Blob::new("{}"))
            .send()
    };
    // A function built from a crate is named by its binary.
    let (code, status, body) = refusal(invoke("save-order").await);
    assert_eq!(
        (code.as_str(), status),
        ("TooManyRequestsException", 429),
        "{body}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        body["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    assert_eq!(body["message"], "Rate Exceeded.");
    let on = invoke("email")
        .await
        .expect("a function without a reservation runs");
    assert_eq!(on.status_code(), 200);
    let sfn = crate::support::client!(aws_sdk_sfn, emulator.url());
    let started = sfn
        .start_execution()
        .state_machine_arn(emulator::names::state_machine_arn("Machine"))
        .input("{}")
        .send()
        .await
        .expect("StartExecution");
    let mut described = None;
    for _ in 0..100 {
        let execution = sfn
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .expect("DescribeExecution");
        if execution.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
            described = Some(execution);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let described = described.expect("the execution ends");
    assert_eq!(
        described.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Failed
    );
    assert_eq!(described.error(), Some("Lambda.TooManyRequestsException"));
    emulator.shutdown().await;
}
