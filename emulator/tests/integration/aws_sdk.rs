//! The emulator's AWS endpoints (`emulator::aws`) driven by the official Rust SDK clients
//! (`aws-sdk-sqs`, `aws-sdk-sfn`), configured as a deployed binary is, with an endpoint URL and
//! any credentials: SQS's visibility timeout, redrive after `maxReceiveCount`, batches, purge and
//! typed errors; Step Functions' idempotent start by name and its duplicate-name error; Lambda's
//! `Invoke` with a function error, an unknown function and an asynchronous invocation; and the
//! production clients of `aws-clients` (the payment's SQS publisher, the orchestrator's Step
//! Functions starter) against the local cloud, end to end.

use std::time::Duration;

use aws_clients::AwsSettings;
use aws_clients::sfn::StepFunctionsStarter;
use aws_clients::sqs::SqsPublisher;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use clients::publisher::OrderPublisher;
use clients::workflow::{StartOutcome, WorkflowStarter};
use domain::OrderPlaced;
use emulator::names::state_machine_arn;
use emulator::{Config, RunningEmulator};
use serde_json::{Value, json};

/// The state machine's name: its logical id in `template.yaml`.
const STATE_MACHINE: &str = "RegistrationStateMachine";

/// An emulator on a SQLite file of its own, and the production clients' settings, read from the
/// variables the emulator gives a function process.
struct Cloud {
    emulator: RunningEmulator,
    aws: AwsSettings,
    _dir: tempfile::TempDir,
}

async fn start(configure: impl FnOnce(&mut Config)) -> Cloud {
    let (emulator, dir) = crate::support::start_emulator(configure).await;
    let lambda_environment: Vec<(&'static str, String)> = vec![
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_ENDPOINT_URL", emulator.url()),
    ];
    let aws = AwsSettings::from_env(&lambda_environment).expect("settings");
    Cloud {
        emulator,
        aws,
        _dir: dir,
    }
}

impl Cloud {
    fn sqs(&self) -> aws_sdk_sqs::Client {
        crate::support::client!(aws_sdk_sqs, self.emulator.url())
    }

    fn lambda(&self) -> aws_sdk_lambda::Client {
        crate::support::client!(aws_sdk_lambda, self.emulator.url())
    }

    fn sfn(&self) -> aws_sdk_sfn::Client {
        crate::support::client!(aws_sdk_sfn, self.emulator.url())
    }

    async fn queue_url(&self, name: &str) -> String {
        self.sqs()
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .expect("GetQueueUrl")
            .queue_url
            .expect("a queue URL")
    }

