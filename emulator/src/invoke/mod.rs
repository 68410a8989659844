//! `cargo run -p emulator -- invoke FUNCTION`: one invocation of a function of a running emulator,
//! from the terminal, as `sam local invoke -e` or `cargo lambda invoke` give one. It goes through
//! Lambda's `Invoke` API on the emulator's port, as `aws lambda invoke --log-type Tail` does, so
//! it reaches the function as the emulator runs it (its binary in process mode), and it prints the
//! invocation's log (`X-Amz-Log-Result`) on standard error and the answer on standard output.
//!
//! The event is a JSON file (`--event FILE`, `-` for standard input) or one of the [`examples`]
//! (`--example NAME`), made from the project's own types; none is `{}`. The exit status is 0 when
//! the function answered, 1 when it failed (the error is the answer, as Lambda gives it), and 2
//! when there was nothing to invoke: no emulator at the endpoint, no such function, an event that
//! cannot be read or is not JSON. Each of those is one line on standard error that names it.

pub mod examples;

use std::io::Read;
use std::path::PathBuf;

use base64::Engine;
use serde_json::Value;

/// `emulator invoke`'s arguments.
#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The function, as the template names it: payment, orchestrator, save-order, email,
    /// mailing-list.
    pub function: String,
    /// The event: a JSON file, or `-` for standard input.
    #[arg(long, value_name = "FILE", conflicts_with = "example")]
    pub event: Option<PathBuf>,
    /// A sample event: `order` (save-order, email, mailing-list), `sqs-batch` (orchestrator),
    /// `http-request` (payment).
    #[arg(long, value_name = "NAME")]
    pub example: Option<String>,
    /// The running emulator.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:3000")]
    pub endpoint: String,
}

/// How an invocation ended, for the exit status.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The function answered.
    Answered,
    /// The function failed; its error was printed as the answer.
    FunctionFailed,
}

/// Invokes the function and prints its log and answer; `Err` is the one line that says why
/// nothing was invoked.
pub async fn invoke(args: &InvokeArgs) -> Result<Outcome, String> {
    let event = event(args)?;
    let endpoint = args.endpoint.trim_end_matches('/');
    let url = format!(
        "{endpoint}/2015-03-31/functions/{}/invocations",
        args.function
    );
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| format!("an HTTP client: {e}"))?
        .post(&url)
        // Lambda's API refuses an unsigned request; the emulator checks that a request is
        // signed, not the signature, so a placeholder for its local credentials does.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=emulator/20260101/us-east-1/lambda/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .header("x-amz-log-type", "Tail")
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .map_err(|e| {
            format!(
                "no emulator answers at {endpoint} ({}); start one with `cargo run -p emulator`, or give its URL with --endpoint",
                root_cause(&e)
            )
        })?;
    let status = response.status();
    let failed = response.headers().contains_key("x-amz-function-error");
    let log = response
        .headers()
        .get("x-amz-log-result")
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .ok()
        })
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let body = response
        .text()
        .await
        .map_err(|e| format!("the emulator's answer could not be read: {e}"))?;
    if !status.is_success() {
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|error| error["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(if status == reqwest::StatusCode::NOT_FOUND {
            format!(
                "no function named {:?} at {endpoint} ({message})",
                args.function
            )
        } else {
            format!("the emulator refused the invocation ({status}): {message}")
        });
    }
    if let Some(log) = log {
        // The functions' JSON lines, as a person reads them (`LEVEL message fields (request id)`).
        for line in log.lines() {
            match crate::functions::invocations::json_line(line) {
                Some(json) => eprintln!("{}", crate::functions::invocations::readable(&json)),
                None => eprintln!("{line}"),
            }
        }
    }
    let answer = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|json| serde_json::to_string_pretty(&json).ok())
        .unwrap_or(body);
    println!("{answer}");
    Ok(if failed {
        Outcome::FunctionFailed
    } else {
        Outcome::Answered
    })
}

/// The event to send: the file's, standard input's, the example's, or `{}`.
fn event(args: &InvokeArgs) -> Result<Value, String> {
    if let Some(name) = &args.example {
        return examples::example(name).ok_or_else(|| {
            let names: Vec<&str> = examples::EXAMPLES.iter().map(|(name, _)| *name).collect();
            format!(
                "no example named {name:?}; the examples: {}",
                names.join(", ")
            )
        });
    }
    let Some(path) = &args.event else {
        return Ok(Value::Object(Default::default()));
    };
    let (text, named) = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("the event could not be read from standard input: {e}"))?;
        (text, "the event on standard input".to_owned())
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("the event file {} could not be read: {e}", path.display()))?;
        (text, format!("the event file {}", path.display()))
    };
    serde_json::from_str(&text).map_err(|e| format!("{named} is not JSON: {e}"))
}

/// The innermost error of a chain (reqwest's own message is only "error sending request").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
