//! The `orchestrator` function as a standalone binary, for the cloud hosts: it builds its dependencies once
//! from the environment (nothing yet: the Step Functions client comes with the AWS adapter), then hands them to the host that `function_model::host` detects.
//! Locally, the emulator runs the `orchestrator` library in-process instead. The AWS Lambda and Azure
//! Functions adapters are not written yet, so once its settings check out this binary says so and
//! exits with an error.

use std::process::ExitCode;

fn main() -> ExitCode {
    function_model::host::main("orchestrator", || async { Ok(()) })
}
