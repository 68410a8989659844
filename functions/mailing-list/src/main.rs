//! The `mailing-list` function as a standalone binary, for the cloud hosts: it builds its dependencies once
//! from the environment (Mailchimp), then hands them to the host that `function_model::host` detects.
//! Locally, the emulator runs the `mailing_list` library in-process instead. The AWS Lambda and Azure
//! Functions adapters are not written yet, so once its settings check out this binary says so and
//! exits with an error.

use std::process::ExitCode;

use std::sync::Arc;

use clients::config::ProcessEnv;
use clients::mailchimp::{MailchimpClient, MailchimpConfig};

fn main() -> ExitCode {
    function_model::host::main("mailing-list", || async {
        let audience = Arc::new(MailchimpClient::new(MailchimpConfig::from_env(
            &ProcessEnv,
        )?));
        Ok(mailing_list::MailingList::new(audience))
    })
}
