//! Choosing the host a function binary runs under, from the environment, as each platform
//! announces itself: `AWS_LAMBDA_RUNTIME_API` (AWS Lambda) or `FUNCTIONS_CUSTOMHANDLER_PORT`
//! (an Azure Functions custom handler). Locally, the emulator runs the handlers in-process and
//! does not start these binaries.
//!
//! The AWS and Azure adapters are not written yet: a binary started under either platform says so
//! and exits with an error instead of pretending to run.

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
                "this build cannot run under {host:?} yet: the AWS Lambda and Azure Functions adapters \
                 are still to be written. Run locally with `cargo run -p emulator`."
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

/// The shape of every function binary's `main`: set up logging, build the dependencies once from
/// the environment (a missing setting fails here, at start, naming the variable), then run them
/// under the detected host. Today every platform host is still to be written, so after the
/// dependencies are built this reports why it cannot run and exits with a failure.
pub fn main<T, F>(function: &'static str, build: impl FnOnce() -> F) -> ExitCode
where
    F: Future<Output = anyhow::Result<T>>,
{
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(function, "could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dependencies = match runtime.block_on(build()) {
        Ok(dependencies) => dependencies,
        Err(e) => {
            tracing::error!(function, "could not start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match run(dependencies) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(function, "{e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a function's dependencies under the detected host; no host adapter exists yet.
fn run<T>(_dependencies: T) -> Result<(), HostError> {
    Err(HostError::NotSupportedYet(Host::detect()?))
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
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