    /// `(visible, in flight)` of a queue, from `GetQueueAttributes`.
    async fn depth(&self, url: &str) -> (u64, u64) {
        let attributes = self
            .sqs()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .expect("attributes");
        let count = |name| attributes[&name].parse().expect("a count");
        (
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }
}

fn example_order() -> OrderPlaced {
    OrderPlaced::from_json(include_str!(
        "../../../shared/domain/data/order-placed.example.json"
    ))
    .expect("the documented example is an OrderPlaced")
}

#[tokio::test]
async fn sqs_hides_a_received_message_for_its_visibility_timeout_then_delivers_it_again() {
    let cloud = start(|config| config.event_sources = false).await;
    let sqs = cloud.sqs();
    let url = cloud.queue_url("RegistrationsQueue").await;
    assert!(url.ends_with("/000000000000/RegistrationsQueue"), "{url}");

    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("hello")
        .message_attributes(
            "kind",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("greeting")
                .build()
                .expect("an attribute"),
        )
        .send()
        .await
        .expect("SendMessage");
    assert_eq!(
        sent.md5_of_message_body(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );

    let receive = |visibility: i32, wait: i32| {
        sqs.receive_message()
            .queue_url(&url)
            .visibility_timeout(visibility)
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
    };
    let first = receive(1, 0).await.expect("ReceiveMessage");
    let first = &first.messages()[0];
    assert_eq!(first.message_id(), sent.message_id());
    assert_eq!(first.body(), Some("hello"));
    let attributes = first.attributes().expect("system attributes");
    assert_eq!(
        attributes[&MessageSystemAttributeName::ApproximateReceiveCount],
        "1"
    );
    assert_eq!(
        first.message_attributes().expect("message attributes")["kind"].string_value(),
        Some("greeting")
    );
    assert_eq!(cloud.depth(&url).await, (0, 1), "hidden while in flight");
    assert!(
        receive(1, 0)
            .await
            .expect("ReceiveMessage")
            .messages()
            .is_empty(),
        "nothing to receive while the only message is in flight"
    );

    // Long polling returns once the visibility timeout has passed.
    let again = receive(30, 5).await.expect("ReceiveMessage");
    let again = &again.messages()[0];
    assert_eq!(again.message_id(), sent.message_id());
    assert_eq!(
        again.attributes().expect("attributes")
            [&MessageSystemAttributeName::ApproximateReceiveCount],
        "2"
    );

    let stale = sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(first.receipt_handle().expect("a handle"))
        .send()
        .await
        .expect_err("the first receive's handle is stale");
    assert!(
        stale
            .as_service_error()
            .is_some_and(|e| e.is_receipt_handle_is_invalid()),
        "{stale:?}"
    );
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(again.receipt_handle().expect("a handle"))
        .send()
        .await
        .expect("DeleteMessage with the latest handle");
    assert_eq!(cloud.depth(&url).await, (0, 0));
    cloud.emulator.shutdown().await;
}

#[tokio::test]
async fn sqs_moves_a_message_to_the_dead_letter_queue_after_max_receive_count() {
    let cloud = start(|config| {
        config.event_sources = false;
        config.max_receive_count = Some(2);
    })
    .await;
    let sqs = cloud.sqs();
    let url = cloud.queue_url("RegistrationsQueue").await;
    let dlq_url = cloud.queue_url("RegistrationsDeadLetterQueue").await;

    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .expect("attributes");
    let policy: Value =
        serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).expect("JSON");
    assert_eq!(
        policy,
        json!({
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:RegistrationsDeadLetterQueue",
            "maxReceiveCount": 2
        })
    );

    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("poison")
        .send()
        .await
        .expect("SendMessage");
    // Received twice without being deleted (visible again at once: a zero visibility timeout).
    for receive_count in ["1", "2"] {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("ReceiveMessage");
        assert_eq!(
            received.messages()[0].attributes().expect("attributes")
                [&MessageSystemAttributeName::ApproximateReceiveCount],
            receive_count
        );
    }
    let third = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("ReceiveMessage");
    assert!(
        third.messages().is_empty(),
        "the third receive moves the message instead of delivering it"
    );
    let dead = sqs
        .receive_message()
        .queue_url(&dlq_url)
        .send()
        .await
        .expect("ReceiveMessage on the dead-letter queue");
    assert_eq!(dead.messages()[0].message_id(), sent.message_id());
    assert_eq!(dead.messages()[0].body(), Some("poison"));
    cloud.emulator.shutdown().await;
}

#[tokio::test]
async fn sqs_batches_purges_lists_and_answers_typed_errors() {
    let cloud = start(|config| config.event_sources = false).await;
    let sqs = cloud.sqs();
    let url = cloud.queue_url("RegistrationsDeadLetterQueue").await;
    let entry = |id: &str| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(format!("body {id}"))
            .build()
            .expect("an entry")
    };

    let repeated = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a"))
        .entries(entry("a"))
        .send()
        .await
        .expect_err("ids must be distinct");
    assert!(
        repeated
            .as_service_error()
            .is_some_and(|e| e.is_batch_entry_ids_not_distinct()),
        "{repeated:?}"
    );
    let sent = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a"))
        .entries(entry("b"))
        .entries(entry("c"))
        .send()
        .await
        .expect("SendMessageBatch");
    assert_eq!(sent.successful().len(), 3);
    assert!(sent.failed().is_empty());

    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("ReceiveMessage");
    assert_eq!(received.messages().len(), 3);
    let delete = |id: &str, handle: &str| {
        DeleteMessageBatchRequestEntry::builder()
            .id(id)
            .receipt_handle(handle)
            .build()
            .expect("an entry")
    };
    let deleted = sqs
        .delete_message_batch()
        .queue_url(&url)
        .entries(delete(
            "first",
            received.messages()[0].receipt_handle().expect("a handle"),
        ))
        .entries(delete("bogus", "not-a-handle"))
        .send()
        .await
        .expect("DeleteMessageBatch");
    assert_eq!(deleted.successful()[0].id(), "first");
    assert_eq!(deleted.failed()[0].id(), "bogus");
    assert_eq!(deleted.failed()[0].code(), "ReceiptHandleIsInvalid");
    assert_eq!(cloud.depth(&url).await, (0, 2));

    sqs.purge_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("PurgeQueue");
    assert_eq!(cloud.depth(&url).await, (0, 0));

