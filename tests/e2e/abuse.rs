//! Abuse: a card tester, a flood and a stampede, each met where the deployed system meets it (the
//! payment function's decline limits, API Gateway's throttling, Lambda's reserved concurrency),
//! with the answers a client gets from each. The client addresses are loopback addresses other
//! than 127.0.0.1, which Linux answers on: the emulator sees each as a client of its own.

use std::net::IpAddr;
use std::time::Duration;

use end_to_end::{azure, card_number, registration, spawn_app, spawn_app_with, unique_email};
use serde_json::{Value, json};

/// The payment function's default limit of declines per client address within its window.
const DECLINES_PER_ADDRESS: usize = 10;

/// A card tester runs twenty stolen numbers (each with its own email) from one address: after
/// the limit every try is a 429 with `Retry-After`, answered before PayPal is called, while an
/// attendee at another address registers as usual. Both clouds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_tester_is_stopped_before_paypal_and_other_attendees_still_register() {
    let app = spawn_app().await;
    let tester: IpAddr = [127, 0, 0, 2].into();
    for n in 0..20 {
        let mut body = registration(&unique_email("tester"), "CCREJECT-REFUSED", false);
        // The first is the test card, which the card-data scan at the end looks for (in the
        // declines' table too); the others are numbers of its brand.
        if n > 0 {
            body["card"]["number"] = json!(card_number(n));
        }
        let (status, answer, retry_after) = app.register_from(tester, &body).await;
        if (n as usize) < DECLINES_PER_ADDRESS {
            assert_eq!(status, 402, "try {n}: {answer}");
            continue;
        }
        assert_eq!(status, 429, "try {n}: {answer}");
        let seconds: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
        assert!((3500..=3600).contains(&seconds), "{seconds}");
        let message = answer["error"].as_str().expect("a message");
        assert!(message.contains("Nothing was charged"), "{message}");
    }
    let declined = app
        .inspect("payments")
        .await
        .into_iter()
        .filter(|payment| payment["status"] != "COMPLETED")
        .count();
    assert_eq!(declined, DECLINES_PER_ADDRESS, "PayPal saw only the limit");

    let attendee = registration(&unique_email("attendee"), "Ada Lovelace", false);
    let (status, answer, _) = app.register_from([127, 0, 0, 3].into(), &attendee).await;
    assert_eq!(status, 201, "{answer}");
    app.assert_no_card_data().await;
}

/// A burst over the registration route's throttling (here lowered with the template's
/// parameters) gets API Gateway's own 429, whatever the function would have answered; the other
/// routes keep their own throttle. AWS only: Azure's HTTP throttling is per instance, in
/// host.json, and not emulated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_routes_throttling_gets_api_gateways_429() {
    if azure() {
        eprintln!("SKIPPED: API Gateway's throttling is AWS's (E2E_CLOUD=aws)");
        return;
    }
    let app = spawn_app_with(|config| {
        config.parameter_overrides = vec![
            ("RegistrationBurstLimit".into(), "5".into()),
            ("RegistrationRateLimit".into(), "1".into()),
        ];
    })
    .await;
    // Invalid bodies: the function answers them at once, so the throttle is all that is tested.
    let burst = (0..20).map(|_| app.post_raw("{}", "application/json", None));
    let answers = futures_util::future::join_all(burst).await;
    let throttled: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 429)
        .map(|(_, body)| body)
        .collect();
    let served = answers.len() - throttled.len();
    assert!((5..=7).contains(&served), "{served} served: {answers:?}");
    for body in &throttled {
        assert_eq!(**body, json!({"message": "Too Many Requests"}));
    }
    let tickets = app.get("/api/tickets").await;
    assert!(tickets["tickets"].is_array(), "{tickets}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = app.post_raw("{}", "application/json", None).await;
    assert_eq!(status, 422, "a token back after a second at 1/s");
}

/// Past the payment function's reserved concurrency (lowered to 2), Lambda throttles the
/// invocation and API Gateway answers 500; once one finishes, the next is served. AWS only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_concurrency_is_enforced() {
    if azure() {
        eprintln!("SKIPPED: reserved concurrency is Lambda's (E2E_CLOUD=aws)");
        return;
    }
    let app = spawn_app_with(|config| {
        config.parameter_overrides = vec![("PaymentReservedConcurrency".into(), "2".into())];
    })
    .await;
    app.inject_fault(json!({"target": "payment", "mode": "slow", "delayMs": 1500, "times": 2}))
        .await;
    let app = &app;
    let slow = |who: &'static str| {
        let body = registration(&unique_email(who), "Ada Lovelace", false);
        async move { app.register(&body, None).await }
    };
    let third = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        slow("third").await
    };
    let (first, second, third) = tokio::join!(slow("first"), slow("second"), third);
    assert_eq!(first.0, 201, "{first:?}");
    assert_eq!(second.0, 201, "{second:?}");
    assert_eq!(
        third,
        (500, json!({"message": "Internal Server Error"})),
        "throttled"
    );
    let (status, answer) = slow("fourth").await;
    assert_eq!(status, 201, "{answer}");
}
