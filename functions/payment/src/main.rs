//! The `payment` function as a standalone binary, under the host that `function_model::host`
//! detects (AWS Lambda through `lambda_http`). It cannot run there yet: it publishes `OrderPlaced`
//! on SQS, and that publisher (aws-sdk-sqs) is still to be written, so after checking its PayPal
//! settings it says so and exits with an error. Locally, the emulator runs the `payment` library
//! in-process.

use std::process::ExitCode;

use anyhow::anyhow;
use clients::config::ProcessEnv;
use clients::paypal::PayPalConfig;

fn main() -> ExitCode {
    function_model::host::serve_http("payment", || async {
        PayPalConfig::from_env(&ProcessEnv)?;
        Err::<payment::Payment, _>(anyhow!(
            "payment cannot run in the cloud yet: its OrderPlaced publisher on SQS (aws-sdk-sqs) is \
             still to be written; run the system with `cargo run -p emulator`"
        ))
    })
}
