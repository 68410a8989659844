//! The local cloud: one process that hosts the whole registration system, with no Docker and no
//! cloud account.
//!
//! It wires the five functions as they are deployed (see `template.yaml`): an HTTP gateway in front
//! of `payment`, a queue with a dead-letter queue feeding `orchestrator` through an event source
//! mapping, a local Step Functions running the registration state machine (the very ASL file that
//! deploys) whose tasks call `save-order`, `email` and `mailing-list`, local stand-ins for PayPal,
//! SendGrid and Mailchimp, and the order store (SQLite by default). An inspector API shows what
//! happened and injects faults.
//!
//! Layout: `lib.rs` builds the topology and starts it; `http.rs` serves the site, the gateway and
//! the inspector; `queue.rs` is the SQS-like queue; `event_source.rs` polls it into the
//! orchestrator; `step_functions.rs` runs the workflow; `providers.rs` stands in for PayPal,
//! SendGrid and Mailchimp; `faults.rs` is the fault injector.

pub mod event_source;
pub mod fakes;
pub mod faults;
mod http;
pub mod providers;
pub mod queue;
pub mod step_functions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clients::publisher::{OrderPublisher, PublishError};
use domain::{OrderPlaced, TicketCatalogue};
use function_model::{HttpFunction, TaskFunction};
use order_store::OrderStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use event_source::EventSourceMapping;
use faults::Faults;
use providers::{LocalMailchimp, LocalPayPal, LocalSendGrid};
use queue::{Queue, QueueConfig, Redrive};
use step_functions::{LocalStarter, LocalStepFunctions, LocalTasks, function_arn, queue_url};

/// The registration workflow, as deployed by `template.yaml`.
pub const REGISTRATION_WORKFLOW: &str =
    include_str!("../../infra/statemachine/registration.asl.json");

/// Queue names, as in `template.yaml`.
pub const REGISTRATIONS_QUEUE: &str = "registrations";
pub const REGISTRATIONS_DLQ: &str = "registrations-dlq";
pub const FOLLOW_UP_DLQ: &str = "registration-followup-dlq";

/// What can be tuned when starting the emulator. The defaults are those of `template.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` (see `order_store::connect`).
    pub database_url: String,
    /// How long a received registration stays hidden before it is delivered again.
    pub visibility_timeout: Duration,
    /// Receives of a registration before it moves to the dead-letter queue.
    pub max_receive_count: u32,
    /// The functions' timeout (Lambda's `Timeout`).
    pub function_timeout: Duration,
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            visibility_timeout: Duration::from_secs(60),
            max_receive_count: 5,
            function_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything the inspector and the gateway reach.
pub(crate) struct Services {
    payment: Arc<dyn HttpFunction>,
    queues: Vec<Arc<Queue>>,
    step_functions: Arc<LocalStepFunctions>,
    store: Arc<dyn OrderStore>,
    paypal: Arc<LocalPayPal>,
    sendgrid: Arc<LocalSendGrid>,
    mailchimp: Arc<LocalMailchimp>,
    faults: Arc<Faults>,
    function_timeout: Duration,
}

/// Publishes orders on a local queue (what SQS or a Service Bus output does in the cloud).
struct QueuePublisher(Arc<Queue>);

#[async_trait]
impl OrderPublisher for QueuePublisher {
    async fn publish(&self, order: &OrderPlaced) -> Result<(), PublishError> {
        self.0.send(order.to_json(), Default::default(), None);
        Ok(())
    }
}

