//! Process mode's instances (`emulator::aws::lambda::LambdaFunction`), driven with a custom runtime
//! written in bash against the Runtime API, as AWS's custom-runtime tutorial writes one: warm
//! instances are reused, overlapping invocations start a second instance, an instance that times
//! out is stopped and replaced, one that exits fails its invocation with `Runtime.ExitError`, and
//! the function's environment is what Lambda gives.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use emulator::aws::lambda::runtime_api::InvokeError;
use emulator::aws::lambda::{FunctionSpec, LambdaFunction};
use serde_json::{Value, json};

/// Answers each invocation with its process id and its environment's `GREETING`,
/// `AWS_LAMBDA_FUNCTION_NAME`, `_HANDLER` and `AWS_LAMBDA_LOG_GROUP_NAME`; `{"sleep": N}` waits N seconds first; `{"exit": true}` exits.
const BOOTSTRAP: &str = r#"#!/bin/bash
set -euo pipefail
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
headers="$(mktemp)"
while true; do
  payload="$(curl -sS -D "$headers" "$api/invocation/next")"
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | tr -d '\r' | cut -d' ' -f2)"
  case "$payload" in
    *exit*) exit 3 ;;
    *sleep*) sleep "$(echo "$payload" | tr -dc '0-9')" ;;
  esac
  curl -sS -X POST "$api/invocation/$id/response" \
    -d "{\"pid\": $$, \"greeting\": \"${GREETING:-}\", \"name\": \"${AWS_LAMBDA_FUNCTION_NAME}\", \"handler\": \"${_HANDLER}\", \"group\": \"${AWS_LAMBDA_LOG_GROUP_NAME}\", \"home\": \"${HOME:-}\"}" >/dev/null
done
"#;

fn function(dir: &Path, timeout: Duration, concurrency: usize) -> std::sync::Arc<LambdaFunction> {
    let executable = dir.join("bootstrap");
    crate::support::write_executable(&executable, BOOTSTRAP);
    LambdaFunction::new(FunctionSpec {
        name: "echo".into(),
        executable,
        handler: "echo.handle".into(),
        environment: vec![("GREETING".into(), "hello".into())],
        timeout,
        memory_mb: 128,
        concurrency,
        endpoint_url: "http://127.0.0.1:1".into(),
        json_logs: false,
        invocations: Default::default(),
    })
}

async fn invoke(function: &LambdaFunction, payload: Value) -> Result<Value, InvokeError> {
    function
        .invoke(payload.to_string().into(), None)
        .await
        .map(|answer| serde_json::from_slice(&answer).expect("a JSON answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_reused_added_when_busy_and_replaced_when_they_fail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let echo = function(dir.path(), Duration::from_secs(1), 2);

    let first = invoke(&echo, json!({})).await.expect("answered");
    assert_eq!(first["greeting"], "hello", "the function's variables");
    assert_eq!(first["name"], "echo", "Lambda's variables");
    assert_eq!(
        first["handler"], "echo.handle",
        "the function's Handler, as Lambda passes it"
    );
    assert_eq!(
        first["group"], "/aws/lambda/echo",
        "its log group, as Lambda names it"
    );
    assert_eq!(first["home"], "", "none of the emulator's own environment");
    let again = invoke(&echo, json!({})).await.expect("answered");
    assert_eq!(again["pid"], first["pid"], "a warm instance is reused");
    let inits = echo.init_durations();
    assert_eq!(inits.len(), 1, "one instance started, its init measured");
    assert!(
        inits[0] > Duration::ZERO && inits[0] < Duration::from_secs(1),
        "{inits:?}"
    );

    // Two at once: the warm instance takes one, a new instance the other.
    let (a, b) = tokio::join!(
        invoke(&echo, json!({"sleep": 0})),
        invoke(&echo, json!({"sleep": 0}))
    );
    let pids: HashSet<String> = [a, b]
        .into_iter()
        .map(|answer| answer.expect("answered")["pid"].to_string())
        .collect();
    assert_eq!(
        pids.len(),
        2,
        "overlapping invocations run on two instances"
    );
    assert_eq!(
        echo.init_durations().len(),
        2,
        "the second instance's init too"
    );

    // Both instances time out: each is stopped, and the next invocation starts a new one.
    let (a, b) = tokio::join!(
        invoke(&echo, json!({"sleep": 5})),
        invoke(&echo, json!({"sleep": 5}))
    );
    assert!(matches!(a, Err(InvokeError::TimedOut(_))), "{a:?}");
    assert!(matches!(b, Err(InvokeError::TimedOut(_))), "{b:?}");
    let fresh = invoke(&echo, json!({})).await.expect("answered");
    assert!(
        !pids.contains(&fresh["pid"].to_string()),
        "a new instance after the timeouts"
    );

    let exited = invoke(&echo, json!({"exit": true})).await;
    match exited {
        Err(InvokeError::Function(failure)) => {
            assert_eq!(failure.error_type, "Runtime.ExitError", "{failure:?}");
        }
        other => panic!("expected Runtime.ExitError, got {other:?}"),
    }
    let after = invoke(&echo, json!({}))
        .await
        .expect("a new instance answers");
    assert_ne!(after["pid"], fresh["pid"]);
}

#[tokio::test]
async fn a_missing_executable_fails_as_an_invalid_entrypoint() {
    let missing = LambdaFunction::new(FunctionSpec {
        name: "missing".into(),
        executable: "/nonexistent/bootstrap".into(),
        handler: "bootstrap".into(),
        environment: Vec::new(),
        timeout: Duration::from_secs(1),
        memory_mb: 128,
        concurrency: 1,
        endpoint_url: "http://127.0.0.1:1".into(),
        json_logs: false,
        invocations: Default::default(),
    });
    match invoke(&missing, json!({})).await {
        Err(InvokeError::InitFailed(failure)) => {
            assert_eq!(failure.error_type, "Runtime.InvalidEntrypoint");
        }
        other => panic!("expected Runtime.InvalidEntrypoint, got {other:?}"),
    }
}
