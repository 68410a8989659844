//! The real `save-order` binary on AWS Lambda's terms: started with the environment Lambda gives
//! (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, ...), its `lambda_runtime` client asks
//! the emulator's Runtime API for invocations and answers them; a failure arrives as our stable
//! `errorType`, which the workflow's `Retry` and `Catch` match.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use emulator::aws::lambda::runtime_api::{InvokeError, RuntimeApi};
use serde_json::{Value, json};

/// Stops the binary when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_invocations_through_the_runtime_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}/orders.db", dir.path().display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let runtime_api = listener.local_addr().expect("an address").to_string();
    let api = RuntimeApi::serve(listener, &function_model::local_function_arn("save-order"));
    let log = dir.path().join("save-order.log");
    let _binary = Running(
        Command::new(env!("CARGO_BIN_EXE_save-order"))
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "save-order")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("DATABASE_URL", &database_url)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("the binary starts"),
    );
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    let order = include_str!("../../../shared/domain/data/order-placed.example.json");
    let requests = std::sync::atomic::AtomicU32::new(0);
    let invoke = |payload: Value| {
        let request = requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        api.invoke(
            format!("request-{request}"),
            payload.to_string().into(),
            Duration::from_secs(20),
            Some("Root=1-67891233-abcdef012345678912345678".into()),
        )
    };

    let order: Value = serde_json::from_str(order).expect("JSON");
    let first = invoke(order.clone()).await.unwrap_or_else(|e| {
        panic!("the first invocation failed: {e}\n{}", logged());
    });
    let first: Value = serde_json::from_slice(&first).expect("a JSON answer");
    assert_eq!(first["saved"], "inserted", "{first}");
    let again: Value =
        serde_json::from_slice(&invoke(order).await.expect("answered")).expect("a JSON answer");
    assert_eq!(
        again["saved"], "alreadyStored",
        "a retried task stores one row"
    );

    let refused = invoke(json!({"orderId": 1})).await;
    match refused {
        Err(InvokeError::Function(failure)) => {
            assert_eq!(failure.error_type, "InvalidInput", "{failure:?}");
            assert!(!failure.error_message.is_empty());
        }
        other => panic!("expected InvalidInput, got {other:?}\n{}", logged()),
    }
    // Every log line of an invocation names its request id.
    assert!(logged().contains("requestId="), "{}", logged());
}