    let listed = sqs.list_queues().send().await.expect("ListQueues");
    let mut names: Vec<&str> = listed
        .queue_urls()
        .iter()
        .map(|url| url.rsplit('/').next().expect("a name"))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["RegistrationsDeadLetterQueue", "RegistrationsQueue"]
    );

    let missing = sqs
        .get_queue_url()
        .queue_name("nope")
        .send()
        .await
        .expect_err("no such queue");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_queue_does_not_exist()),
        "{missing:?}"
    );
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .expect("SendMessage");
    let visible_again = sqs
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(0)
        .send()
        .await
        .expect("ReceiveMessage");
    let not_in_flight = sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(
            visible_again.messages()[0]
                .receipt_handle()
                .expect("a handle"),
        )
        .visibility_timeout(30)
        .send()
        .await
        .expect_err("the message is visible, not in flight");
    assert!(
        not_in_flight
            .as_service_error()
            .is_some_and(|e| e.is_message_not_inflight()),
        "{not_in_flight:?}"
    );
    let too_many = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(11)
        .send()
        .await
        .expect_err("at most 10 per receive");
    assert_eq!(
        aws_sdk_sqs::error::ProvideErrorMetadata::code(&too_many),
        Some("InvalidParameterValue")
    );
    cloud.emulator.shutdown().await;
}

/// The payment binary's publisher: the order as the body, the trace header as SQS's system
/// attribute.
#[tokio::test]
async fn the_sqs_publisher_puts_the_order_and_its_trace_on_the_queue() {
    let cloud = start(|config| config.event_sources = false).await;
    let url = cloud.queue_url("RegistrationsQueue").await;
    let order = example_order();
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    SqsPublisher::new(&cloud.aws, &url)
        .publish(&order, Some(trace))
        .await
        .expect("published");

    let received = cloud
        .sqs()
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .await
        .expect("ReceiveMessage");
    let message = &received.messages()[0];
    assert_eq!(
        OrderPlaced::from_json(message.body().expect("a body")).expect("an OrderPlaced"),
        order
    );
    assert_eq!(
        message.attributes().expect("attributes")[&MessageSystemAttributeName::AwsTraceHeader],
        trace
    );

    let missing = SqsPublisher::new(&cloud.aws, "http://127.0.0.1:1/000000000000/nope")
        .publish(&order, None)
        .await
        .expect_err("no such queue");
    let missing = function_model::chain(&missing);
    assert_eq!(
        missing,
        "could not publish the order: SQS SendMessage failed: service error: \
         QueueDoesNotExist: The specified queue does not exist."
    );
    cloud.emulator.shutdown().await;
}

