use std::time::Duration;

use end_to_end::{queues, registration, spawn_app, spawn_app_with, unique_email};
use serde_json::{Value, json};

fn events_of<'a>(execution: &'a Value, kind: &str, state: &str) -> Vec<&'a Value> {
    execution["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == kind && e["state"] == state)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_task_failing_twice_is_retried_and_sends_one_email() {
    let app = spawn_app().await;
    app.inject_fault(json!({"target": "email", "mode": "fail", "times": 2}))
        .await;
    let email = unique_email("ada");
    let (status, body) = app
        .register(&registration(&email, "Ada Lovelace", true), None)
        .await;
    assert_eq!(status, 201);
    let execution = app
        .finished_execution(body["registrationId"].as_str().expect("id"))
        .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(
        events_of(&execution, "TaskFailed", "SendConfirmation").len(),
        2
    );
    assert_eq!(
        events_of(&execution, "TaskRetryScheduled", "SendConfirmation").len(),
        2
    );
    assert_eq!(
        events_of(&execution, "TaskSucceeded", "SendConfirmation").len(),
        1
    );
    let outbox = app.inspect("outbox").await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["to"], json!([email]));
    app.assert_no_card_data().await;
}

/// An email provider outage that outlasts the retries fails the execution (the order is saved and
/// the attendee subscribed meanwhile); once the provider is back, one redrive sends the missing
/// email and runs nothing else: no second save, subscription or charge. On AWS through the local
/// Step Functions' `RedriveExecution`, on Azure through the app's `redrive` function; the
/// inspector's Redrive button calls either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_outage_fails_the_execution_and_one_redrive_sends_only_the_missing_email() {
    let app = spawn_app().await;
    app.inject_fault(json!({"target": "sendgrid", "mode": "fail"}))
        .await;
    let email = unique_email("ada");
    let (status, body) = app
        .register(&registration(&email, "Ada Lovelace", true), None)
        .await;
    assert_eq!(status, 201);
    let id = body["registrationId"].as_str().expect("id");
    let execution = app.finished_execution(id).await;
    assert_eq!(execution["status"], "FAILED", "{execution}");
    assert_eq!(execution["error"], "ProviderUnavailable");
    // The inspector lists it under its status, and not under another; an unknown one is a 422.
    let app_ref = &app;
    let listed = |status: &str| {
        let path = format!("/_emulator/api/executions?status={status}");
        async move {
            app_ref.get(&path).await["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let failed = listed("FAILED").await;
    assert!(failed.iter().any(|e| e["name"] == id), "{failed:?}");
    assert!(failed.iter().all(|e| e["status"] == "FAILED"), "{failed:?}");
    assert!(!listed("SUCCEEDED").await.iter().any(|e| e["name"] == id));
    let (status, _) = app
        .inspector_call(
            reqwest::Method::GET,
            format!("{}/_emulator/api/executions?status=DONE", app.url),
            None,
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        events_of(&execution, "TaskFailed", "SendConfirmation").len(),
        4,
        "one try and three retries"
    );
    // What the inspector draws of each state: the email task failed after its four tries, the
    // other branches succeeded (their inputs and outputs replayed from the checkpoints), the
    // Parallel state failed with the email's error.
    let states = &execution["states"];
    let email_state = &states["SendConfirmation"];
    assert_eq!(
        (
            &email_state["status"],
            &email_state["attempts"],
            &email_state["error"]
        ),
        (&json!("FAILED"), &json!(4), &json!("ProviderUnavailable")),
        "{states}"
    );
    assert!(
        email_state["input"].to_string().contains(id),
        "{email_state}"
    );
    for succeeded in ["SaveOrder", "AddToMailingList"] {
        let state = &states[succeeded];
        assert_eq!(state["status"], "SUCCEEDED", "{succeeded}: {states}");
        assert!(state["output"].is_object(), "{succeeded}: {state}");
        assert!(
            state["durationMs"].as_i64() >= Some(0),
            "{succeeded}: {state}"
        );
    }
    assert_eq!(states["Register"]["status"], "FAILED", "{states}");
    assert_eq!(app.inspect("orders").await.len(), 1, "the order is saved");
    assert!(app.inspect("outbox").await.is_empty());
    let audience = app.inspect("audience").await;
    assert_eq!(audience.len(), 1, "the attendee is subscribed");

    // The provider is back. Every task invocation asks the fault injector first: a fault armed
    // on save-order and on mailing-list that is still armed after the redrive shows they did not
    // run again.
    app.clear_faults().await;
    for target in ["save-order", "mailing-list"] {
        app.inject_fault(json!({"target": target, "mode": "slow", "delayMs": 1, "times": 1}))
            .await;
    }
    let (status, answer) = app.redrive(id).await;
    assert!(status == 200 || status == 202, "{status} {answer}");
    let redriven = app.finished_execution(id).await;
    assert_eq!(redriven["status"], "SUCCEEDED", "{redriven}");
    assert_eq!(redriven["redriveCount"], 1, "{redriven}");
    let redrive_events = redriven["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "ExecutionRedriven")
        .count();
    assert_eq!(redrive_events, 1, "the history goes on after its redrive");
    let outbox = app.inspect("outbox").await;
    assert_eq!(outbox.len(), 1, "the missing email, once");
    assert_eq!(outbox[0]["to"], json!([email]));
    let armed: Vec<Value> = app
        .get("/_emulator/api/faults")
        .await
        .as_array()
        .expect("faults")
        .clone();
    assert_eq!(
        armed.len(),
        2,
        "save-order and mailing-list did not run again: {armed:?}"
    );
    assert_eq!(app.inspect("orders").await.len(), 1);
    assert_eq!(
        app.inspect("audience").await,
        audience,
        "no second subscription"
    );
    assert_eq!(app.completed_payments().await.len(), 1, "no second charge");

    let (status, refused) = app.redrive(id).await;
    assert_eq!(
        (status, &refused["error"]),
        (
            409,
            &json!("Execution is SUCCEEDED and cannot be redriven.")
        ),
        "{refused}"
    );
    app.assert_no_card_data().await;
}

/// A message that can never succeed goes to the dead-letter queue with its reason. On AWS the
/// orchestrator sends it there on its first delivery, instead of after `maxReceiveCount`
/// deliveries (with a 60 s visibility timeout, three deliveries would take two minutes). On Azure
/// a custom handler cannot dead-letter: each delivery fails at once, the host abandons it, and
/// Service Bus dead-letters it when its `maxDeliveryCount`th (here 3) delivery fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_is_dead_lettered_with_its_reason() {
    let app =
        spawn_app_with(|config| config.visibility_timeout = Some(Duration::from_secs(60))).await;
    app.send_to_queue(queues().registrations, "{\"not\": \"an order\"}")
        .await;
    let dead = app
        .eventually(10, || async {
            let dlq = app.queue(queues().registrations_dead_letters).await;
            (dlq["visible"] == 1).then_some(dlq)
        })
        .await
        .expect("dead-lettered within 10 s");
    let message = &dead["messages"][0];
    assert_eq!(message["body"], "{\"not\": \"an order\"}");
    if end_to_end::azure() {
        assert_eq!(
            message["attributes"]["DeadLetterReason"], "MaxDeliveryCountExceeded",
            "{message}"
        );
        let description = message["attributes"]["DeadLetterErrorDescription"]
            .as_str()
            .unwrap_or_default();
        assert!(
            description.contains("(delivery 3) failed with InvalidMessage"),
            "{description}"
        );
    } else {
        assert_eq!(message["attributes"]["DeadLetterReason"], "InvalidMessage");
    }
    // Left nowhere else: in-process the queue moved it; in process mode the orchestrator's
    // binary sent it to the dead-letter queue and reported it handled, as on AWS.
    let source = app.queue(queues().registrations).await;
    assert_eq!(
        (source["visible"].as_u64(), source["inFlight"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(app.inspect("executions").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_provider_outage_is_503_and_the_retry_with_the_same_key_charges_once() {
    let app = spawn_app().await;
    app.inject_fault(json!({"target": "paypal", "mode": "fail", "status": 503}))
        .await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = registration(&unique_email("ada"), "Ada Lovelace", true);
    let (status, response) = app.register(&body, Some(&key)).await;
    assert_eq!(status, 503, "{response}");
    assert!(app.completed_payments().await.is_empty());
    app.clear_faults().await;
    let (status, response) = app.register(&body, Some(&key)).await;
    assert_eq!(status, 201, "{response}");
    assert_eq!(app.completed_payments().await.len(), 1);
    app.assert_no_card_data().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_paypal_error_is_retried_by_the_client_with_the_same_request_id() {
    let app = spawn_app().await;
    app.inject_fault(json!({"target": "paypal", "mode": "fail", "status": 429, "times": 2}))
        .await;
    let (status, response) = app
        .register(
            &registration(&unique_email("ada"), "Ada Lovelace", true),
            None,
        )
        .await;
    assert_eq!(status, 201, "{response}");
    assert_eq!(app.completed_payments().await.len(), 1, "charged once");
    app.assert_no_card_data().await;
}

/// A dead-lettered order, once what made it fail is fixed, goes back to its queue from the
/// inspector, and its registration completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_order_redriven_from_the_inspector_completes() {
    let app = spawn_app().await;
    app.inject_fault(json!({"target": "orchestrator", "mode": "fail"}))
        .await;
    let email = unique_email("redriven");
    let (status, body) = app
        .register(&registration(&email, "Ada Lovelace", true), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["registrationId"].as_str().expect("id").to_owned();
    let dead_letters = queues().registrations_dead_letters;
    app.eventually(20, || async {
        (app.queue(dead_letters).await["visible"] == 1).then_some(())
    })
    .await
    .expect("dead-lettered after its deliveries failed");
    assert!(app.inspect("executions").await.is_empty());

    app.clear_faults().await;
    let (status, moved) = app
        .inspector_call(
            reqwest::Method::POST,
            app.queue_url(dead_letters, "redrive"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved, json!({ "moved": 1, "to": queues().registrations }));
    let execution = app.finished_execution(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(app.queue(dead_letters).await["visible"], 0);
    let outbox = app.inspect("outbox").await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["to"], json!([email]));
    app.assert_no_card_data().await;
}

/// The inspector deletes one message, purges a queue, and redrives only a dead-letter queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_deletes_a_message_and_purges_a_queue() {
    let app = spawn_app().await;
    let dead_letters = queues().registrations_dead_letters;
    app.send_to_queue(dead_letters, "{\"first\": 1}").await;
    app.send_to_queue(dead_letters, "{\"second\": 2}").await;
    let queue = app.queue(dead_letters).await;
    let first = queue["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["body"] == "{\"first\": 1}")
        .expect("the first message")["messageId"]
        .as_str()
        .expect("an id")
        .to_owned();
    let message_url = app.queue_url(dead_letters, &format!("messages/{first}"));
    let (status, _) = app
        .inspector_call(reqwest::Method::DELETE, message_url.clone(), None)
        .await;
    assert_eq!(status, 204);
    let (status, answer) = app
        .inspector_call(reqwest::Method::DELETE, message_url, None)
        .await;
    assert_eq!(status, 404, "{answer}");
    let left = app.queue(dead_letters).await;
    assert_eq!(left["messages"].as_array().map(Vec::len), Some(1), "{left}");
    assert_eq!(left["messages"][0]["body"], "{\"second\": 2}");

    let (status, purged) = app
        .inspector_call(
            reqwest::Method::DELETE,
            app.queue_url(dead_letters, "messages"),
            None,
        )
        .await;
    assert_eq!((status, purged), (200, json!({ "purged": 1 })));
    assert_eq!(app.queue(dead_letters).await["messages"], json!([]));

    let (status, refused) = app
        .inspector_call(
            reqwest::Method::POST,
            app.queue_url(queues().registrations, "redrive"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("no queue's dead-letter queue")),
        "{refused}"
    );
}
