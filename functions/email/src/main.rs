//! The `email` function as a standalone binary: it builds its dependencies once from the
//! environment (SendGrid), then runs under the host that `function_model::host` detects (AWS Lambda
//! through the Runtime API; on Azure the Function App's one handler, `functions/azure-app`,
//! runs the library). Locally, the emulator runs
//! the `email` library in-process.

use std::process::ExitCode;

use std::sync::Arc;

use clients::config::ProcessEnv;
use clients::sendgrid::{SendGridClient, SendGridConfig};
use domain::TicketCatalogue;

fn main() -> ExitCode {
    function_model::host::serve_task("email", || async {
        let sender = Arc::new(SendGridClient::new(SendGridConfig::from_env(&ProcessEnv)?));
        let confirmation = email::Confirmation::new(TicketCatalogue::builtin().conference);
        Ok(email::Email::new(confirmation, sender))
    })
}
