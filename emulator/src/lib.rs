//! The local cloud: one process that hosts the whole registration system, with no Docker and no
//! cloud account.
//!
//! It runs the topology that `template.yaml` deploys (read by [`template`]; `--template` for
//! another): an HTTP gateway with the template's routes and CORS in front of `payment`, the
//! queues with their redrive policies, the SQS event source feeding `orchestrator`, a local Step
//! Functions running the state machine (the very ASL file that deploys, with the template's
//! substitutions) whose tasks call `save-order`, `email` and `mailing-list`, and the order store
//! (SQLite by default, PostgreSQL by `DATABASE_URL`). The functions run as their binaries under
//! the Lambda Runtime API ([`lambda`], `--functions process`) or as their libraries in this
//! process. Everything the emulator accepts is kept in that database: queue messages, workflow
//! executions with their checkpoints, idempotency records and the local providers' records, so
//! that a crash or a restart loses nothing (see the `durable` crate). The functions use the real
//! PayPal, SendGrid and Mailchimp clients, pointed at local servers that speak those providers'
//! wire formats (`/_providers/*`), or at the real services when their settings are given
//! ([`Providers`]). An inspector API shows what happened and injects faults.
//!
//! Layout: `lib.rs` wires the topology and starts it; `template/` reads it; `http.rs` serves the
//! site, the gateway and the inspector; `aws/` serves AWS's own APIs (SQS, Step Functions,
//! Lambda) to the SDKs; `lambda.rs` and `runtime_api.rs` run function binaries as Lambda does;
//! `event_source.rs` polls queues into their functions; `step_functions.rs` runs the workflow;
//! `fakes/` holds the local PayPal, SendGrid and Mailchimp servers, and `records.rs` what they
//! keep; `faults.rs` is the fault injector.

pub mod aws;
pub mod azure;
pub mod event_source;
mod execution_view;
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
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use clients::publisher::{OrderPublisher, PublishError, TRACE_ATTRIBUTE};
use domain::{OrderPlaced, TicketCatalogue};
use durable::{Db, Executions, Pool, Queue, QueueConfig, Redrive, SqlIdempotencyStore};
use function_model::{HttpFunction, TaskFunction, local_function_arn};
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
use step_functions::{LocalStarter, LocalStepFunctions, LocalTasks, TaskTarget};
use template::{Code, Function, QueueSpec, Template, Topology};

pub use front::Limits;

/// What can be tuned when starting the emulator. The topology itself comes from the template.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` or `postgres://…` (see `order_store::connect`).
    pub database_url: String,
    /// The SAM template whose topology runs (default: the workspace's `template.yaml`).
    pub template: PathBuf,
    /// Values of the template's parameters, as `sam deploy --parameter-overrides` gives them.
    pub parameter_overrides: Vec<(String, String)>,
    /// Replaces every queue's `VisibilityTimeout` (shorter makes redelivery quick to see).
    pub visibility_timeout: Option<Duration>,
    /// Replaces every redrive policy's `maxReceiveCount`.
    pub max_receive_count: Option<u32>,
    /// Replaces the `Timeout` of the functions named.
    pub function_timeouts: HashMap<String, Duration>,
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
    /// An origin allowed to call the API from a browser (CORS) besides the template's
    /// `AllowOrigins`; see [`site_origin`].
    pub site_origin: Option<String>,
    /// Whether the event source mappings feed their queues to their functions. Off, the queues
    /// are left to SQS clients (tests that drive them with the SDK).
    pub event_sources: bool,
    /// How the functions run: in the emulator's process, or as their binaries.
    pub functions: Functions,
    /// In process mode, the most instances of one function at once.
    pub function_concurrency: usize,
    /// Which cloud's topology runs: the SAM template's (AWS), or the Function App's (Azure).
    pub cloud: Cloud,
}

/// Which cloud's topology the emulator runs.
#[derive(Debug, Clone, Default)]
pub enum Cloud {
    /// `template.yaml`: API Gateway, SQS, Lambda, Step Functions.
    #[default]
    Aws,
    /// `infra/azure`: the Functions host, Service Bus, the custom handler.
    Azure(azure::AzureConfig),
}

/// The workspace's `template.yaml`, the default topology.
pub fn workspace_template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

