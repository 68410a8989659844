//! The `mailing-list` function as a standalone binary: it builds its dependencies once from the
//! environment (Mailchimp), then runs under the host that `function_model::host` detects (AWS Lambda
//! through the Runtime API; on Azure the Function App's one handler, `functions/azure-app`,
//! runs the library). Locally, the emulator runs
//! the `mailing_list` library in-process.

use std::process::ExitCode;

use std::sync::Arc;

use clients::config::ProcessEnv;
use clients::mailchimp::{MailchimpClient, MailchimpConfig};

fn main() -> ExitCode {
    function_model::host::serve_task("mailing-list", || async {
        let audience = Arc::new(MailchimpClient::new(MailchimpConfig::from_env(
            &ProcessEnv,
        )?));
        Ok(mailing_list::MailingList::new(audience))
    })
}
