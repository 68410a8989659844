//! The Function App's custom handler: the executable `host.json` names. The Functions host starts
//! it in the app's folder (`AzureWebJobsScriptRoot`) with `FUNCTIONS_CUSTOMHANDLER_PORT`, and
//! sends it every invocation of every function (see the library). It builds the functions once,
//! from the app's settings and `host.json`: a missing setting stops it at start, named.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clients::config::ProcessEnv;

fn host_json() -> anyhow::Result<serde_json::Value> {
    let root = std::env::var_os("AzureWebJobsScriptRoot")
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let path = root.join("host.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Exits when the process that started the handler (the Functions host) is gone: its
/// invocations have no one to answer, and a new host starts a new handler. Without this, a host
/// killed outright (`kill -9`) would leave the handler running its workflows on its own.
async fn exit_with_host() {
    let host = std::os::unix::process::parent_id();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if std::os::unix::process::parent_id() != host {
            // Not logged: the host read the handler's output, and a write to a closed pipe
            // would panic this task (tracing reports write errors with `eprintln!`).
            std::process::exit(1);
        }
    }
}

fn main() -> ExitCode {
    function_model::host::init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let settings = azure_app::Settings::from_env(&ProcessEnv)?;
        // Set only by the emulator, the Functions host that injects faults.
        let faults = std::env::var("EMULATOR_TASK_FAULTS_URL")
            .ok()
            .map(azure_app::workflow::HostFaults::new);
        let app = azure_app::app(settings, &host_json()?, faults).await?;
        tokio::spawn(exit_with_host());
        app.serve_host().await.map_err(|e| anyhow::anyhow!(e))
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("the custom handler stopped: {e:#}");
            ExitCode::FAILURE
        }
    }
}
