//! The emulator keeps what it accepts: the real binary is killed (SIGKILL) or stopped (SIGTERM) in
//! the middle of a paid registration, restarted on the same database, and every paid order ends up
//! stored exactly once, with one confirmation email, one audience member and one charge. On SQLite
//! and on PostgreSQL (a fresh database per test, dropped afterwards:
//! `order_store::testing::with_fresh_database`).
//!
//! Also here: two emulator processes sharing one PostgreSQL database take 20 concurrent requests
//! with one `Idempotency-Key` and charge once.
//!
//! With `E2E_FUNCTIONS=process` the emulator runs the functions' binaries (`--functions process`).
//!
//! These tests drive child processes over HTTP, as a user would; they wait for end states (the
//! counts reached, the execution finished), never for a fixed time before a negative check.

use std::time::Duration;

use order_store::testing::with_fresh_database;
use serde_json::{Value, json};

use crate::binary::{CARD, Emulator, registration, wait_until};

/// Where the emulator is when it is stopped.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// Paid (201), the message not yet taken by the orchestrator (which is slow).
    BeforeOrchestrator,
    /// The workflow runs and the email branch is slow (it has not sent yet): the email must go
    /// out once after the restart.
    WhileOneBranchIsSlow,
    /// Email and mailing list completed (their results checkpointed); save-order is still slow.
    AfterTwoBranchesCompleted,
}

/// Registers, stops the emulator with `signal` at `moment`, restarts it on the same database, and
/// checks that the registration completed exactly once.
async fn interrupt(database_url: String, signal: &str, moment: Moment) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let emulator = Emulator::start(&database_url, dir.path()).await;
    let (target, delay_ms) = match moment {
        Moment::BeforeOrchestrator => ("orchestrator", 5000),
        Moment::WhileOneBranchIsSlow => ("email", 5000),
        Moment::AfterTwoBranchesCompleted => ("save-order", 5000),
    };
    emulator
        .fault(json!({"target": target, "mode": "slow", "delayMs": delay_ms, "times": 1}))
        .await;
    let email = format!("restart.{}@example.org", uuid::Uuid::new_v4().simple());
    let key = uuid::Uuid::new_v4().to_string();
    let (status, paid) = emulator.post(&key, &registration(&email)).await;
    assert_eq!(status, 201, "{paid}");
    let order_id = paid["registrationId"].as_str().expect("an id").to_owned();
    match moment {
        Moment::BeforeOrchestrator => tokio::time::sleep(Duration::from_millis(500)).await,
        Moment::WhileOneBranchIsSlow => {
            wait_until(|| async { emulator.execution_status(&order_id).await.is_some() }).await;
            assert_eq!(
                emulator.count("outbox", &email).await,
                0,
                "stopped before the email"
            );
        }
        Moment::AfterTwoBranchesCompleted => {
            // A task's success enters the history after its checkpoint is written.
            wait_until(|| async {
                let succeeded = emulator.succeeded_tasks(&order_id).await;
                succeeded.contains(&"SendConfirmation".to_owned())
                    && succeeded.contains(&"AddToMailingList".to_owned())
            })
            .await;
            assert_eq!(
                emulator.count("orders", &email).await,
                0,
                "stopped before the order was stored"
            );
        }
    }
    emulator.stop(signal).await;

    let emulator = Emulator::start(&database_url, dir.path()).await;
    wait_until(|| async {
        emulator.execution_status(&order_id).await.as_deref() == Some("SUCCEEDED")
    })
    .await;
    let (status, replay) = emulator.post(&key, &registration(&email)).await;
    assert_eq!((status, &replay), (201, &paid), "the first answer, again");
    for (listing, needle) in [
        ("orders", email.as_str()),
        ("outbox", email.as_str()),
        ("audience", email.as_str()),
        ("payments", order_id.as_str()),
    ] {
        assert_eq!(
            emulator.count(listing, needle).await,
            1,
            "{listing} after SIG{signal} at {moment:?}\n{}",
            emulator.logs()
        );
    }
    let queues: Value = reqwest::get(emulator.api("queues"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert!(
        queues.to_string().contains(CARD).not(),
        "no card number in the queues"
    );
    emulator.stop("TERM").await;
}

use std::ops::Not;

macro_rules! interruptions {
    ($($name:ident: $signal:literal at $moment:ident;)*) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("a temporary directory");
                    let url = format!("sqlite://{}/registrations.db", dir.path().display());
                    interrupt(url, $signal, Moment::$moment).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    with_fresh_database("restart", |url| interrupt(url, $signal, Moment::$moment))
                        .await;
                }
            )*
        }
    };
}