/// A started emulator.
pub struct RunningEmulator {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets in-flight ones finish, and stops the pollers.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    /// Dropped without `shutdown`: signal the server and the pollers to stop anyway.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Builds the topology and serves it on `listener`.
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<RunningEmulator> {
    let addr = listener.local_addr()?;
    let catalogue = TicketCatalogue::builtin();
    let store = order_store::connect(&config.database_url).await?;
    let faults = Arc::new(Faults::default());
    let paypal = Arc::new(LocalPayPal::new(faults.clone()));
    let sendgrid = Arc::new(LocalSendGrid::new(faults.clone()));
    let mailchimp = Arc::new(LocalMailchimp::new(faults.clone()));

    let registrations_dlq = Arc::new(Queue::new(QueueConfig::new(REGISTRATIONS_DLQ)));
    let registrations = Arc::new(Queue::new(QueueConfig {
        visibility_timeout: config.visibility_timeout,
        redrive: Some(Redrive {
            dead_letter_queue: registrations_dlq.clone(),
            max_receive_count: config.max_receive_count,
        }),
        ..QueueConfig::new(REGISTRATIONS_QUEUE)
    }));
    let follow_up = Arc::new(Queue::new(QueueConfig::new(FOLLOW_UP_DLQ)));

    let payment = Arc::new(payment::Payment::new(
        catalogue.clone(),
        paypal.clone(),
        Arc::new(QueuePublisher(registrations.clone())),
        Arc::new(payment::idempotency::InMemoryIdempotencyStore::default()),
    ));
    let task_functions: [(&'static str, Arc<dyn TaskFunction>); 3] = [
        (
            "save-order",
            Arc::new(save_order::SaveOrder::new(store.clone())),
        ),
        (
            "email",
            Arc::new(email::Email::new(
                email::Confirmation::new(&catalogue.conference),
                sendgrid.clone(),
            )),
        ),
        (
            "mailing-list",
            Arc::new(mailing_list::MailingList::new(mailchimp.clone())),
        ),
    ];
    let tasks = LocalTasks {
        functions: task_functions
            .into_iter()
            .map(|(name, f)| (function_arn(name), (name, f)))
            .collect(),
        queues: HashMap::from([(queue_url(FOLLOW_UP_DLQ), follow_up.clone())]),
        faults: faults.clone(),
        function_timeout: config.function_timeout,
    };
    let definition = REGISTRATION_WORKFLOW
        .replace("${SaveOrderFunctionArn}", &function_arn("save-order"))
        .replace("${EmailFunctionArn}", &function_arn("email"))
        .replace("${MailingListFunctionArn}", &function_arn("mailing-list"))
        .replace("${FollowUpQueueUrl}", &queue_url(FOLLOW_UP_DLQ));
    let step_functions =
        LocalStepFunctions::new(workflow::StateMachine::from_json(&definition)?, tasks)?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let mapping = EventSourceMapping {
        queue: registrations.clone(),
        function_name: "orchestrator",
        function: Arc::new(orchestrator::Orchestrator::new(Arc::new(LocalStarter(
            step_functions.clone(),
        )))),
        batch_size: 10,
        faults: faults.clone(),
    };
    let services = Arc::new(Services {
        payment,
        queues: vec![registrations, registrations_dlq, follow_up],
        step_functions,
        store,
        paypal,
        sendgrid,
        mailchimp,
        faults,
        function_timeout: config.function_timeout,
    });
    let poller = tokio::spawn(mapping.run(shutdown_rx.clone()));
    let server = tokio::spawn(http::serve(listener, services, shutdown_rx));
    Ok(RunningEmulator {
        addr,
        shutdown,
        tasks: vec![server, poller],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../template.yaml");

    /// What runs locally is what deploys: the same workflow file, substitutions and queue settings.
    #[test]
    fn the_emulator_matches_the_sam_template() {
        assert!(TEMPLATE.contains("DefinitionUri: infra/statemachine/registration.asl.json"));
        for placeholder in REGISTRATION_WORKFLOW
            .split("${")
            .skip(1)
            .filter_map(|s| s.split('}').next())
        {
            assert!(
                TEMPLATE.contains(&format!("        {placeholder}: ")),
                "{placeholder} is substituted by template.yaml"
            );
        }
        let defaults = Config::new("sqlite://unused");
        assert!(TEMPLATE.contains(&format!(
            "VisibilityTimeout: {}",
            defaults.visibility_timeout.as_secs()
        )));
        assert!(TEMPLATE.contains(&format!("maxReceiveCount: {}", defaults.max_receive_count)));
        assert!(TEMPLATE.contains(&format!(
            "    Timeout: {}",
            defaults.function_timeout.as_secs()
        )));
        assert!(TEMPLATE.contains("BatchSize: 10") && TEMPLATE.contains("ReportBatchItemFailures"));
    }
}
