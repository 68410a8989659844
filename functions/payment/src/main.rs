//! The `payment` function as a standalone binary, under the host that `function_model::host`
//! detects (AWS Lambda through `lambda_http`). It builds its dependencies once, from the
//! environment `template.yaml` gives it: PayPal's settings, the queue it publishes `OrderPlaced`
//! on (`REGISTRATIONS_QUEUE_URL`, through the AWS SDK, which honours `AWS_ENDPOINT_URL`), and the
//! database of its idempotency records (`DATABASE_URL`, shared by every instance). Locally, the
//! emulator runs the `payment` library in-process, or this binary under its Runtime API.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_clients::AwsSettings;
use aws_clients::sqs::SqsPublisher;
use clients::config::{ConfigError, Env, ProcessEnv, required};
use clients::paypal::{PayPalClient, PayPalConfig};
use domain::TicketCatalogue;
use durable::{Db, SqlIdempotencyStore};

/// The function's `Timeout` in `template.yaml`, which Lambda does not tell the function: an
/// unfinished idempotency claim older than this was left by an instance that died.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(29);

fn timeout(env: &dyn Env) -> Result<Duration, ConfigError> {
    env.var("PAYMENT_TIMEOUT_SECONDS")
        .map(|raw| {
            raw.parse()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::Invalid {
                    variable: "PAYMENT_TIMEOUT_SECONDS",
                    reason: "must be a whole number of seconds".into(),
                })
        })
        .unwrap_or(Ok(DEFAULT_TIMEOUT))
}

fn main() -> ExitCode {
    function_model::host::serve_http("payment", || async {
        let env = ProcessEnv;
        let paypal = PayPalConfig::from_env(&env)?;
        let database_url = required(&env, "DATABASE_URL")?;
        let aws = AwsSettings::from_env(&env)?;
        let publisher = SqsPublisher::from_env(&aws, &env)?;
        let db = Db::connect(&database_url)
            .await
            .context("could not open the idempotency records' database (DATABASE_URL)")?;
        Ok(payment::Payment::new(
            TicketCatalogue::builtin(),
            Arc::new(PayPalClient::new(paypal)),
            Arc::new(publisher),
            Arc::new(SqlIdempotencyStore::new(db)),
            timeout(&env)?,
        ))
    })
}
