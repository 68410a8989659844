//! Invoking one function from the terminal: `emulator invoke FUNCTION` against a running emulator
//! (the binary, in process mode, the functions as their binaries), with a sample event, prints
//! the answer and that invocation's log lines; an unknown function, an unreadable or malformed
//! event file, or no emulator at the endpoint is one line that names it, and exit status 2. And
//! Lambda's `LogType=Tail` through the official SDK, which `emulator invoke` and `aws lambda
//! invoke --log-type Tail` rely on: the log's end, base64, in `X-Amz-Log-Result`.

use std::process::{Command, Output};

use base64::Engine;
use serde_json::Value;

use crate::binary::{Emulator, free_port};

/// Runs `emulator invoke` with `args`.
fn invoke(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emulator"))
        .arg("invoke")
        .args(args)
        .output()
        .expect("the emulator binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_is_invoked_from_the_terminal_with_its_log() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}/invoke.db?mode=rwc", dir.path().display());
    let emulator = Emulator::start_with(
        &database,
        dir.path(),
        &["--functions", "process", "--no-watch"],
    )
    .await;
    let endpoint = emulator.url.clone();

    let saved = invoke(&["save-order", "--example", "order", "--endpoint", &endpoint]);
    assert_eq!(saved.status.code(), Some(0), "{}", text(&saved.stderr));
    let answer: Value = serde_json::from_slice(&saved.stdout).expect("the answer is JSON");
    assert_eq!(answer["saved"], "inserted", "{answer}");
    let log = text(&saved.stderr);
    for expected in [
        "START RequestId: ",
        // The function's JSON line, as a person reads it.
        "INFO order stored order_id=",
        "END RequestId: ",
        "REPORT RequestId: ",
    ] {
        assert!(log.contains(expected), "{expected:?} in the log:\n{log}");
    }

    let events = dir.path().join("event.json");
    std::fs::write(&events, r#"{"orderId": 1}"#).expect("written");
    let refused = invoke(&[
        "save-order",
        "--event",
        events.to_str().expect("a path"),
        "--endpoint",
        &endpoint,
    ]);
    assert_eq!(refused.status.code(), Some(1), "a function error");
    let answer: Value = serde_json::from_slice(&refused.stdout).expect("the error is JSON");
    assert_eq!(answer["errorType"], "InvalidInput", "{answer}");

    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, "{not json").expect("written");
    let missing = dir.path().join("missing.json");
    let no_emulator = format!("http://127.0.0.1:{}", free_port());
    for (args, names) in [
        (
            vec!["nope", "--example", "order", "--endpoint", &endpoint],
            "no function named \"nope\"",
        ),
        (
            vec![
                "email",
                "--event",
                missing.to_str().expect("a path"),
                "--endpoint",
                &endpoint,
            ],
            "missing.json could not be read",
        ),
        (
            vec![
                "email",
                "--event",
                malformed.to_str().expect("a path"),
                "--endpoint",
                &endpoint,
            ],
            "malformed.json is not JSON",
        ),
        (
            vec!["email", "--example", "order", "--endpoint", &no_emulator],
            "no emulator answers at",
        ),
        (
            vec!["email", "--example", "nothing", "--endpoint", &endpoint],
            "no example named \"nothing\"",
        ),
    ] {
        let failed = invoke(&args);
        let stderr = text(&failed.stderr);
        assert_eq!(failed.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(names), "{args:?}: {stderr}");
        assert!(failed.stdout.is_empty(), "{args:?}");
    }

    let lambda = crate::support::client!(aws_sdk_lambda, &endpoint);
    let tailed = lambda
        .invoke()
        .function_name("email")
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .payload(aws_sdk_lambda::primitives::Blob::new(
            emulator::invoke::examples::example("order")
                .expect("the order example")
                .to_string(),
        ))
        .send()
        .await
        .expect("the invocation answers");
    assert_eq!(tailed.function_error(), None);
    let log = base64::engine::general_purpose::STANDARD
        .decode(tailed.log_result().expect("LogType=Tail gives the log"))
        .expect("base64");
    let log = text(&log);
    assert!(log.len() <= 4096, "the last 4 KB at most");
    assert!(log.starts_with("START RequestId: "), "{log}");
    assert!(
        log.contains("confirmation email sent") && log.contains("\"requestId\""),
        "the function's own lines, as Lambda gives JSON lines: {log}"
    );
    emulator.stop("TERM").await;
}
