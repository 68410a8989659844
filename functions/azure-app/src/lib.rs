//! The Azure Function App: the system's functions behind one custom handler, as Azure runs Rust.
//!
//! Azure Functions runs one custom handler per Function App, so this one executable serves every
//! function that `infra/azure` declares, each with the same library code the Lambda binaries run
//! (`function_model::azure` is the host adapter):
//!
//! | function (`infra/azure/<name>/function.json`) | trigger | handler |
//! |---|---|---|
//! | `tickets` | HTTP `GET /api/tickets` | `payment::Payment` |
//! | `payment` | HTTP `POST /api/registrations`, Service Bus output [`ORDER_OUTPUT`] | `payment::Payment` |
//! | `orchestrator` | Service Bus queue `registrations` | `orchestrator::Orchestrator` |
//! | `redrive` | HTTP `POST /api/executions/{name}/redrive`, admin key | [`redrive::Redrive`] |
//!
//! Two differences from AWS, both in how the libraries are wired, not in the libraries:
//! - the payment publishes `OrderPlaced` through its Service Bus output binding
//!   ([`OutputBindingPublisher`]), which the host sends only if the invocation succeeds;
//! - Durable Functions does not support custom handlers, so the orchestrator's workflow starter
//!   is [`workflow::InlineWorkflow`]: it runs the registration state machine (the same ASL file
//!   Step Functions runs) in the orchestrator's invocation, as a durable execution in the
//!   database (`durable::executions`, the code the emulator's Step Functions runs), with the
//!   save-order, email and mailing-list libraries as its tasks. Step Functions' `RedriveExecution`
//!   is the `redrive` function.
//!
//! Layout: `lib.rs` the settings and the app; `workflow.rs` the inline durable workflow;
//! `redrive.rs` the operator's redrive.

pub mod redrive;
pub mod workflow;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use clients::config::Env;
use clients::mailchimp::MailchimpConfig;
use clients::paypal::PayPalConfig;
use clients::publisher::{OrderPublisher, PublishError};
use clients::sendgrid::SendGridConfig;
use domain::OrderPlaced;
use durable::{Db, Executions};
use function_model::TaskFunction;
use function_model::azure::{FunctionApp, add_output};

/// The payment's Service Bus output binding: the `registrations` queue.
pub const ORDER_OUTPUT: &str = "order";
/// The app's functions: the folders of `infra/azure`, each with its `function.json`.
pub const FUNCTION_NAMES: [&str; 4] = [TICKETS, PAYMENT, ORCHESTRATOR, REDRIVE];
const TICKETS: &str = "tickets";
const PAYMENT: &str = "payment";
const ORCHESTRATOR: &str = "orchestrator";
const REDRIVE: &str = "redrive";

/// Publishes an order through the running invocation's Service Bus output binding.
pub struct OutputBindingPublisher;

#[async_trait]
impl OrderPublisher for OutputBindingPublisher {
    async fn publish(
        &self,
        order: &OrderPlaced,
        _trace_id: Option<&str>,
    ) -> Result<(), PublishError> {
        let body = serde_json::to_value(order).map_err(PublishError::new)?;
        add_output(ORDER_OUTPUT, body).map_err(PublishError::new)
    }
}

/// What the app reads from its application settings (`local.settings.json` locally; the Bicep's
/// `appSettings`, with Key Vault references for the secrets, when deployed).
pub struct Settings {
    pub database_url: String,
    /// How long a workflow execution stays claimed by an invocation that stopped renewing it:
    /// a redelivered message resumes an execution whose invocation died once this has passed
    /// (`EXECUTION_LEASE_MS`, default 15 s; well under `functionTimeout`).
    pub execution_lease: Duration,
    pub paypal: PayPalConfig,
    pub sendgrid: SendGridConfig,
    pub mailchimp: MailchimpConfig,
    /// The payment function's card-testing defence (`FINGERPRINT_KEY`, `DECLINES_PER_*`, …).
    pub card_testing: payment::CardTesting,
}

impl Settings {
    /// Reads every setting, naming the first one missing or invalid.
    pub fn from_env(env: &dyn Env) -> Result<Self, clients::config::ConfigError> {
        Ok(Self {
            database_url: clients::config::required(env, "DATABASE_URL")?,
            execution_lease: clients::config::millis(
                env,
                "EXECUTION_LEASE_MS",
                Executions::DEFAULT_LEASE,
            )?,
            paypal: PayPalConfig::from_env(env)?,
            sendgrid: SendGridConfig::from_env(env)?,
            mailchimp: MailchimpConfig::from_env(env)?,
            card_testing: payment::CardTesting::from_env(env)?,
        })
    }
}

/// Builds the app from its settings and its `host.json`; under the emulator, `faults` is where
/// its tasks ask for injected faults ([`workflow::HostFaults`]).
pub async fn app(
    settings: Settings,
    host_json: &serde_json::Value,
    faults: Option<workflow::HostFaults>,
) -> anyhow::Result<FunctionApp> {
    let timeout = function_model::azure::function_timeout(host_json).map_err(anyhow::Error::msg)?;
    let db = Db::connect(&settings.database_url)
        .await
        .context("could not open the database (DATABASE_URL)")?;
    let store = order_store::on_pool(db.pool(), db.rounds())
        .await
        .context("could not open the order store (DATABASE_URL)")?;

    // Each function is built as every host builds it (`from_settings`), with what is Azure's
    // own: the output binding and the app's database.
    let payment = Arc::new(payment::Payment::from_settings(
        payment::PaymentSettings {
            paypal: settings.paypal,
            timeout,
            card_testing: settings.card_testing,
        },
        Arc::new(OutputBindingPublisher),
        db.clone(),
    ));
    let tasks: Vec<(&str, Arc<dyn TaskFunction>)> = vec![
        ("save-order", Arc::new(save_order::SaveOrder::new(store))),
        (
            "email",
            Arc::new(email::Email::from_settings(settings.sendgrid)),
        ),
        (
            "mailing-list",
            Arc::new(mailing_list::MailingList::from_settings(settings.mailchimp)),
        ),
    ];
    let registration = Arc::new(workflow::InlineWorkflow::new(
        workflow::registration_machine()?,
        Executions::new(db, settings.execution_lease),
        tasks,
        timeout,
        faults,
    )?);
    let orchestrator = orchestrator::Orchestrator::new(registration.clone());
    Ok(FunctionApp::new(timeout)
        .http(TICKETS, payment.clone())
        .http(PAYMENT, payment)
        .queue(ORCHESTRATOR, Arc::new(orchestrator))
        .http(REDRIVE, Arc::new(redrive::Redrive(registration))))
}
