//! A function that AWS's own runtime client runs, not Rust's `lambda_runtime`: Python's
//! `awslambdaric` behind a two-line `bootstrap`, declared in a template with `Handler:
//! handler.handle` (`python-function/handler.py`). Invoked through the official Lambda client, it
//! answers, sees its deadline and ARN in its context, and its exception comes back typed.
//!
//! It needs a Python with `awslambdaric` (`pip install awslambdaric`): without one the test says
//! SKIPPED and passes, unless `REQUIRE_AWSLAMBDARIC` is set, as `.ci/run` sets it.

use std::path::Path;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};

/// The Python interpreter that has `awslambdaric`, by its full path (Lambda's `PATH` reaches only
/// the system's folders), or `None`.
fn python_with_runtime_client() -> Option<String> {
    let output = std::process::Command::new("python3")
        .args(["-c", "import awslambdaric, sys; print(sys.executable)"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

const TEMPLATE: &str = "
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: Done, States: {Done: {Type: Pass, End: true}}}
  Python:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: python
      Runtime: provided.al2023
      Handler: handler.handle
      CodeUri: python
      Timeout: 7
      MemorySize: 256
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_function_under_awslambdaric_answers_with_its_context_and_typed_errors() {
    let Some(python) = python_with_runtime_client() else {
        assert!(
            std::env::var_os("REQUIRE_AWSLAMBDARIC").is_none(),
            "REQUIRE_AWSLAMBDARIC is set, but python3 cannot import awslambdaric"
        );
        eprintln!("SKIPPED: python3 cannot import awslambdaric (pip install awslambdaric)");
        return;
    };
    let folder = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(folder.path().join("template.yaml"), TEMPLATE).expect("written");
    let code = folder.path().join("python");
    std::fs::create_dir_all(&code).expect("created");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/python-function");
    std::fs::copy(fixture.join("handler.py"), code.join("handler.py")).expect("copied");
    crate::support::write_executable(
        &code.join("bootstrap"),
        &format!(
            "#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\" && exec {python} -m awslambdaric \"$_HANDLER\"\n"
        ),
    );
    let (emulator, _dir) = crate::support::start_emulator(|config| {
        config.template = folder.path().join("template.yaml");
        config.functions = emulator::Functions::Process(Default::default());
    })
    .await;
    let lambda = crate::support::client!(aws_sdk_lambda, emulator.url());
    let invoke = |payload: Value| {
        lambda
            .invoke()
            .function_name("python")
            .payload(Blob::new(payload.to_string()))
            .send()
    };

    let answer = invoke(json!({"hello": "world"})).await.expect("Invoke");
    assert_eq!(answer.function_error(), None);
    let body: Value =
        serde_json::from_slice(answer.payload().expect("a payload").as_ref()).expect("JSON");
    assert_eq!(body["echo"], json!({"hello": "world"}), "{body}");
    assert_eq!(
        body["functionArn"],
        function_model::local_function_arn("python")
    );
    assert_eq!(body["memoryLimitMb"], "256", "{body}");
    let remaining = body["remainingMs"].as_u64().expect("a number");
    assert!(
        remaining > 0 && remaining <= Duration::from_secs(7).as_millis() as u64,
        "the deadline is the function's Timeout away: {remaining} ms"
    );

    let refused = invoke(json!({"refuse": true})).await.expect("Invoke");
    assert_eq!(refused.function_error(), Some("Unhandled"));
    let failure: Value =
        serde_json::from_slice(refused.payload().expect("a payload").as_ref()).expect("JSON");
    assert_eq!(failure["errorType"], "Refused", "{failure}");
    assert_eq!(failure["errorMessage"], "refused on purpose", "{failure}");
    emulator.shutdown().await;
}
