//! The `save-order` function as a standalone binary, for the cloud hosts: it builds its dependencies once
//! from the environment (`DATABASE_URL`), then hands them to the host that `function_model::host` detects.
//! Locally, the emulator runs the `save_order` library in-process instead. The AWS Lambda and Azure
//! Functions adapters are not written yet, so once its settings check out this binary says so and
//! exits with an error.

use std::process::ExitCode;

use anyhow::Context;

fn main() -> ExitCode {
    function_model::host::main("save-order", || async {
        let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
        Ok(save_order::SaveOrder::new(
            order_store::connect(&url).await?,
        ))
    })
}