/// How the functions run.
#[derive(Debug, Clone, Default)]
pub enum Functions {
    /// The function libraries, called in the emulator's process.
    #[default]
    InProcess,
    /// The functions' binaries (by cargo binary name, for `rust-cargolambda` functions; others
    /// run their `CodeUri`'s `bootstrap`), run as Lambda runs them: see [`lambda`].
    Process(HashMap<String, PathBuf>),
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
            template: workspace_template(),
            parameter_overrides: Vec::new(),
            visibility_timeout: None,
            max_receive_count: None,
            function_timeouts: HashMap::new(),
            paypal_deadline: PayPalConfig::DEFAULT_DEADLINE,
            providers: Providers::default(),
            drain_timeout: Duration::from_secs(20),
            execution_lease: Executions::DEFAULT_LEASE,
            limits: Limits::default(),
            site_origin: None,
            event_sources: true,
            functions: Functions::InProcess,
            function_concurrency: 10,
            cloud: Cloud::Aws,
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
    /// The HTTP API's routes, in the template's order.
    routes: Vec<HttpRoute>,
    cors: template::Cors,
    queues: Vec<Arc<Queue>>,
    /// The local Step Functions (AWS topology only).
    step_functions: Option<Arc<LocalStepFunctions>>,
    /// The workflow's executions, whoever runs them (the local Step Functions, or the Azure
    /// handler on the same database).
    executions: Executions,
    /// The state machine they run, as the inspector draws it.
    workflow: Arc<execution_view::Workflow>,
    store: Arc<dyn OrderStore>,
    records: Records,
    paypal: Arc<PayPalFake>,
    sendgrid: Arc<SendGridFake>,
    mailchimp: Arc<MailchimpFake>,
    faults: Arc<Faults>,
    /// What Lambda's `Invoke` reaches, by function name (see `aws::lambda`).
    lambda_functions: HashMap<String, TaskTarget>,
    /// True once a clean stop has begun: the gateway takes no new registrations.
    stopping: watch::Receiver<bool>,
}

