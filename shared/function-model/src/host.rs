//! Choosing the host a function binary runs under, from the environment, as each platform
//! announces itself: `AWS_LAMBDA_RUNTIME_API` (AWS Lambda) or `FUNCTIONS_CUSTOMHANDLER_PORT`
//! (an Azure Functions custom handler), and the typed entry points each binary's `main` calls:
//! [`serve_http`], [`serve_queue`], [`serve_task`].
//!
//! The AWS host is the `aws` feature ([`crate::aws`]). On Azure, one executable serves a whole
//! Function App (`crate::azure`, feature `azure`; `functions/azure-app`): a function's own binary
//! started there says so and exits with an error instead of pretending to run.

use std::fmt;
use std::future::Future;
use std::process::ExitCode;

/// Where a function binary was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    AwsLambda { runtime_api: String },
    AzureCustomHandler { port: String },
}

#[derive(Debug, PartialEq, Eq)]
pub enum HostError {
    NotDetected,
    NotSupportedYet(Host),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::NotDetected => f.write_str(
                "no serverless host detected: neither AWS_LAMBDA_RUNTIME_API (AWS Lambda) nor \
                 FUNCTIONS_CUSTOMHANDLER_PORT (Azure Functions) is set. To run the system locally, \
                 use `cargo run -p emulator`, which runs every function in-process.",
            ),
            HostError::NotSupportedYet(host) => write!(
                f,
                "this binary cannot run under {host:?}: it is one function's Lambda binary (built \
                 with the `aws` feature). On Azure Functions the Function App runs the custom \
                 handler `functions/azure-app`, which serves every function; locally, run \
                 `cargo run -p emulator`."
            ),
        }
    }
}

impl std::error::Error for HostError {}

impl Host {
    /// Reads the host from the process environment.
    pub fn detect() -> Result<Host, HostError> {
        Self::from_env(|name| std::env::var(name).ok())
    }

    fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Host, HostError> {
        if let Some(runtime_api) = var("AWS_LAMBDA_RUNTIME_API") {
            Ok(Host::AwsLambda { runtime_api })
        } else if let Some(port) = var("FUNCTIONS_CUSTOMHANDLER_PORT") {
            Ok(Host::AzureCustomHandler { port })
        } else {
            Err(HostError::NotDetected)
        }
    }
}

/// The AWS adapter `$run` (in [`crate::aws`]) as the way to run a handler, in a build with the
/// `aws` feature; without it, a run that reports so.
macro_rules! on_aws {
    ($run:ident) => {
        |handler| async move {
            #[cfg(feature = "aws")]
            return crate::aws::$run(handler).await;
            #[cfg(not(feature = "aws"))]
            {
                drop(handler);
                Err::<(), BoxError>("built without the `aws` feature".into())
            }
        }
    };
}

/// Runs an HTTP function (payment) under the detected host. `build` makes it from the
/// environment, once, at start: a missing setting fails here, naming the variable.
pub fn serve_http<T, F>(function: &'static str, build: impl FnOnce() -> F) -> ExitCode
where
    T: crate::HttpFunction,
    F: Future<Output = anyhow::Result<T>>,
{
    serve(function, build, on_aws!(run_http))
}

/// Runs a queue function (orchestrator), with where its hopeless messages go, under the detected
/// host; see [`serve_http`].
pub fn serve_queue<T, F>(function: &'static str, build: impl FnOnce() -> F) -> ExitCode
where
    T: crate::QueueFunction,
    F: Future<Output = anyhow::Result<crate::queue::QueueConsumer<T>>>,
{
    serve(function, build, on_aws!(run_queue))
}

/// Runs a workflow task (save-order, email, mailing-list) under the detected host; see
/// [`serve_http`].
pub fn serve_task<T, F>(function: &'static str, build: impl FnOnce() -> F) -> ExitCode
where
    T: crate::TaskFunction,
    F: Future<Output = anyhow::Result<T>>,
{
    serve(function, build, on_aws!(run_task))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sets up logging, finds the host, builds the handler, and runs it with `run_on_aws` under AWS
/// Lambda; under Azure (no adapter yet) or no host, reports why it cannot run.
fn serve<T, F, R>(
    function: &'static str,
    build: impl FnOnce() -> F,
    run_on_aws: impl FnOnce(T) -> R,
) -> ExitCode
where
    F: Future<Output = anyhow::Result<T>>,
    R: Future<Output = Result<(), BoxError>>,
{
    init_tracing();
    let host = match Host::detect() {
        Ok(host) => host,
        Err(e) => {
            tracing::error!(function, "{e}");
            return ExitCode::FAILURE;
        }
    };
    // One thread: an instance handles one invocation at a time (Lambda sends the next only after
    // the answer), so worker threads would only add wake-ups and context switches to each one.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(function, "could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handler = match runtime.block_on(build()) {
        Ok(handler) => handler,
        Err(e) => {
            tracing::error!(function, "could not start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match host {
        Host::AwsLambda { .. } if cfg!(feature = "aws") => runtime.block_on(run_on_aws(handler)),
        other => Err(HostError::NotSupportedYet(other).into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(function, "{e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`): plain text, or one JSON object per
/// line when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (as Lambda sets it for a function whose
/// `LoggingConfig` says so). A JSON line carries the spans it is in (`spans`), among them its
/// invocation's with its `requestId`, so that CloudWatch queries and the emulator can tell which
/// invocation printed it.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json {
        logs.json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init()
    } else {
        // Colour codes only on a terminal: CloudWatch and log files get plain text.
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_platform_and_neither() {
        let aws =
            Host::from_env(|n| (n == "AWS_LAMBDA_RUNTIME_API").then(|| "127.0.0.1:9001".into()));
        assert_eq!(
            aws,
            Ok(Host::AwsLambda {
                runtime_api: "127.0.0.1:9001".into()
            })
        );
        let azure =
            Host::from_env(|n| (n == "FUNCTIONS_CUSTOMHANDLER_PORT").then(|| "7071".into()));
        assert_eq!(
            azure,
            Ok(Host::AzureCustomHandler {
                port: "7071".into()
            })
        );
        assert_eq!(Host::from_env(|_| None), Err(HostError::NotDetected));
        assert!(
            HostError::NotDetected
                .to_string()
                .contains("cargo run -p emulator")
        );
    }
}
