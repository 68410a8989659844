//! The local cloud: one process that hosts the whole registration system, with no Docker and no
//! cloud account.
//!
//! It wires the five functions as they are deployed (see `template.yaml`): an HTTP gateway in front
//! of `payment`, a queue with a dead-letter queue feeding `orchestrator` through an event source
//! mapping, a local Step Functions running the registration state machine (the very ASL file that
//! deploys) whose tasks call `save-order`, `email` and `mailing-list`, and the order store (SQLite
//! by default, PostgreSQL by `DATABASE_URL`). Everything the emulator accepts is kept in that
//! database: queue messages, workflow executions with their checkpoints, idempotency records and
//! the local providers' records, so that a crash or a restart loses nothing (see the `durable`
//! crate). The functions use the real PayPal, SendGrid and
//! Mailchimp clients, pointed at local servers that speak those providers' wire formats
//! (`/_providers/*`), or at the real services when their settings are given ([`Providers`]). An
//! inspector API shows what happened and injects faults.
//!
//! Layout: `lib.rs` builds the topology and starts it; `http.rs` serves the site, the gateway and
//! the inspector; `aws/` serves AWS's own APIs (SQS, Step Functions) to the SDKs; `event_source.rs` polls the queue into the orchestrator; `step_functions.rs`
//! runs the workflow; `fakes/` holds the local PayPal, SendGrid and Mailchimp servers, and
//! `records.rs` what they keep; `faults.rs` is the fault injector.

pub mod aws;
pub mod event_source;
pub mod fakes;
pub mod faults;
mod front;
mod http;
pub mod lambda;
pub mod records;
pub mod runtime_api;
pub mod step_functions;
pub mod template;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clients::publisher::{OrderPublisher, PublishError, TRACE_ATTRIBUTE};
use domain::{OrderPlaced, TicketCatalogue};
use durable::{Db, Executions, Pool, Queue, QueueConfig, Redrive, SqlIdempotencyStore};
use function_model::{HttpFunction, TaskFunction};
use order_store::{OrderStore, PostgresOrderStore, SqliteOrderStore};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use clients::config::{ConfigError, Env};
use clients::mailchimp::{MailchimpClient, MailchimpConfig, StatusIfNew};
use clients::paypal::{PayPalClient, PayPalConfig};
use clients::sendgrid::{SendGridClient, SendGridConfig};
use event_source::Consumer;
use event_source::EventSourceMapping;
use fakes::{MailchimpFake, PayPalCredentials, PayPalFake, SendGridFake};
use faults::Faults;
use lambda::{FunctionSpec, LambdaFunction};
use records::Records;
use step_functions::{
    LocalStarter, LocalStepFunctions, LocalTasks, TaskTarget, function_arn, queue_url,
};

pub use front::Limits;

/// The registration workflow, as deployed by `template.yaml`.
pub const REGISTRATION_WORKFLOW: &str =
    include_str!("../../infra/statemachine/registration.asl.json");

/// The state machine's name (its logical id in `template.yaml`).
pub const REGISTRATION_STATE_MACHINE: &str = "RegistrationStateMachine";

/// Queue names, as in `template.yaml`.
pub const REGISTRATIONS_QUEUE: &str = "registrations";
pub const REGISTRATIONS_DLQ: &str = "registrations-dlq";
pub const FOLLOW_UP_DLQ: &str = "registration-followup-dlq";

/// What can be tuned when starting the emulator. The defaults are those of `template.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` or `postgres://…` (see `order_store::connect`).
    pub database_url: String,
    /// How long a received registration stays hidden before it is delivered again.
    pub visibility_timeout: Duration,
    /// Receives of a registration before it moves to the dead-letter queue.
    pub max_receive_count: u32,
    /// The workflow functions' timeout (Lambda's `Timeout`).
    pub function_timeout: Duration,
    /// The payment function's timeout (just under API Gateway's 30 s).
    pub payment_timeout: Duration,
    /// How long the PayPal client keeps retrying the local PayPal before it gives up.
    pub paypal_deadline: Duration,
    /// Real providers to use instead of the local ones.
    pub providers: Providers,
    /// How long a clean stop waits for running executions before it exits (they resume at the
    /// next start).
    pub drain_timeout: Duration,
    /// How long an execution stays claimed by a process that stopped renewing it (died).
    pub execution_lease: Duration,
    /// How long and how large a request may be (heads and bodies).
    pub limits: Limits,
    /// The origin of a site served elsewhere that may call the API from a browser (CORS); see
    /// [`site_origin`].
    pub site_origin: Option<String>,
    /// Whether the event source mapping feeds the registrations queue to the orchestrator. Off,
    /// the queue is left to SQS clients (tests that drive it with the SDK).
    pub event_sources: bool,
    /// How the functions run: in the emulator's process, or as their binaries.
    pub functions: Functions,
    /// In process mode, the most instances of one function at once.
    pub function_concurrency: usize,
}