/// A route of the HTTP API and the function behind it.
pub(crate) struct HttpRoute {
    route: template::Route,
    function: Arc<dyn HttpFunction>,
    /// The function's timeout, past which the gateway answers `504`.
    timeout: Duration,
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
            .map_err(PublishError::new)
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
    step_functions: Option<Arc<LocalStepFunctions>>,
    executions: Executions,
    /// The Azure Function App's custom handler, stopped once the triggers have drained.
    handler: Option<Arc<azure::handler::CustomHandler>>,
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
            let summary = self.executions.get(name).await?.map(|r| r.summary);
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
        if let Some(step_functions) = &self.step_functions {
            step_functions.drain(self.drain_timeout).await;
        }
        if let Some(handler) = &self.handler {
            handler.stop();
        }
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

/// What a topology is wired into: the gateway's routes, the queues, and what consumes them.
struct Wiring {
    routes: Vec<HttpRoute>,
    cors: template::Cors,
    queues: Vec<Arc<Queue>>,
    step_functions: Option<Arc<LocalStepFunctions>>,
    workflow: Arc<execution_view::Workflow>,
    lambda_functions: HashMap<String, TaskTarget>,
    mappings: Vec<EventSourceMapping>,
    service_bus: Vec<Arc<azure::triggers::ServiceBusTrigger>>,
    handler: Option<Arc<azure::handler::CustomHandler>>,
}

/// What both topologies share: the database, the order store, the local providers and their
/// records, the fault injector.
struct Shared {
    base: String,
    catalogue: TicketCatalogue,
    db: Db,
    store: Arc<dyn OrderStore>,
    records: Records,
    faults: Arc<Faults>,
    providers: LocalProviders,
    executions: Executions,
}

impl Shared {
    /// The settings the emulator gives its functions in place of the cloud's (which name cloud
    /// resources and secrets), by group: the database, PayPal, SendGrid, Mailchimp.
    fn local_settings(&self, config: &Config) -> [Vec<(&'static str, String)>; 4] {
        [
            vec![("DATABASE_URL", config.database_url.clone())],
            self.providers.paypal_config.to_env(),
            self.providers.sendgrid_config.to_env(),
            self.providers.mailchimp_config.to_env(),
        ]
    }
}

/// Serves the configured cloud's topology (the SAM template's, or the Azure Function App's) on
/// `listener`.
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<RunningEmulator> {
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let catalogue = TicketCatalogue::builtin();
    let db = Db::connect(&config.database_url).await?;
    let store: Arc<dyn OrderStore> = match db.pool() {
        Pool::Sqlite(pool) => {
            Arc::new(SqliteOrderStore::from_pool(pool.clone(), db.rounds()).await?)
        }
        Pool::Postgres(pool) => {
            Arc::new(PostgresOrderStore::from_pool(pool.clone(), db.rounds()).await?)
        }
    };
    let records = Records::open(db.clone()).await?;
    let faults = Arc::new(Faults::default());
    let providers = LocalProviders::new(
        &config,
        &format!("{base}/_providers"),
        &catalogue.conference,
        &faults,
        &records,
    )?;
    let shared = Shared {
        executions: Executions::new(db.clone(), config.execution_lease),
        base,
        catalogue,
        db,
        store,
        records,
        faults,
        providers,
    };
    let local_settings = shared.local_settings(&config);
    let wiring = match &config.cloud {
        Cloud::Aws => wire_aws(&config, &shared)?,
        Cloud::Azure(azure) => {
            let settings = local_settings
                .iter()
                .flatten()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect();
            let azure = azure::wire(
                &config,
                azure,
                &shared.base,
                &shared.db,
                &shared.faults,
                settings,
            )
            .await?;
            Wiring {
                routes: azure.routes,
                cors: azure.cors,
                queues: azure.queues,
                step_functions: None,
                workflow: Arc::new(
                    execution_view::Workflow::parse(azure::WORKFLOW_NAME, azure::WORKFLOW)
                        .context("the registration workflow")?,
                ),
                lambda_functions: HashMap::new(),
                mappings: Vec::new(),
                service_bus: azure.triggers,
                handler: Some(azure.handler),
            }
        }
    };
    let Shared {
        db,
        store,
        records,
        faults,
        providers,
        executions,
        ..
    } = shared;
    let provider_environment = local_settings[1..].concat();
    let (stop_work, stopping) = watch::channel(false);
    let (stop_server, server_stopping) = watch::channel(false);
    let services = Arc::new(Services {
        routes: wiring.routes,
        cors: wiring.cors,
        queues: wiring.queues,
        step_functions: wiring.step_functions.clone(),
        executions: executions.clone(),
        workflow: wiring.workflow,
        store,
        records,
        paypal: providers.paypal,
        sendgrid: providers.sendgrid,
        mailchimp: providers.mailchimp,
        faults,
        lambda_functions: wiring.lambda_functions,
        stopping: stopping.clone(),
    });
    let mut workers = Vec::new();
    if let Some(step_functions) = &wiring.step_functions {
        workers.push(tokio::spawn(
            step_functions.clone().resume_lapsed(stopping.clone()),
        ));
    }
    if config.event_sources {
        for mapping in wiring.mappings {
            workers.push(tokio::spawn(mapping.run(stopping.clone())));
        }
        for trigger in wiring.service_bus {
            workers.push(tokio::spawn(trigger.run(stopping.clone())));
        }
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
        step_functions: wiring.step_functions,
        executions,
        handler: wiring.handler,
        drain_timeout: config.drain_timeout,
        db,
        provider_environment,
    })
}

/// Reads the template's topology and wires it: queues, the local Step Functions and its tasks,
/// the gateway's routes, the event source mappings.
fn wire_aws(config: &Config, shared: &Shared) -> anyhow::Result<Wiring> {
    let Shared {
        base,
        catalogue,
        db,
        store,
        faults,
        providers,
        executions,
        ..
    } = shared;
    let mut topology =
        Template::load(&config.template)?.topology(&config.parameter_overrides, base)?;
    apply_overrides(config, &mut topology)?;
    let queues = create_queues(db, &topology.queues)?;
    let queue_at = |url: &str| -> Option<Arc<Queue>> {
        queues
            .iter()
            .find(|queue| aws::sqs::queue_url(base, queue.name()) == url)
            .cloned()
    };
    // A function that declares any variable of a group gets the whole group.
    let local_settings = shared.local_settings(config);
    let processes: HashMap<String, Arc<LambdaFunction>> = match &config.functions {
        Functions::InProcess => HashMap::new(),
        Functions::Process(binaries) => topology
            .functions
            .iter()
            .map(|function| {
                let spec = FunctionSpec {
                    name: function.name.clone(),
                    executable: executable(function, binaries)?,
                    environment: process_environment(function, &local_settings)?,
                    timeout: function.timeout,
                    memory_mb: function.memory_mb,
                    concurrency: config.function_concurrency,
                    endpoint_url: base.clone(),
                };
                Ok((function.name.clone(), LambdaFunction::new(spec)))
            })
            .collect::<anyhow::Result<_>>()?,
    };

    // Every function is a Lambda function that `Invoke` and the state machine's tasks reach; in
    // process, only the task libraries are.
    let mut lambda_functions: HashMap<String, TaskTarget> = HashMap::new();
    for function in &topology.functions {
        let target = match processes.get(&function.name) {
            Some(process) => TaskTarget::Process(process.clone()),
            None => {
                let library: Arc<dyn TaskFunction> = match binary(function) {
                    Some("save-order") => Arc::new(save_order::SaveOrder::new(store.clone())),
                    Some("email") => Arc::new(email::Email::new(
                        email::Confirmation::new(&catalogue.conference),
                        Arc::new(SendGridClient::new(providers.sendgrid_config.clone())),
                    )),
                    Some("mailing-list") => Arc::new(mailing_list::MailingList::new(Arc::new(
                        MailchimpClient::new(providers.mailchimp_config.clone()),
                    ))),
                    _ => continue,
                };
                TaskTarget::InProcess {
                    function: library,
                    timeout: function.timeout,
                }
            }
        };
        lambda_functions.insert(function.name.clone(), target);
    }
    let tasks = LocalTasks {
        functions: lambda_functions
            .iter()
            .map(|(name, target)| (local_function_arn(name), (name.clone(), target.clone())))
            .collect(),
        queues: queues
            .iter()
            .map(|queue| (aws::sqs::queue_url(base, queue.name()), queue.clone()))
            .collect(),
        faults: faults.clone(),
    };
    let machine = &topology.state_machine;
    let workflow = Arc::new(
        execution_view::Workflow::parse(&machine.name, &machine.definition)
            .with_context(|| format!("the state machine {}", machine.name))?,
    );
    let step_functions = LocalStepFunctions::new(
        &machine.name,
        workflow.machine.clone(),
        tasks,
        executions.clone(),
    )?;

    let mut routes = Vec::new();
    let mut http_functions: HashMap<String, Arc<dyn HttpFunction>> = HashMap::new();
    for route in &topology.routes {
        let function = topology
            .function(&route.function)
            .expect("routes name functions");
        let handler = match (
            http_functions.get(&function.name),
            processes.get(&function.name),
        ) {
            (Some(handler), _) => handler.clone(),
            (None, Some(process)) => Arc::new(lambda::ProcessHttpFunction(process.clone())),
            (None, None) if binary(function) == Some("payment") => {
                let url = declared(function, "REGISTRATIONS_QUEUE_URL")?;
                let queue = queue_at(&url).with_context(|| {
                    format!("the function {}: no queue at {url}", function.name)
                })?;
                Arc::new(payment::Payment::new(
                    catalogue.clone(),
                    Arc::new(PayPalClient::new(providers.paypal_config.clone())),
                    Arc::new(QueuePublisher(queue)),
                    Arc::new(SqlIdempotencyStore::new(db.clone())),
                    function.timeout,
                ))
            }
            (None, None) => return Err(not_in_process(function, "an HTTP function")),
        };
        http_functions.insert(function.name.clone(), handler.clone());
        routes.push(HttpRoute {
            route: route.clone(),
            function: handler,
            timeout: function.timeout,
        });
    }

    let mut mappings = Vec::new();
    for source in &topology.event_sources {
        let function = topology
            .function(&source.function)
            .expect("events name functions");
        let consumer = match processes.get(&function.name) {
            Some(process) => Consumer::Process(process.clone()),
            None if binary(function) == Some("orchestrator") => Consumer::InProcess(Arc::new(
                orchestrator::Orchestrator::new(Arc::new(LocalStarter(step_functions.clone()))),
            )),
            None => return Err(not_in_process(function, "a queue consumer")),
        };
        mappings.push(EventSourceMapping {
            queue: queue_at(&aws::sqs::queue_url(base, &source.queue))
                .expect("checked by the template"),
            function_name: function.name.clone(),
            function: consumer,
            batch_size: source.batch_size,
            report_batch_item_failures: source.report_batch_item_failures,
            timeout: function.timeout,
            faults: faults.clone(),
        });
    }

    let mut cors = topology.cors.clone();
    cors.allow_origins.extend(config.site_origin.clone());
    Ok(Wiring {
        routes,
        cors,
        queues,
        step_functions: Some(step_functions),
        workflow,
        lambda_functions,
        mappings,
        service_bus: Vec::new(),
        handler: None,
    })
}

/// The configuration's replacements for the template's queue settings and timeouts.
fn apply_overrides(config: &Config, topology: &mut Topology) -> anyhow::Result<()> {
    for queue in &mut topology.queues {
        if let Some(timeout) = config.visibility_timeout {
            queue.visibility_timeout = timeout;
        }
        if let (Some(count), Some((_, max_receive_count))) =
            (config.max_receive_count, queue.redrive.as_mut())
        {
            *max_receive_count = count;
        }
    }
    for (name, timeout) in &config.function_timeouts {
        let function = topology
            .functions
            .iter_mut()
            .find(|f| &f.name == name)
            .with_context(|| {
                format!("a timeout is given for {name}, which the template does not declare")
            })?;
        function.timeout = *timeout;
    }
    Ok(())
}

/// The template's queues, each created after its dead-letter queue, listed in the template's
/// order.
fn create_queues(db: &Db, specs: &[QueueSpec]) -> anyhow::Result<Vec<Arc<Queue>>> {
    let mut created: HashMap<&str, Arc<Queue>> = HashMap::new();
    while created.len() < specs.len() {
        let before = created.len();
        for spec in specs {
            if created.contains_key(spec.name.as_str()) {
                continue;
            }
            let redrive = match &spec.redrive {
                None => None,
                Some((dead_letter, max_receive_count)) => match created.get(dead_letter.as_str()) {
                    Some(queue) => Some(Redrive {
                        dead_letter_queue: queue.clone(),
                        max_receive_count: *max_receive_count,
                    }),
                    None => continue,
                },
            };
            let queue = Queue::new(
                db.clone(),
                QueueConfig {
                    visibility_timeout: spec.visibility_timeout,
                    delay: spec.delay,
                    redrive,
                    ..QueueConfig::new(&spec.name)
                },
            );
            created.insert(&spec.name, Arc::new(queue));
        }
        anyhow::ensure!(
            created.len() > before,
            "the queues' redrive policies form a cycle"
        );
    }
    Ok(specs
        .iter()
        .map(|spec| created[spec.name.as_str()].clone())
        .collect())
}

/// The cargo binary of a `rust-cargolambda` function.
fn binary(function: &Function) -> Option<&str> {
    match &function.code {
        Code::Cargo { binary } => Some(binary),
        Code::Bootstrap(_) => None,
    }
}

fn not_in_process(function: &Function, role: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the function {} ({}) is {role} that has no library in the emulator; run it as its \
         binary with --functions process",
        function.name,
        function.logical_id
    )
}