interruptions! {
    kill_before_the_orchestrator_took_the_message: "KILL" at BeforeOrchestrator;
    kill_while_one_branch_is_slow: "KILL" at WhileOneBranchIsSlow;
    kill_after_two_branches_completed: "KILL" at AfterTwoBranchesCompleted;
    term_before_the_orchestrator_took_the_message: "TERM" at BeforeOrchestrator;
    term_while_one_branch_is_slow: "TERM" at WhileOneBranchIsSlow;
    term_after_two_branches_completed: "TERM" at AfterTwoBranchesCompleted;
}

/// A clean stop takes no new work: while a running execution finishes (its email branch is slow),
/// a new registration is answered 503 with `Retry-After`, and charged nothing; the running
/// execution completes before the process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_refuses_new_registrations_and_finishes_running_ones() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/registrations.db", dir.path().display());
    let mut emulator = Emulator::start(&url, dir.path()).await;
    emulator
        .fault(json!({"target": "email", "mode": "slow", "delayMs": 3000, "times": 1}))
        .await;
    let email = format!("stopping.{}@example.org", uuid::Uuid::new_v4().simple());
    let (status, paid) = emulator
        .post(&uuid::Uuid::new_v4().to_string(), &registration(&email))
        .await;
    assert_eq!(status, 201, "{paid}");
    let order_id = paid["registrationId"].as_str().expect("an id").to_owned();
    wait_until(|| async { emulator.execution_status(&order_id).await.is_some() }).await;

    emulator.signal("TERM");
    // The process handles the signal in its own time: wait until its gateway refuses work (a
    // GET charges nothing), so that the registration below cannot arrive before the signal.
    let tickets = format!("{}/api/tickets", emulator.url);
    wait_until(|| async {
        reqwest::get(&tickets)
            .await
            .is_ok_and(|response| response.status() == 503)
    })
    .await;
    let late = format!("late.{}@example.org", uuid::Uuid::new_v4().simple());
    let response = reqwest::Client::new()
        .post(format!("{}/api/registrations", emulator.url))
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&registration(&late))
        .send()
        .await
        .expect("the stopping emulator still answers");
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        emulator.count("payments", &late).await,
        0,
        "nothing charged"
    );
    emulator.exited("TERM").await;

    let emulator = Emulator::start(&url, dir.path()).await;
    assert_eq!(
        emulator.execution_status(&order_id).await.as_deref(),
        Some("SUCCEEDED"),
        "finished before the process exited"
    );
    assert_eq!(emulator.count("outbox", &email).await, 1);
    emulator.stop("TERM").await;
}

/// Two processes on one PostgreSQL database, 20 concurrent requests with one key while PayPal is
/// slow: one charge, one order; every answer is the registration (201) or "still running" (409).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_to_two_processes_on_one_database_charges_once() {
    with_fresh_database("restart", one_key_to_two_processes).await;
}

async fn one_key_to_two_processes(database_url: String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let first = Emulator::start(&database_url, dir.path()).await;
    let second = Emulator::start(&database_url, dir.path()).await;
    // A slow PayPal keeps the first charge running while the other requests arrive.
    for emulator in [&first, &second] {
        emulator
            .fault(json!({"target": "paypal", "mode": "slow", "delayMs": 1000, "times": 40}))
            .await;
    }
    let email = format!("twice.{}@example.org", uuid::Uuid::new_v4().simple());
    let key = uuid::Uuid::new_v4().to_string();
    let body = registration(&email);
    let answers = futures_util::future::join_all((0..20).map(|i| {
        let emulator = if i % 2 == 0 { &first } else { &second };
        emulator.post(&key, &body)
    }))
    .await;
    let mut ids = std::collections::HashSet::new();
    for (status, answer) in &answers {
        match status {
            201 => {
                ids.insert(answer["registrationId"].as_str().expect("an id").to_owned());
            }
            409 => {}
            other => panic!("answered {other}: {answer}"),
        }
    }
    assert_eq!(ids.len(), 1, "one registration: {answers:?}");
    let order_id = ids.into_iter().next().expect("one id");
    wait_until(|| async {
        first.execution_status(&order_id).await.as_deref() == Some("SUCCEEDED")
    })
    .await;
    assert_eq!(first.count("payments", &order_id).await, 1, "one charge");
    assert_eq!(first.count("orders", &email).await, 1, "one order");
    first.stop("TERM").await;
    second.stop("TERM").await;
}
