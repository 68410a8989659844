//! The `orchestrator` function as a standalone binary, for the cloud hosts. It picks its host from the
//! environment (`function_model::host`); locally, the emulator runs the `orchestrator` library in-process
//! instead. Building the production dependencies (provider clients, store) from the environment
//! comes with the wire-level clients and the platform adapters, which are not written yet: until then
//! this binary explains that and exits with an error.

use std::process::ExitCode;

fn main() -> ExitCode {
    function_model::host::init_tracing();
    match function_model::host::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(function = "orchestrator", "{e}");
            ExitCode::FAILURE
        }
    }
}
