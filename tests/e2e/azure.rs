//! What only the Azure topology does, run with `E2E_CLOUD=azure` (elsewhere each test says it is
//! skipped): the orchestrator runs the workflow inside its invocation, so a crash in the middle
//! is healed by Service Bus delivering the message again. (A message delivered twice at once, and
//! one dead-lettered after `maxDeliveryCount`, are in `idempotency` and `failures`, run on both
//! topologies.)

use std::time::Duration;

use end_to_end::{azure, logs_contain, queues, registration, spawn_app_with, unique_email};
use serde_json::json;

/// The orchestrator's invocation times out while mailing-list is slow: the host restarts the
/// handler (the running execution stops there, after save-order and the email completed), and
/// abandons the message. Delivered again, the execution resumes from its checkpoints once its
/// lease has lapsed: the confirmation email is not sent a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_resumes_a_half_finished_execution_without_a_second_email() {
    if !azure() {
        eprintln!("SKIPPED: Azure only (E2E_CLOUD=azure)");
        return;
    }
    let app = spawn_app_with(|config| {
        config
            .function_timeouts
            .insert("orchestrator".into(), Duration::from_secs(3));
        // The redelivered message's invocation must outlive the dead one's lease to claim it.
        config.execution_lease = Duration::from_secs(1);
    })
    .await;
    app.inject_fault(
        json!({"target": "mailing-list", "mode": "slow", "delayMs": 6000, "times": 1}),
    )
    .await;
    let email = unique_email("resumed");
    let (status, body) = app
        .register(&registration(&email, "Ada Lovelace", true), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["registrationId"].as_str().expect("id").to_owned();
    let execution = app
        .eventually(60, || async {
            let executions = app.inspect("executions").await;
            executions
                .into_iter()
                .find(|e| e["name"] == id.as_str() && e["status"] != "RUNNING")
        })
        .await
        .unwrap_or_else(|| {
            let log = end_to_end::log_lines(&["handler"]).join("\n");
            panic!("the execution did not finish within a minute; the handler's log:\n{log}")
        });
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert!(
        logs_contain(&[&id, "resuming the execution from its checkpoints"]),
        "the second delivery resumed the execution"
    );
    let outbox = app.inspect("outbox").await;
    assert_eq!(outbox.len(), 1, "one confirmation email: {outbox:?}");
    assert_eq!(outbox[0]["to"], json!([email]));
    assert_eq!(app.inspect("audience").await.len(), 1);
    assert_eq!(app.inspect("orders").await.len(), 1);
    app.drained(queues().registrations).await;
    app.assert_no_card_data().await;
}