/// The value of a variable the function must declare.
fn declared(function: &Function, variable: &str) -> anyhow::Result<String> {
    match function.variable(variable) {
        Some(value) => Ok(value.clone()?),
        None => anyhow::bail!(
            "the function {} declares no {variable} in the template",
            function.name
        ),
    }
}

/// The executable of a function: its cargo binary, or its `bootstrap`.
fn executable(function: &Function, binaries: &HashMap<String, PathBuf>) -> anyhow::Result<PathBuf> {
    match &function.code {
        Code::Cargo { binary } => binaries.get(binary).cloned().with_context(|| {
            format!(
                "the function {} runs the binary {binary}, which was not built",
                function.name
            )
        }),
        Code::Bootstrap(path) if path.is_file() => Ok(path.clone()),
        Code::Bootstrap(path) => anyhow::bail!(
            "the function {} runs {}, which does not exist",
            function.name,
            path.display()
        ),
    }
}

/// A function process's variables: the template's, with the emulator's settings in place of
/// the groups it declares (see `start`). A template variable that cannot be resolved here (a
/// secret, a parameter without a value) is an error only if the emulator has no value for it.
fn process_environment(
    function: &Function,
    local_settings: &[Vec<(&'static str, String)>],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut environment: Vec<(String, String)> = local_settings
        .iter()
        .filter(|group| {
            group
                .iter()
                .any(|(name, _)| function.variable(name).is_some())
        })
        .flatten()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    for variable in &function.environment {
        if environment.iter().any(|(name, _)| *name == variable.name) {
            continue;
        }
        environment.push((variable.name.clone(), variable.value.clone()?));
    }
    Ok(environment)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let raises: HashMap<String, &[ErrorType]> = HashMap::from([
            (
                local_function_arn("save-order"),
                <save_order::SaveOrder as TypedTask>::RAISES,
            ),
            (
                local_function_arn("email"),
                <email::Email as TypedTask>::RAISES,
            ),
            (
                local_function_arn("mailing-list"),
                <mailing_list::MailingList as TypedTask>::RAISES,
            ),
        ]);
        let topology = Template::load(&workspace_template())
            .and_then(|t| t.topology(&[], "http://127.0.0.1:3000"))
            .expect("template.yaml resolves");
        let definition: serde_json::Value =
            serde_json::from_str(&topology.state_machine.definition).expect("the workflow is JSON");
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
}
