//! The real `orchestrator` binary on AWS's terms, against the emulator as its cloud: run as
//! process mode runs it (`emulator::aws::lambda`: Lambda's environment, its own Runtime API,
//! `AWS_ENDPOINT_URL` at the emulator's SQS and Step Functions endpoints) and invoked with an SQS
//! event as Lambda's event source mapping sends it. A valid order starts its execution (once,
//! however often it is delivered); a message that can never succeed goes to the dead-letter queue
//! at once, with its reason; neither is reported in `batchItemFailures`.

use std::time::Duration;

use emulator::Config;
use emulator::aws::lambda::{FunctionSpec, LambdaFunction, sqs_event};
use emulator::names::state_machine_arn;

/// Names from `template.yaml` (logical ids).
const STATE_MACHINE: &str = "RegistrationStateMachine";
const DEAD_LETTER_QUEUE: &str = "RegistrationsDeadLetterQueue";
use function_model::QueueMessage;
use serde_json::{Value, json};

/// A message as the event source mapping hands it on (with a trace header, as SQS keeps one).
fn message(message_id: &str, body: &str) -> (QueueMessage, &'static str, i64) {
    let message = QueueMessage {
        message_id: message_id.into(),
        body: body.into(),
        attributes: [(
            "AWSTraceHeader".to_owned(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".to_owned(),
        )]
        .into(),
        receive_count: 1,
    };
    (message, "handle", 1_520_621_625_029)
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
    let orchestrator = LambdaFunction::new(FunctionSpec {
        name: "orchestrator".into(),
        executable: env!("CARGO_BIN_EXE_orchestrator").into(),
        handler: "bootstrap".into(),
        environment: vec![
            ("STATE_MACHINE_ARN".into(), state_machine_arn(STATE_MACHINE)),
            (
                "DEAD_LETTER_QUEUE_URL".into(),
                format!("{}/000000000000/{DEAD_LETTER_QUEUE}", cloud.url()),
            ),
        ],
        timeout: Duration::from_secs(20),
        memory_mb: 128,
        concurrency: 1,
        endpoint_url: cloud.url(),
        json_logs: false,
        invocations: Default::default(),
    });
    let order = include_str!("../../../shared/domain/data/order-placed.example.json");
    let order_id = serde_json::from_str::<Value>(order).expect("JSON")["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned();
    let invoke = |batch: Vec<(QueueMessage, &'static str, i64)>| {
        let event = sqs_event(
            "arn:aws:sqs:us-east-1:000000000000:RegistrationsQueue",
            &batch,
        );
        let orchestrator = orchestrator.clone();
        async move {
            let answer = orchestrator
                .invoke(event.to_string().into(), None)
                .await
                .expect("the invocation succeeds");
            serde_json::from_slice::<Value>(&answer).expect("a JSON answer")
        }
    };

    assert_eq!(
        invoke(vec![message("m-1", order), message("m-2", "not an order")]).await,
        json!({ "batchItemFailures": [] }),
        "the order started and the hopeless message dead-lettered: nothing to retry"
    );
    assert_eq!(
        invoke(vec![message("m-3", order)]).await,
        json!({ "batchItemFailures": [] }),
        "a redelivered order starts nothing, and is no failure"
    );

    let execution = cloud
        .wait_for_execution(&order_id, Duration::from_secs(10))
        .await
        .expect("the executions can be read")
        .expect("the order's execution was started");
    let execution = serde_json::to_value(&execution).expect("serializable");
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");

    let queues: Value = reqwest::get(format!("{}/_emulator/api/queues", cloud.url()))
        .await
        .expect("the inspector answers")
        .json()
        .await
        .expect("JSON");
    let dlq = queues
        .as_array()
        .and_then(|queues| queues.iter().find(|q| q["name"] == DEAD_LETTER_QUEUE))
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
