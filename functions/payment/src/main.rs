//! The `payment` function as a standalone binary, for the cloud hosts: it builds its dependencies once
//! from the environment (PayPal), then hands them to the host that `function_model::host` detects.
//! Locally, the emulator runs the `payment` library in-process instead. The AWS Lambda and Azure
//! Functions adapters are not written yet, so once its settings check out this binary says so and
//! exits with an error.

use std::process::ExitCode;

use clients::config::ProcessEnv;
use clients::paypal::{PayPalClient, PayPalConfig};

fn main() -> ExitCode {
    function_model::host::main("payment", || async {
        Ok(PayPalClient::new(PayPalConfig::from_env(&ProcessEnv)?))
    })
}
