//! The `save-order` function as a standalone binary: it builds its dependencies once from the
//! environment (`DATABASE_URL`), then runs under the host that `function_model::host` detects (AWS Lambda
//! through the Runtime API; on Azure the Function App's one handler, `functions/azure-app`,
//! runs the library). Locally, the emulator runs
//! the `save_order` library in-process.

use std::process::ExitCode;

use anyhow::Context;

fn main() -> ExitCode {
    function_model::host::serve_task("save-order", || async {
        let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
        Ok(save_order::SaveOrder::new(
            order_store::connect(&url).await?,
        ))
    })
}