/// How the functions run.
#[derive(Debug, Clone, Default)]
pub enum Functions {
    /// The function libraries, called in the emulator's process.
    #[default]
    InProcess,
    /// The functions' binaries (by function name), run as Lambda runs them: see [`lambda`].
    Process(HashMap<String, std::path::PathBuf>),
}

/// Checks a site origin: `http(s)://host[:port]`, nothing after, as browsers send it in `Origin`.
pub fn site_origin(raw: &str) -> anyhow::Result<String> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| anyhow::anyhow!("{raw:?} must start with http:// or https://"))?;
    let host_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !host_ok {
        anyhow::bail!("{raw:?} must be an origin: a scheme and a host, with no path");
    }
    Ok(raw.to_owned())
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            visibility_timeout: Duration::from_secs(60),
            max_receive_count: 5,
            function_timeout: Duration::from_secs(10),
            payment_timeout: Duration::from_secs(29),
            paypal_deadline: PayPalConfig::DEFAULT_DEADLINE,
            providers: Providers::default(),
            drain_timeout: Duration::from_secs(20),
            execution_lease: Executions::DEFAULT_LEASE,
            limits: Limits::default(),
            site_origin: None,
            event_sources: true,
            functions: Functions::InProcess,
            function_concurrency: 10,
        }
    }
}

/// Settings of real providers; a provider left `None` is served by the emulator's local one.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    pub paypal: Option<PayPalConfig>,
    pub sendgrid: Option<SendGridConfig>,
    pub mailchimp: Option<MailchimpConfig>,
}

impl Providers {
    /// The providers the environment configures, with the variables the functions read in the
    /// cloud: PayPal when `PAYPAL_BASE_URL` is set, SendGrid when `SENDGRID_BASE_URL` is set,
    /// Mailchimp when `MAILCHIMP_BASE_URL` or `MAILCHIMP_API_KEY` is set (the key names its data
    /// centre). Each then needs all its settings, and a missing one is named.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let set = |name: &str| env.var(name).is_some();
        Ok(Self {
            paypal: set("PAYPAL_BASE_URL")
                .then(|| PayPalConfig::from_env(env))
                .transpose()?,
            sendgrid: set("SENDGRID_BASE_URL")
                .then(|| SendGridConfig::from_env(env))
                .transpose()?,
            mailchimp: (set("MAILCHIMP_BASE_URL") || set("MAILCHIMP_API_KEY"))
                .then(|| MailchimpConfig::from_env(env))
                .transpose()?,
        })
    }

    /// Which provider is served where, for the banner.
    pub fn describe(&self) -> String {
        let place =
            |real: Option<&str>| real.map_or("local".to_owned(), |url| format!("real at {url}"));
        format!(
            "PayPal {}, SendGrid {}, Mailchimp {}",
            place(self.paypal.as_ref().map(|c| c.base_url.as_str())),
            place(self.sendgrid.as_ref().map(|c| c.base_url.as_str())),
            place(self.mailchimp.as_ref().map(|c| c.base_url.as_str())),
        )
    }
}

/// The local providers, and the client settings that point at them (or at the real services).
struct LocalProviders {
    paypal: Arc<PayPalFake>,
    sendgrid: Arc<SendGridFake>,
    mailchimp: Arc<MailchimpFake>,
    paypal_config: PayPalConfig,
    sendgrid_config: SendGridConfig,
    mailchimp_config: MailchimpConfig,
}

