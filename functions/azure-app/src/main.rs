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
        let app = azure_app::app(settings, &host_json()?).await?;
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
