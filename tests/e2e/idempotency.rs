use end_to_end::{queues, registration, spawn_app, unique_email};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_sent_twice_charges_stores_and_emails_once() {
    let app = spawn_app().await;
    let email = unique_email("ada");
    let key = uuid::Uuid::new_v4().to_string();
    let body = registration(&email, "Ada Lovelace", true);
    let (first_status, first) = app.register(&body, Some(&key)).await;
    let (second_status, second) = app.register(&body, Some(&key)).await;
    assert_eq!((first_status, second_status), (201, 201));
    assert_eq!(first, second, "the first answer, again");
    let id = first["registrationId"].as_str().expect("id");
    assert_eq!(app.finished_execution(id).await["status"], "SUCCEEDED");
    // Every order published has been taken up and its execution is over: a second charge, order,
    // execution or email would be there to count by now.
    app.drained(queues().registrations).await;

    let payments = app.completed_payments().await;
    assert_eq!(payments.len(), 1);
    assert_eq!(
        payments[0]["requestId"], first["registrationId"],
        "PayPal's request id is the order id, derived from the key"
    );
    assert_eq!(app.inspect("orders").await.len(), 1);
    assert_eq!(app.inspect("executions").await.len(), 1);
    assert_eq!(app.inspect("outbox").await.len(), 1);

    let mut other = body.clone();
    other["ticket"] = json!("student");
    let (status, response) = app.register(&other, Some(&key)).await;
    assert_eq!(status, 409, "{response}");
    assert_eq!(app.completed_payments().await.len(), 1);
    app.assert_no_card_data().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_order_delivered_twice_starts_one_execution() {
    let app = spawn_app().await;
    let mut order: serde_json::Value = serde_json::from_str(include_str!(
        "../../shared/domain/data/order-placed.example.json"
    ))
    .expect("JSON");
    order["orderId"] = json!("7d0c9a52-32a5-4c59-9d43-0d3c1d0f6a11");
    let order = order.to_string();
    app.send_to_queue(queues().registrations, &order).await;
    app.send_to_queue(queues().registrations, &order).await;
    let execution = app
        .finished_execution("7d0c9a52-32a5-4c59-9d43-0d3c1d0f6a11")
        .await;
    assert_eq!(execution["status"], "SUCCEEDED");
    app.drained(queues().registrations).await;
    assert_eq!(
        app.queue(queues().registrations).await["deadLettered"],
        0,
        "both deliveries were consumed, none dead-lettered"
    );
    assert_eq!(app.inspect("executions").await.len(), 1);
    assert_eq!(app.inspect("orders").await.len(), 1);
    assert_eq!(app.inspect("outbox").await.len(), 1);
}