impl LocalProviders {
    /// Fresh credentials per start; the clients reach the fakes at `{base}/paypal`, ….
    fn new(
        config: &Config,
        base: &str,
        conference: &str,
        faults: &Arc<Faults>,
        records: &Records,
    ) -> anyhow::Result<Self> {
        let secret = || uuid::Uuid::new_v4().simple().to_string();
        let credentials = PayPalCredentials {
            client_id: "emulator".into(),
            client_secret: secret(),
        };
        let sendgrid_key = secret();
        let (mailchimp_key, list_id) = (format!("{}-local", secret()), "registrations".to_owned());
        let timeout = Duration::from_secs(10);
        let providers = &config.providers;
        Ok(Self {
            paypal_config: providers.paypal.clone().unwrap_or_else(|| PayPalConfig {
                base_url: format!("{base}/paypal"),
                client_id: credentials.client_id.clone(),
                client_secret: credentials.client_secret.clone().into(),
                request_timeout: PayPalConfig::DEFAULT_REQUEST_TIMEOUT,
                deadline: config.paypal_deadline,
            }),
            sendgrid_config: match &providers.sendgrid {
                Some(real) => real.clone(),
                None => SendGridConfig {
                    base_url: format!("{base}/sendgrid"),
                    api_key: sendgrid_key.clone().into(),
                    from: domain::EmailAddress::parse("registrations@conference.localhost")?,
                    from_name: Some(conference.to_owned()),
                    sandbox_mode: false,
                    timeout,
                },
            },
            mailchimp_config: providers
                .mailchimp
                .clone()
                .unwrap_or_else(|| MailchimpConfig {
                    base_url: format!("{base}/mailchimp"),
                    api_key: mailchimp_key.clone().into(),
                    list_id: list_id.clone(),
                    status_if_new: StatusIfNew::Subscribed,
                    timeout,
                }),
            paypal: PayPalFake::new(credentials, faults.clone(), records.clone()),
            sendgrid: SendGridFake::new(sendgrid_key, faults.clone(), records.clone()),
            mailchimp: MailchimpFake::new(mailchimp_key, list_id, faults.clone(), records.clone()),
        })
    }
}

/// Everything the inspector and the gateway reach.
pub(crate) struct Services {
    payment: Arc<dyn HttpFunction>,
    queues: Vec<Arc<Queue>>,
    step_functions: Arc<LocalStepFunctions>,
    store: Arc<dyn OrderStore>,
    records: Records,
    paypal: Arc<PayPalFake>,
    sendgrid: Arc<SendGridFake>,
    mailchimp: Arc<MailchimpFake>,
    faults: Arc<Faults>,
    payment_timeout: Duration,
    /// What Lambda's `Invoke` reaches, by function name (see `aws::lambda`).
    lambda_functions: HashMap<String, TaskTarget>,
    /// The workflow functions' timeout, for in-process invocations.
    function_timeout: Duration,
    site_origin: Option<String>,
    /// True once a clean stop has begun: the gateway takes no new registrations.
    stopping: watch::Receiver<bool>,
}

/// Publishes orders on a local queue (what SQS or a Service Bus output does in the cloud).
struct QueuePublisher(Arc<Queue>);

#[async_trait]
impl OrderPublisher for QueuePublisher {
    async fn publish(
        &self,
        order: &OrderPlaced,
        trace_id: Option<&str>,
    ) -> Result<(), PublishError> {
        let attributes = trace_id
            .map(|trace| (TRACE_ATTRIBUTE.to_owned(), trace.to_owned()))
            .into_iter()
            .collect();
        self.0
            .send(order.to_json(), attributes, None)
            .await
            .map(drop)
            .map_err(|e| PublishError(e.to_string()))
    }
}

