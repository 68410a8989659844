//! The `orchestrator` function as a standalone binary, under the host that `function_model::host`
//! detects (AWS Lambda, fed by SQS). It cannot run there yet: it starts the workflow with Step
//! Functions, and that client (aws-sdk-sfn) is still to be written, so it says so and exits with
//! an error. Locally, the emulator runs the `orchestrator` library in-process.

use std::process::ExitCode;

use anyhow::anyhow;

fn main() -> ExitCode {
    function_model::host::serve_queue("orchestrator", || async {
        Err::<orchestrator::Orchestrator, _>(anyhow!(
            "orchestrator cannot run in the cloud yet: its Step Functions client (aws-sdk-sfn) is \
             still to be written; run the system with `cargo run -p emulator`"
        ))
    })
}
