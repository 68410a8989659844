//! One registration's story (`/_emulator/api/stories/{order}`): every step of one order on one
//! time axis. In process mode (`E2E_FUNCTIONS=process`, the emulator's default), each function's
//! invocation is there with its log lines, attributed by the `requestId` of the JSON lines the
//! functions print (`template.yaml`'s `LoggingConfig: JSON`), and the order's message with its
//! deliveries; in every mode, the execution and its states.

use end_to_end::{REGISTRATION_STATES, process_mode, registration, spawn_app, unique_email};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrations_story_has_every_step_with_its_log_lines() {
    let app = spawn_app().await;
    let email = unique_email("grace");
    let (status, body) = app
        .register(&registration(&email, "Grace Hopper", true), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["registrationId"].as_str().expect("id").to_owned();
    app.finished_execution(&id).await;

    // Lines reach the story through a pipe, after their invocation may have answered.
    let story = app
        .eventually(10, || async {
            let story = app.get(&format!("/_emulator/api/stories/{id}")).await;
            let logged = |function: &str| {
                story["steps"].as_array().into_iter().flatten().any(|step| {
                    step["name"] == function
                        && step["log"].as_array().is_some_and(|l| !l.is_empty())
                })
            };
            let complete = !process_mode()
                || [
                    "payment",
                    "orchestrator",
                    "save-order",
                    "email",
                    "mailing-list",
                ]
                .iter()
                .all(|f| logged(f));
            complete.then_some(story)
        })
        .await
        .expect("the story is complete within 10 s");
    let steps = story["steps"].as_array().expect("steps");
    let of_kind =
        |kind: &str| -> Vec<&Value> { steps.iter().filter(|s| s["kind"] == kind).collect() };
    let execution = of_kind("execution");
    assert_eq!(execution.len(), 1, "{story}");
    assert_eq!(execution[0]["status"], "SUCCEEDED");
    let states: Vec<&str> = of_kind("state")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for state in REGISTRATION_STATES {
        assert!(states.contains(&state), "{state} in {states:?}");
    }
    let starts: Vec<&str> = steps
        .iter()
        .filter_map(|s| s["startedAt"].as_str())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "on one time axis: {starts:?}"
    );
    if !process_mode() {
        return;
    }
    let invocations = of_kind("invocation");
    let functions: Vec<&str> = invocations
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        functions[..2],
        ["payment", "orchestrator"],
        "the POST's function, then the queue's consumer: {functions:?}"
    );
    for invocation in &invocations {
        assert_eq!(invocation["status"], "SUCCEEDED", "{invocation}");
        assert!(
            invocation["durationMs"].as_f64() > Some(0.0),
            "{invocation}"
        );
    }
    let payment = invocations[0];
    let trace_id = payment["traceId"].as_str().expect("the POST's trace id");
    assert!(trace_id.starts_with("Root="), "{payment}");
    let traced = app.get(&format!("/_emulator/api/stories/{trace_id}")).await;
    assert_eq!(
        traced["orderId"],
        id.as_str(),
        "the trace id leads to its registration"
    );
    let email_lines = invocations
        .iter()
        .find(|s| s["name"] == "email")
        .map(|s| s["log"].to_string())
        .unwrap_or_default();
    assert!(
        email_lines.contains("confirmation email sent") && email_lines.contains(&id),
        "the email function's own line, with the order: {email_lines}"
    );
    let message = of_kind("message");
    assert_eq!(message.len(), 1, "{story}");
    assert_eq!(message[0]["name"], "RegistrationsQueue");
    assert_eq!(message[0]["deliveries"], 1);

    let (status, missing) = app
        .inspector_call(
            reqwest::Method::GET,
            format!("{}/_emulator/api/stories/no-such-order", app.url),
            None,
        )
        .await;
    assert_eq!(status, 404, "{missing}");
}