/// A started emulator.
pub struct RunningEmulator {
    addr: SocketAddr,
    /// Stops the gateway, the queue poller and the resumer: no new work.
    stop_work: watch::Sender<bool>,
    /// Stops the HTTP server, which also hosts the local providers that running tasks call.
    stop_server: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    server: Option<JoinHandle<()>>,
    step_functions: Arc<LocalStepFunctions>,
    drain_timeout: Duration,
    db: Db,
    /// The variables that point a function process at the providers the emulator's functions use.
    provider_environment: Vec<(&'static str, String)>,
}

impl RunningEmulator {
    /// The variables that point a function binary at the PayPal, SendGrid and Mailchimp the
    /// emulator's functions use (its local ones, unless real ones were configured), as the
    /// emulator gives them to the processes it starts. They hold the providers' secrets.
    pub fn provider_environment(&self) -> &[(&'static str, String)] {
        &self.provider_environment
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits up to `within` for the execution `name` to stop (succeed or fail), and returns it as
    /// it stands then (`None` if it was never started).
    pub async fn wait_for_execution(
        &self,
        name: &str,
        within: Duration,
    ) -> anyhow::Result<Option<durable::ExecutionSummary>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let summary = self
                .step_functions
                .executions()
                .get(name)
                .await?
                .map(|r| r.summary);
            let stopped = summary
                .as_ref()
                .is_some_and(|s| s.status != durable::ExecutionStatus::Running);
            if stopped || tokio::time::Instant::now() >= deadline {
                return Ok(summary);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops taking new work (requests, queue messages, executions to resume), lets in-flight
    /// requests and batches finish, waits for running executions up to the drain timeout, and
    /// closes the database. Whatever is unfinished then is in the database, and resumes at the
    /// next start.
    pub async fn shutdown(mut self) {
        let _ = self.stop_work.send(true);
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.await;
        }
        self.step_functions.drain(self.drain_timeout).await;
        let _ = self.stop_server.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.db.close().await;
    }
}

impl Drop for RunningEmulator {
    /// Dropped without `shutdown`: signal the server and the pollers to stop anyway.
    fn drop(&mut self) {
        let _ = self.stop_work.send(true);
        let _ = self.stop_server.send(true);
    }
}

/// Builds the topology and serves it on `listener`.
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<RunningEmulator> {
    let addr = listener.local_addr()?;
    let catalogue = TicketCatalogue::builtin();
    let db = Db::connect(&config.database_url).await?;
    let store: Arc<dyn OrderStore> = match db.pool() {
        Pool::Sqlite(pool) => Arc::new(SqliteOrderStore::from_pool(pool.clone()).await?),
        Pool::Postgres(pool) => Arc::new(PostgresOrderStore::from_pool(pool.clone()).await?),
    };
    let records = Records::open(db.clone()).await?;
    let faults = Arc::new(Faults::default());
    let providers = LocalProviders::new(
        &config,
        &format!("http://{addr}/_providers"),
        &catalogue.conference,
        &faults,
        &records,
    )?;

    let queue = |config: QueueConfig| Arc::new(Queue::new(db.clone(), config));
    let registrations_dlq = queue(QueueConfig::new(REGISTRATIONS_DLQ));
    let registrations = queue(QueueConfig {
        visibility_timeout: config.visibility_timeout,
        redrive: Some(Redrive {
            dead_letter_queue: registrations_dlq.clone(),
            max_receive_count: config.max_receive_count,
        }),
        ..QueueConfig::new(REGISTRATIONS_QUEUE)
    });
    let follow_up = queue(QueueConfig::new(FOLLOW_UP_DLQ));

    let provider_environment = [
        providers.paypal_config.to_env(),
        providers.sendgrid_config.to_env(),
        providers.mailchimp_config.to_env(),
    ]
    .concat();
    let processes = match &config.functions {
        Functions::InProcess => None,
        Functions::Process(binaries) => Some(process_functions(
            &config,
            binaries,
            &format!("http://{addr}"),
            &providers,
        )?),
    };
    let process = |name: &str| processes.as_ref().map(|p: &HashMap<_, _>| p[name].clone());

    let payment: Arc<dyn HttpFunction> = match process("payment") {
        Some(function) => Arc::new(lambda::ProcessHttpFunction(function)),
        None => Arc::new(payment::Payment::new(
            catalogue.clone(),
            Arc::new(PayPalClient::new(providers.paypal_config.clone())),
            Arc::new(QueuePublisher(registrations.clone())),
            Arc::new(SqlIdempotencyStore::new(db.clone())),
            config.payment_timeout,
        )),
    };
    let in_process_tasks: [(&'static str, Arc<dyn TaskFunction>); 3] = [
        (
            "save-order",
            Arc::new(save_order::SaveOrder::new(store.clone())),
        ),
        (
            "email",
            Arc::new(email::Email::new(
                email::Confirmation::new(&catalogue.conference),
                Arc::new(SendGridClient::new(providers.sendgrid_config.clone())),
            )),
        ),
        (
            "mailing-list",
            Arc::new(mailing_list::MailingList::new(Arc::new(
                MailchimpClient::new(providers.mailchimp_config.clone()),
            ))),
        ),
    ];
    let task_targets: Vec<(&'static str, TaskTarget)> = in_process_tasks
        .into_iter()
        .map(|(name, function)| match process(name) {
            Some(function) => (name, TaskTarget::Process(function)),
            None => (name, TaskTarget::InProcess(function)),
        })
        .collect();
    let mut lambda_functions: HashMap<String, TaskTarget> = task_targets
        .iter()
        .map(|(name, target)| ((*name).to_owned(), target.clone()))
        .collect();
    if let Some(processes) = &processes {
        for name in ["payment", "orchestrator"] {
            lambda_functions.insert(
                name.to_owned(),
                TaskTarget::Process(processes[name].clone()),
            );
        }
    }
    let tasks = LocalTasks {
        functions: task_targets
            .into_iter()
            .map(|(name, target)| (function_arn(name), (name, target)))
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
    let step_functions = LocalStepFunctions::new(
        workflow::StateMachine::from_json(&definition)?,
        tasks,
        Executions::new(db.clone(), config.execution_lease),
    )?;

    let (stop_work, stopping) = watch::channel(false);
    let (stop_server, server_stopping) = watch::channel(false);
    let mapping = EventSourceMapping {
        queue: registrations.clone(),
        function_name: "orchestrator",
        function: match process("orchestrator") {
            Some(function) => Consumer::Process(function),
            None => Consumer::InProcess(Arc::new(orchestrator::Orchestrator::new(Arc::new(
                LocalStarter(step_functions.clone()),
            )))),
        },
        batch_size: 10,
        timeout: config.function_timeout,
        faults: faults.clone(),
    };
    let services = Arc::new(Services {
        payment,
        queues: vec![registrations, registrations_dlq, follow_up],
        step_functions: step_functions.clone(),
        store,
        records,
        paypal: providers.paypal,
        sendgrid: providers.sendgrid,
        mailchimp: providers.mailchimp,
        faults,
        payment_timeout: config.payment_timeout,
        lambda_functions,
        function_timeout: config.function_timeout,
        site_origin: config.site_origin.clone(),
        stopping: stopping.clone(),
    });
    let resumer = tokio::spawn(step_functions.clone().resume_lapsed(stopping.clone()));
    let mut workers = vec![resumer];
    if config.event_sources {
        workers.push(tokio::spawn(mapping.run(stopping)));
    }
    let server = tokio::spawn(http::serve(
        listener,
        services,
        config.limits,
        server_stopping,
    ));
    Ok(RunningEmulator {
        addr,
        stop_work,
        stop_server,
        workers,
        server: Some(server),
        step_functions,
        drain_timeout: config.drain_timeout,
        db,
        provider_environment,
    })
}

/// Environment variables, as the provider configurations write them.
type Variables = Vec<(&'static str, String)>;

/// The functions as processes of their binaries, each with the variables `template.yaml` gives
/// it, pointed at this emulator (`base`) and its providers.
fn process_functions(
    config: &Config,
    binaries: &HashMap<String, std::path::PathBuf>,
    base: &str,
    providers: &LocalProviders,
) -> anyhow::Result<HashMap<String, Arc<LambdaFunction>>> {
    let owned = |pairs: Variables| -> Vec<(String, String)> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    let queue = |name: &str| format!("{base}/{}/{name}", aws::ACCOUNT);
    let database = ("DATABASE_URL", config.database_url.clone());
    let environments: [(&str, Variables, Duration); 5] = [
        (
            "payment",
            [
                vec![
                    ("REGISTRATIONS_QUEUE_URL", queue(REGISTRATIONS_QUEUE)),
                    (
                        "PAYMENT_TIMEOUT_SECONDS",
                        config.payment_timeout.as_secs().to_string(),
                    ),
                    database.clone(),
                ],
                providers.paypal_config.to_env(),
            ]
            .concat(),
            config.payment_timeout,
        ),
        (
            "orchestrator",
            vec![
                (
                    "STATE_MACHINE_ARN",
                    aws::sfn::state_machine_arn(REGISTRATION_STATE_MACHINE),
                ),
                ("DEAD_LETTER_QUEUE_URL", queue(REGISTRATIONS_DLQ)),
            ],
            config.function_timeout,
        ),
        ("save-order", vec![database], config.function_timeout),
        (
            "email",
            providers.sendgrid_config.to_env(),
            config.function_timeout,
        ),
        (
            "mailing-list",
            providers.mailchimp_config.to_env(),
            config.function_timeout,
        ),
    ];
    environments
        .into_iter()
        .map(|(name, environment, timeout)| {
            let executable = binaries
                .get(name)
                .ok_or_else(|| anyhow::anyhow!("no binary for the function {name}"))?;
            let function = LambdaFunction::new(FunctionSpec {
                name: name.to_owned(),
                executable: executable.clone(),
                environment: owned(environment),
                timeout,
                memory_mb: 128,
                concurrency: config.function_concurrency,
                endpoint_url: base.to_owned(),
            });
            Ok((name.to_owned(), function))
        })
        .collect()
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
        assert!(TEMPLATE.contains(&format!(
            "      Timeout: {}",
            defaults.payment_timeout.as_secs()
        )));
        assert!(TEMPLATE.contains("BatchSize: 10") && TEMPLATE.contains("ReportBatchItemFailures"));
    }

    /// Every Task state of `state_machine` (in Parallel branches and Map processors too), by name.
    fn task_states(state_machine: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
        let mut found = Vec::new();
        let states = state_machine["States"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, state) in states {
            match state["Type"].as_str() {
                Some("Task") => found.push((name, state)),
                Some("Parallel") => {
                    for branch in state["Branches"].as_array().into_iter().flatten() {
                        found.extend(task_states(branch));
                    }
                }
                Some("Map") => {
                    found.extend(task_states(&state["ItemProcessor"]));
                    found.extend(task_states(&state["Iterator"]));
                }
                _ => {}
            }
        }
        found
    }

    /// The names a state's `Retry` or `Catch` (`which`) matches.
    fn error_equals<'a>(state: &'a serde_json::Value, which: &str) -> Vec<&'a str> {
        state[which]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|rule| rule["ErrorEquals"].as_array().into_iter().flatten())
            .filter_map(serde_json::Value::as_str)
            .collect()
    }

    /// The workflow file and the functions agree on error names: a name in a task's `ErrorEquals`
    /// is one the task raises (or a platform's: `States.*`, `Lambda.*`, `Sandbox.*`), and every
    /// retryable error a task raises is retried by its state.
    #[test]
    fn the_workflow_retries_and_catches_what_its_tasks_raise() {
        use function_model::{ErrorType, TypedTask};
        let raises: HashMap<&str, &[ErrorType]> = HashMap::from([
            (
                "${SaveOrderFunctionArn}",
                <save_order::SaveOrder as TypedTask>::RAISES,
            ),
            ("${EmailFunctionArn}", <email::Email as TypedTask>::RAISES),
            (
                "${MailingListFunctionArn}",
                <mailing_list::MailingList as TypedTask>::RAISES,
            ),
        ]);
        let definition: serde_json::Value =
            serde_json::from_str(REGISTRATION_WORKFLOW).expect("the workflow is JSON");
        let mut checked = 0;
        for (name, state) in task_states(&definition) {
            let Some(raised) = state["Resource"].as_str().and_then(|r| raises.get(r)) else {
                continue;
            };
            checked += 1;
            let retried = error_equals(&state, "Retry");
            for matched in retried.iter().chain(&error_equals(&state, "Catch")) {
                let platform = ["States.", "Lambda.", "Sandbox."]
                    .iter()
                    .any(|prefix| matched.starts_with(prefix));
                let raisable = *matched == ErrorType::InvalidInput.name()
                    || raised.iter().any(|t| t.name() == *matched);
                assert!(
                    platform || raisable,
                    "{name} matches {matched}, which its function never raises"
                );
            }
            for retryable in raised.iter().filter(|t| t.is_retryable()) {
                assert!(
                    retried.contains(&retryable.name()) || retried.contains(&"States.ALL"),
                    "{name} does not retry {retryable}, which its function raises as retryable"
                );
            }
        }
        assert_eq!(checked, raises.len(), "every task function has a state");
    }

    /// The emulator's gateway answers CORS as the deployed HTTP API does.
    #[test]
    fn cors_matches_the_sam_template() {
        let allowed = http::CORS_ALLOWED_HEADERS.replace(',', ", ");
        assert!(
            TEMPLATE.contains(&format!("AllowHeaders: [{allowed}]")),
            "template.yaml allows the headers the emulator allows: {allowed}"
        );
        assert!(TEMPLATE.contains("AllowMethods: [GET, POST]"));
        assert!(TEMPLATE.contains("ExposeHeaders: [retry-after]"));
        assert!(TEMPLATE.contains("MaxAge: 600"));
    }
}
