//! The real `orchestrator` binary on AWS's terms, against the emulator as its cloud: Lambda's
//! environment (`AWS_LAMBDA_RUNTIME_API`, ...) for the emulator's Runtime API, `AWS_ENDPOINT_URL`
//! for its SQS and Step Functions endpoints, and an SQS event as Lambda's event source mapping
//! sends it. A valid order starts its execution (once, however often it is delivered); a message
//! that can never succeed goes to the dead-letter queue at once, with its reason; neither is
//! reported in `batchItemFailures`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use emulator::aws::sfn::state_machine_arn;
use emulator::runtime_api::RuntimeApi;
use emulator::{Config, REGISTRATION_STATE_MACHINE, REGISTRATIONS_DLQ};
use serde_json::{Value, json};

/// Stops the binary when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One SQS record as Lambda delivers it (the fields of AWS's sample event).
fn record(message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": format!("handle-{message_id}"),
        "body": body,
        "md5OfBody": "",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:registrations",
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1",
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1520621625029",
            "SenderId": "000000000000",
            "ApproximateFirstReceiveTimestamp": "1520621634884",
            "AWSTraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
        },
        "messageAttributes": {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_starts_workflows_on_step_functions_and_dead_letters_the_hopeless() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(format!("sqlite://{}/emulator.db", dir.path().display()));
    config.event_sources = false;
    let cloud = emulator::start(
        config,
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port"),
    )
    .await
    .expect("the emulator starts");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let runtime_api = listener.local_addr().expect("an address").to_string();
    let api = RuntimeApi::serve(
        listener,
        &function_model::local_function_arn("orchestrator"),
    );
    let log = dir.path().join("orchestrator.log");
    let _binary = Running(
        Command::new(env!("CARGO_BIN_EXE_orchestrator"))
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "orchestrator")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_ENDPOINT_URL", cloud.url())
            .env(
                "STATE_MACHINE_ARN",
                state_machine_arn(REGISTRATION_STATE_MACHINE),
            )
            .env(
                "DEAD_LETTER_QUEUE_URL",
                format!("{}/000000000000/{REGISTRATIONS_DLQ}", cloud.url()),
            )
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("the binary starts"),
    );
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    let order = include_str!("../../../shared/domain/data/order-placed.example.json");
    let order_id = serde_json::from_str::<Value>(order).expect("JSON")["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned();
    let invoke = |records: Vec<Value>| {
        api.invoke(
            json!({ "Records": records }).to_string().into(),
            Duration::from_secs(20),
            None,
        )
    };

    let answer = invoke(vec![record("m-1", order), record("m-2", "not an order")])
        .await
        .unwrap_or_else(|e| panic!("the invocation failed: {e}\n{}", logged()));
    let answer: Value = serde_json::from_slice(&answer).expect("a JSON answer");
    assert_eq!(
        answer,
        json!({ "batchItemFailures": [] }),
        "the order started and the hopeless message dead-lettered: nothing to retry\n{}",
        logged()
    );
    let again: Value =
        serde_json::from_slice(&invoke(vec![record("m-3", order)]).await.expect("answered"))
            .expect("a JSON answer");
    assert_eq!(
        again,
        json!({ "batchItemFailures": [] }),
        "a redelivered order starts nothing, and is no failure"
    );

    let http = reqwest::Client::new();
    let inspect = |path: String| {
        let http = http.clone();
        let url = format!("{}/_emulator/api/{path}", cloud.url());
        async move {
            http.get(url)
                .send()
                .await
                .expect("the inspector answers")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };
    let mut status = Value::Null;
    for _ in 0..200 {
        status = inspect(format!("executions/{order_id}")).await["status"].clone();
        if status == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        "SUCCEEDED",
        "the order's workflow ran\n{}",
        logged()
    );
    let executions = inspect("executions".into()).await;
    assert_eq!(
        executions["items"].as_array().map(Vec::len),
        Some(1),
        "one execution for two deliveries: {executions}"
    );

    let queues = inspect("queues".into()).await;
    let dlq = queues
        .as_array()
        .and_then(|queues| queues.iter().find(|q| q["name"] == REGISTRATIONS_DLQ))
        .expect("the dead-letter queue is listed");
    let dead = &dlq["messages"][0];
    assert_eq!(dead["body"], "not an order", "{dlq}");
    assert_eq!(dead["attributes"]["DeadLetterReason"], "InvalidMessage");
    assert_eq!(dead["attributes"]["SourceMessageId"], "m-2");
    assert_eq!(
        dead["attributes"]["AWSTraceHeader"], "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        "the trace travels with the dead letter"
    );
    cloud.shutdown().await;
}
