//! The `payment` function as a standalone binary, under the host that `function_model::host`
//! detects (AWS Lambda through `lambda_http`). It reads its settings once, from the environment
//! `template.yaml` gives it (PayPal's, `PAYMENT_TIMEOUT_SECONDS`), and builds the function with
//! `Payment::from_settings`, as every host does, giving it what is Lambda's own: the queue it
//! publishes `OrderPlaced` on (`REGISTRATIONS_QUEUE_URL`, through the AWS SDK, which honours
//! `AWS_ENDPOINT_URL`) and the database of its idempotency records (`DATABASE_URL`, shared by
//! every instance). Locally, the emulator runs the `payment` library in-process, or this binary
//! under its Runtime API.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use aws_clients::AwsSettings;
use aws_clients::sqs::SqsPublisher;
use clients::config::{ProcessEnv, required};
use durable::Db;
use payment::{Payment, PaymentSettings};

fn main() -> ExitCode {
    function_model::host::serve_http("payment", || async {
        let env = ProcessEnv;
        let settings = PaymentSettings::from_env(&env)?;
        let database_url = required(&env, "DATABASE_URL")?;
        let aws = AwsSettings::from_env(&env)?;
        let publisher = SqsPublisher::from_env(&aws, &env)?;
        let db = Db::connect(&database_url)
            .await
            .context("could not open the idempotency records' database (DATABASE_URL)")?;
        Ok(Payment::from_settings(settings, Arc::new(publisher), db))
    })
}
