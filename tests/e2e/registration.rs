use end_to_end::{REGISTRATION_STATES, queues, registration, spawn_app, unique_email};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_registration_is_paid_stored_confirmed_and_subscribed() {
    let app = spawn_app().await;
    let email = unique_email("ada");
    let (status, body) = app
        .register(
            &registration(&email, "Ada Lovelace", true),
            Some(&uuid::Uuid::new_v4().to_string()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["amount"],
        json!({"value": "250.00", "currency": "USD"})
    );
    let id = body["registrationId"]
        .as_str()
        .expect("registration id")
        .to_owned();

    let execution = app.finished_execution(&id).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let entered: Vec<&str> = execution["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "StateEntered")
        .filter_map(|e| e["state"].as_str())
        .collect();
    for state in REGISTRATION_STATES {
        assert!(entered.contains(&state), "{state} not entered: {entered:?}");
    }

    let orders = app.inspect("orders").await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["orderId"], id.as_str());
    assert_eq!(orders[0]["attendee"]["email"], email.as_str());
    assert_eq!(orders[0]["amount"]["value"], "250.00");

    let outbox = app.inspect("outbox").await;
    assert_eq!(outbox.len(), 1, "one confirmation");
    assert_eq!(outbox[0]["to"], json!([email]));
    for body in ["html", "text"] {
        let text = outbox[0][body].as_str().expect("email body");
        assert!(
            text.contains(&id) && text.contains("Conference pass"),
            "{body}: {text}"
        );
    }

    // The inspector serves the email's HTML part as a page of its own, for its sandboxed frame:
    // the same HTML, under a policy that runs no script and fetches nothing.
    let email_page = |id: &str| {
        app.client()
            .get(format!(
                "http://{}/_emulator/api/outbox/{id}/html",
                app.addr()
            ))
            .send()
    };
    let email_id = outbox[0]["id"].as_str().expect("an email id");
    let page = email_page(email_id).await.expect("request sent");
    assert_eq!(page.status(), 200);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let policy = header("content-security-policy");
    for directive in ["default-src 'none'", "sandbox", "frame-ancestors 'self'"] {
        assert!(policy.contains(directive), "{directive} not in {policy}");
    }
    assert!(!policy.contains("script-src"), "{policy}");
    assert_eq!(header("x-frame-options"), "SAMEORIGIN");
    assert_eq!(page.text().await.expect("a body"), outbox[0]["html"]);
    let missing = email_page("nope").await.expect("request sent");
    assert_eq!(missing.status(), 404);

    // What the inspector draws: the workflow's definition, and each state of this execution
    // succeeded, with the input and output that the replay of its checkpoints gives.
    let workflow = app.get("/_emulator/api/workflow").await;
    assert_eq!(workflow["definition"]["StartAt"], "Register");
    for state in REGISTRATION_STATES {
        let run = &execution["states"][state];
        assert_eq!(run["status"], "SUCCEEDED", "{state}: {run}");
        assert!(run["input"].to_string().contains(&id), "{state}: {run}");
    }
    assert_eq!(
        execution["states"]["SaveOrder"]["output"]["orderId"],
        id.as_str()
    );
    assert!(execution["states"].get("SaveOrderFailed").is_none());

    let audience = app.inspect("audience").await;
    assert_eq!(audience.len(), 1);
    assert_eq!(audience[0]["emailAddress"], email.as_str());

    let payments = app.completed_payments().await;
    assert_eq!(payments.len(), 1);
    assert_eq!(
        payments[0]["card"],
        json!({"brand": "VISA", "lastDigits": "1881"})
    );
    assert_eq!(
        payments[0]["amount"],
        json!({"value": "250.00", "currency": "USD"})
    );
    assert_eq!(payments[0]["orderId"], id.as_str());
    app.assert_no_card_data().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_consent_the_attendee_is_not_added_to_the_audience() {
    let app = spawn_app().await;
    let (status, body) = app
        .register(
            &registration(&unique_email("bob"), "Bob Babbage", false),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let execution = app
        .finished_execution(body["registrationId"].as_str().expect("id"))
        .await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(
        execution["output"]["steps"][2],
        json!({"subscribed": false, "skipped": "no consent"})
    );
    assert!(app.inspect("audience").await.is_empty());
    assert_eq!(
        app.inspect("outbox").await.len(),
        1,
        "the confirmation is still sent"
    );
    app.assert_no_card_data().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_is_402_and_nothing_happens_after_it() {
    let app = spawn_app().await;
    let (status, body) = app
        .register(
            &registration(&unique_email("carol"), "CCREJECT-REFUSED", true),
            None,
        )
        .await;
    assert_eq!(status, 402, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("another card")),
        "{body}"
    );
    // The payment function publishes an order before it answers: had it published one, the
    // order would have started an execution (or been dead-lettered) by the time the queue is
    // drained.
    app.drained(queues().registrations).await;
    assert_eq!(app.queue(queues().registrations).await["deadLettered"], 0);
    assert!(app.inspect("executions").await.is_empty());
    assert!(app.inspect("orders").await.is_empty());
    assert!(app.completed_payments().await.is_empty(), "nothing charged");
    let attempts = app.inspect("payments").await;
    assert_eq!(
        attempts.len(),
        1,
        "one attempt reached PayPal: {attempts:?}"
    );
    assert_eq!(attempts[0]["status"], "DECLINED");
    app.assert_no_card_data().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_precise_errors_and_charges_nothing() {
    let app = spawn_app().await;
    let mut body = registration("not-an-email", "Ada", true);
    body["ticket"] = json!("nope");
    body["attendee"]["firstName"] = json!("");
    body["card"]["number"] = json!("4012888888881882");
    let (status, response) = app.register(&body, None).await;
    assert_eq!(status, 422, "{response}");
    let fields = response["fields"].as_object().expect("per-field errors");
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "attendee.email",
            "attendee.firstName",
            "card.number",
            "ticket"
        ]
    );

    let (status, response) = app
        .post_raw("this is not json", "application/json", None)
        .await;
    assert_eq!(status, 400, "{response}");
    assert!(
        response["error"]
            .as_str()
            .is_some_and(|e| e.contains("not valid JSON"))
    );

    let (status, _) = app
        .post_raw(vec![b'{'; 64 * 1024], "application/json", None)
        .await;
    assert_eq!(status, 413);
    let (status, _) = app
        .post_raw(vec![b'{'; 11 * 1024 * 1024], "application/json", None)
        .await;
    assert_eq!(status, 413, "the gateway refuses huge bodies too");

    let (status, _) = app
        .post_raw(
            registration("a@example.org", "Ada", true).to_string(),
            "text/plain",
            None,
        )
        .await;
    assert_eq!(status, 415);

    assert!(app.inspect("payments").await.is_empty());
    app.assert_no_card_data().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_and_the_ticket_list_are_served() {
    let app = spawn_app().await;
    let tickets = app.get("/api/tickets").await;
    let tickets = tickets["tickets"].as_array().expect("tickets");
    assert!(tickets.len() >= 2);
    assert!(
        tickets
            .iter()
            .all(|t| t["price"]["value"].is_string() && t["id"].is_string())
    );
    let page = reqwest::get(format!("{}/", app.url))
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("<form") && page.contains("app.js"),
        "the registration page"
    );
    for asset in ["app.js", "style.css"] {
        let response = reqwest::get(format!("{}/{asset}", app.url))
            .await
            .expect("asset");
        assert_eq!(response.status().as_u16(), 200, "{asset}");
    }
    assert_eq!(app.get("/_emulator/api/health").await["status"], "ok");
    let inspector = reqwest::get(format!("{}/_emulator", app.url))
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        inspector.contains("/_emulator/api/"),
        "the inspector page reads the JSON API"
    );
}

/// The gateway passes the caller's trace header to the payment function (or starts a trace), and
/// the order carries it to the orchestrator as a message attribute: X-Ray's `X-Amzn-Trace-Id` as
/// `AWSTraceHeader` on AWS; on Azure the W3C `traceparent` as `Diagnostic-Id`, which the host's
/// Service Bus output sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_header_travels_with_the_order() {
    let app = spawn_app().await;
    // The orchestrator fails until cleared, so the messages stay on the queue to be read.
    app.inject_fault(json!({"target": "orchestrator", "mode": "fail"}))
        .await;
    let (header, trace, attribute) = if end_to_end::azure() {
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "Diagnostic-Id",
        )
    } else {
        (
            "x-amzn-trace-id",
            "Root=1-67891233-abcdef012345678912345678",
            "AWSTraceHeader",
        )
    };
    let traced = app
        .client()
        .post(format!("{}/api/registrations", app.url))
        .header(header, trace)
        .json(&registration(
            &unique_email("traced"),
            "Ada Lovelace",
            false,
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(traced.status(), 201);
    let (status, _) = app
        .register(
            &registration(&unique_email("untraced"), "Ada Lovelace", false),
            None,
        )
        .await;
    assert_eq!(status, 201);
    // On the queue, or already dead-lettered (a failed delivery on Azure is abandoned, and
    // delivered again, at once); read again if one moved between the two reads.
    let read_traces = || async {
        let mut traces = Vec::new();
        for name in [queues().registrations, queues().registrations_dead_letters] {
            let queue = app.queue(name).await;
            for message in queue["messages"].as_array().expect("messages") {
                if let Some(trace) = message["attributes"][attribute].as_str() {
                    traces.push(trace.to_owned());
                }
            }
        }
        traces
    };
    let found = app
        .eventually(10, || async {
            let traces = read_traces().await;
            (traces.len() == 2).then_some(traces)
        })
        .await;
    let Some(traces) = found else {
        panic!(
            "two traced messages within 10 s; found {:?}",
            read_traces().await
        );
    };
    let traces: Vec<&str> = traces.iter().map(String::as_str).collect();
    assert!(traces.contains(&trace), "the caller's trace: {traces:?}");
    let started = traces
        .iter()
        .find(|t| **t != trace)
        .expect("a second trace");
    assert!(
        started.len() == trace.len() && started[..3] == trace[..3],
        "a new trace: {started}"
    );
    app.clear_faults().await;
    app.drained(queues().registrations).await;
}