/// The payment's publisher and the orchestrator's starter against the local cloud: an order
/// published on SQS is consumed, its execution (named by the order id) runs to success, and
/// starting it again is `AlreadyStarted`, as `ExecutionAlreadyExists` means on AWS.
#[tokio::test]
async fn step_functions_starts_an_execution_once_per_name() {
    let cloud = start(|_| {}).await;
    let sfn = cloud.sfn();
    let machine = state_machine_arn(STATE_MACHINE);
    let order = example_order();
    let name = order.order_id.to_string();
    let url = cloud.queue_url("RegistrationsQueue").await;
    SqsPublisher::new(&cloud.aws, &url)
        .publish(&order, None)
        .await
        .expect("published");

    let execution_arn =
        format!("arn:aws:states:us-east-1:000000000000:execution:{STATE_MACHINE}:{name}");
    let mut described = None;
    for _ in 0..200 {
        match sfn
            .describe_execution()
            .execution_arn(&execution_arn)
            .send()
            .await
        {
            Ok(execution) if execution.status() == &ExecutionStatus::Succeeded => {
                described = Some(execution);
                break;
            }
            Ok(_) => {}
            Err(e) => assert!(
                e.as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()),
                "{e:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let described = described.expect("the execution succeeds within 10 s");
    assert_eq!(described.name(), Some(name.as_str()));
    assert_eq!(described.state_machine_arn(), machine);
    let input: Value = serde_json::from_str(described.input().expect("input")).expect("JSON");
    assert_eq!(input["order"]["orderId"], json!(name));
    assert!(described.output().is_some() && described.stop_date().is_some());

    let history = sfn
        .get_execution_history()
        .execution_arn(&execution_arn)
        .max_results(1000)
        .send()
        .await
        .expect("GetExecutionHistory");
    let kinds: Vec<HistoryEventType> = history
        .events()
        .iter()
        .map(|event| event.r#type().clone())
        .collect();
    assert_eq!(kinds.first(), Some(&HistoryEventType::ExecutionStarted));
    assert_eq!(kinds.last(), Some(&HistoryEventType::ExecutionSucceeded));
    for expected in [
        HistoryEventType::ParallelStateEntered,
        HistoryEventType::ParallelStateStarted,
        HistoryEventType::TaskStateEntered,
        HistoryEventType::LambdaFunctionScheduled,
        HistoryEventType::LambdaFunctionSucceeded,
        HistoryEventType::TaskStateExited,
        HistoryEventType::ParallelStateSucceeded,
    ] {
        assert!(kinds.contains(&expected), "{expected:?} in {kinds:?}");
    }
    assert!(
        kinds
            .iter()
            .all(|kind| HistoryEventType::values().contains(&kind.as_str())),
        "every event has a Step Functions type: {kinds:?}"
    );
    let ids: Vec<i64> = history.events().iter().map(|event| event.id()).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    let first_page = sfn
        .get_execution_history()
        .execution_arn(&execution_arn)
        .max_results(2)
        .reverse_order(true)
        .send()
        .await
        .expect("GetExecutionHistory");
    assert_eq!(first_page.events().len(), 2);
    assert_eq!(
        first_page.events()[0].r#type(),
        &HistoryEventType::ExecutionSucceeded,
        "newest first"
    );
    assert!(first_page.next_token().is_some());

    let starter = StepFunctionsStarter::new(&cloud.aws, &machine);
    assert!(
        matches!(
            starter.start(&name, input.clone()).await,
            Ok(StartOutcome::AlreadyStarted)
        ),
        "a redelivered order starts nothing"
    );
    let duplicate = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(&name)
        .input("{}")
        .send()
        .await
        .expect_err("a name is used once");
    assert!(
        duplicate
            .as_service_error()
            .is_some_and(|e| e.is_execution_already_exists()),
        "{duplicate:?}"
    );

    let listed = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Succeeded)
        .send()
        .await
        .expect("ListExecutions");
    assert_eq!(listed.executions()[0].name(), name);

    let no_machine = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn("Other"))
        .send()
        .await
        .expect_err("no such state machine");
    assert!(
        no_machine
            .as_service_error()
            .is_some_and(|e| e.is_state_machine_does_not_exist()),
        "{no_machine:?}"
    );
    let bad_name = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("a/b")
        .send()
        .await
        .expect_err("an invalid name");
    assert!(
        bad_name
            .as_service_error()
            .is_some_and(|e| e.is_invalid_name()),
        "{bad_name:?}"
    );
    cloud.emulator.shutdown().await;
}

#[tokio::test]
async fn lambda_invoke_answers_payloads_and_function_errors_as_lambda_does() {
    let cloud = start(|_| {}).await;
    let lambda = cloud.lambda();
    let order = include_str!("../../../shared/domain/data/order-placed.example.json");

    let saved = lambda
        .invoke()
        .function_name("save-order")
        .payload(aws_sdk_lambda::primitives::Blob::new(order))
        .send()
        .await
        .expect("Invoke");
    assert_eq!(saved.status_code(), 200);
    assert_eq!(saved.function_error(), None);
    assert_eq!(saved.executed_version(), Some("$LATEST"));
    let payload: Value =
        serde_json::from_slice(saved.payload().expect("a payload").as_ref()).expect("JSON");
    assert_eq!(payload["saved"], "inserted", "{payload}");

    let refused = lambda
        .invoke()
        .function_name(function_model::local_function_arn("save-order"))
        .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"orderId": 1}"#))
        .send()
        .await
        .expect("Invoke");
    assert_eq!(refused.function_error(), Some("Unhandled"));
    let failure: Value =
        serde_json::from_slice(refused.payload().expect("a payload").as_ref()).expect("JSON");
    assert_eq!(failure["errorType"], "InvalidInput", "{failure}");

    let queued = lambda
        .invoke()
        .function_name("save-order")
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(aws_sdk_lambda::primitives::Blob::new(order))
        .send()
        .await
        .expect("Invoke");
    assert_eq!(queued.status_code(), 202);

    let missing = lambda
        .invoke()
        .function_name("nope")
        .send()
        .await
        .expect_err("no such function");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{missing:?}"
    );

    let unsigned = reqwest::Client::new()
        .post(format!(
            "{}/2015-03-31/functions/save-order/invocations",
            cloud.emulator.url()
        ))
        .body(order)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        unsigned.status(),
        403,
        "an unsigned call (a web page) is refused"
    );
    cloud.emulator.shutdown().await;
}
