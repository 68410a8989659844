//! The `email` function as a standalone binary: it reads its settings once from the environment
//! (SendGrid), builds the function with `Email::from_settings` (as every host does), then runs
//! under the host that `function_model::host` detects (AWS Lambda through the Runtime API; on
//! Azure the Function App's one handler, `functions/azure-app`, runs the library). Locally, the
//! emulator runs the `email` library in-process.

use std::process::ExitCode;

use clients::config::ProcessEnv;
use clients::sendgrid::SendGridConfig;

fn main() -> ExitCode {
    function_model::host::serve_task("email", || async {
        Ok(email::Email::from_settings(SendGridConfig::from_env(
            &ProcessEnv,
        )?))
    })
}
