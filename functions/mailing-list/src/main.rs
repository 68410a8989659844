//! The `mailing-list` function as a standalone binary: it reads its settings once from the
//! environment (Mailchimp), builds the function with `MailingList::from_settings` (as every host
//! does), then runs under the host that `function_model::host` detects (AWS Lambda through the
//! Runtime API; on Azure the Function App's one handler, `functions/azure-app`, runs the
//! library). Locally, the emulator runs the `mailing_list` library in-process.

use std::process::ExitCode;

use clients::config::ProcessEnv;
use clients::mailchimp::MailchimpConfig;

fn main() -> ExitCode {
    function_model::host::serve_task("mailing-list", || async {
        Ok(mailing_list::MailingList::from_settings(
            MailchimpConfig::from_env(&ProcessEnv)?,
        ))
    })
}
