//! The `email` function as a standalone binary, for the cloud hosts: it builds its dependencies once
//! from the environment (SendGrid and the sender address), then hands them to the host that `function_model::host` detects.
//! Locally, the emulator runs the `email` library in-process instead. The AWS Lambda and Azure
//! Functions adapters are not written yet, so once its settings check out this binary says so and
//! exits with an error.

use std::process::ExitCode;

use std::sync::Arc;

use clients::config::ProcessEnv;
use clients::sendgrid::{SendGridClient, SendGridConfig};
use domain::TicketCatalogue;

fn main() -> ExitCode {
    function_model::host::main("email", || async {
        let sender = Arc::new(SendGridClient::new(SendGridConfig::from_env(&ProcessEnv)?));
        let confirmation = email::Confirmation::new(TicketCatalogue::builtin().conference);
        Ok(email::Email::new(confirmation, sender))
    })
}
