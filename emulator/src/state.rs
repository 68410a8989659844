//! What the emulator is made of once started, in the order it is built: the [`Platform`] that both
//! clouds' hosts stand on (the database, the order store, the local providers and their records,
//! the fault injector, the workflow's executions), the [`Wiring`] a host makes of its topology
//! (routes, queues, what consumes them), and the [`Services`] that the server's handlers reach.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use durable::{Db, Executions, Queue};
use function_model::HttpFunction;
use futures_util::future::BoxFuture;
use order_store::OrderStore;
use tokio::sync::watch;

use crate::aws::step_functions::{LocalStepFunctions, TaskTarget};
use crate::aws::template::{Cors, Route};
use crate::azure::handler::CustomHandler;
use crate::config::Config;
use crate::functions::invocations::Invocations;
use crate::functions::reload::{BuildReport, Reloadable};
use crate::inspector::execution_view::Workflow;
use crate::local_providers::faults::Faults;
use crate::local_providers::records::Records;
use crate::local_providers::{LocalProviders, MailchimpFake, PayPalFake, SendGridFake};
use crate::throttle::{ReservedConcurrency, TokenBucket};

/// What both clouds' hosts stand on.
pub(crate) struct Platform {
    /// The emulator's own URL (`http://127.0.0.1:3000`).
    pub base: String,
    pub db: Db,
    pub store: Arc<dyn OrderStore>,
    pub records: Records,
    pub faults: Arc<Faults>,
    pub providers: LocalProviders,
    pub executions: Executions,
    /// The recent invocations of the functions run as their binaries (AWS topology).
    pub invocations: Arc<Invocations>,
    /// What the emulator's CloudFront sends the API as `X-Origin-Verify` (new at each start): the
    /// payment function trusts its viewer address only with it.
    pub origin_secret: String,
}

/// The key of the payment function's fingerprints here (its `FINGERPRINT_KEY`; a secret in the
/// cloud, where the fingerprints are worth guarding).
const LOCAL_FINGERPRINT_KEY: &str = "the emulator's fingerprint key, not a secret";

impl Platform {
    /// Opens the database (and the order store and records in it) and starts the local
    /// providers, for an emulator serving at `base`.
    pub async fn open(config: &Config, base: String) -> anyhow::Result<Self> {
        let db = Db::connect_owner(&config.database_url).await?;
        let store = order_store::on_pool(db.pool(), db.rounds()).await?;
        let records = Records::open(db.clone()).await?;
        let faults = Arc::new(Faults::default());
        let providers = LocalProviders::new(
            config,
            &format!("{base}/_providers"),
            &domain::TicketCatalogue::builtin().conference,
            &faults,
            &records,
        )?;
        Ok(Self {
            executions: Executions::new(db.clone(), config.execution_lease),
            invocations: Arc::default(),
            origin_secret: uuid::Uuid::new_v4().simple().to_string(),
            base,
            db,
            store,
            records,
            faults,
            providers,
        })
    }

    /// The settings the emulator gives its functions in place of the cloud's (which name cloud
    /// resources and secrets), by group: the database, PayPal, SendGrid, Mailchimp (the
    /// providers: [`Platform::PROVIDERS`]), then the payment function's fingerprint key and the
    /// secret of the emulator's CloudFront.
    pub fn local_settings(&self, config: &Config) -> [Vec<(&'static str, String)>; 6] {
        [
            vec![("DATABASE_URL", config.database_url.clone())],
            self.providers.paypal_config.to_env(),
            self.providers.sendgrid_config.to_env(),
            self.providers.mailchimp_config.to_env(),
            vec![("FINGERPRINT_KEY", LOCAL_FINGERPRINT_KEY.to_owned())],
            vec![("ORIGIN_VERIFY_SECRET", self.origin_secret.clone())],
        ]
    }

    /// Where the providers' groups are in [`Platform::local_settings`].
    pub const PROVIDERS: std::ops::Range<usize> = 1..4;
}

/// A loop that feeds a queue to its function until told to stop: an event source mapping (AWS)
/// or a Service Bus trigger (Azure).
pub(crate) type Poller = Box<dyn FnOnce(watch::Receiver<bool>) -> BoxFuture<'static, ()> + Send>;

/// What a host makes of its topology.
pub(crate) struct Wiring {
    pub routes: Vec<HttpRoute>,
    pub cors: Cors,
    /// The secret the emulator's CloudFront proves itself with to the API (AWS only).
    pub origin_secret: Option<String>,
    /// The functions' reserved concurrency, by name (AWS only).
    pub reserved_concurrency: HashMap<String, ReservedConcurrency>,
    pub queues: Vec<Arc<Queue>>,
    /// The local Step Functions (AWS only; on Azure the handler runs the workflow itself).
    pub step_functions: Option<Arc<LocalStepFunctions>>,
    /// The state machine the executions run, as the inspector draws it.
    pub workflow: Arc<Workflow>,
    /// What Lambda's `Invoke` reaches, by function name (AWS only).
    pub lambda_functions: HashMap<String, TaskTarget>,
    pub pollers: Vec<Poller>,
    /// The Azure Function App's custom handler, stopped once the pollers have drained.
    pub handler: Option<Arc<CustomHandler>>,
    /// What runs the functions' binaries, for reload on save (process mode).
    pub reloadable: Vec<Arc<dyn Reloadable>>,
}

/// Everything the server's handlers reach: the gateway, the inspector, AWS's APIs.
pub(crate) struct Services {
    /// The HTTP API's routes, in the template's order.
    pub routes: Vec<HttpRoute>,
    pub cors: Cors,
    /// With it, the gateway adds what CloudFront adds in front of the API (AWS only; see
    /// `gateway.rs`).
    pub origin_secret: Option<String>,
    /// The client's address is the last `X-Forwarded-For` entry (`--trust-forwarded-for`).
    pub trust_forwarded_for: bool,
    /// The functions' reserved concurrency, by name, which `Invoke` honours (AWS only).
    pub reserved_concurrency: HashMap<String, ReservedConcurrency>,
    pub queues: Vec<Arc<Queue>>,
    /// The local Step Functions (AWS topology only).
    pub step_functions: Option<Arc<LocalStepFunctions>>,
    /// The workflow's executions, whoever runs them (the local Step Functions, or the Azure
    /// handler on the same database).
    pub executions: Executions,
    /// The state machine they run, as the inspector draws it.
    pub workflow: Arc<Workflow>,
    pub store: Arc<dyn OrderStore>,
    pub records: Records,
    pub paypal: Arc<PayPalFake>,
    pub sendgrid: Arc<SendGridFake>,
    pub mailchimp: Arc<MailchimpFake>,
    pub faults: Arc<Faults>,
    /// What Lambda's `Invoke` reaches, by function name (see `aws::api`).
    pub lambda_functions: HashMap<String, TaskTarget>,
    /// The recent invocations of the functions run as their binaries, for a registration's story.
    pub invocations: Arc<Invocations>,
    /// True once a clean stop has begun: the gateway takes no new registrations.
    pub stopping: watch::Receiver<bool>,
    /// Where reload on save's builds stand.
    pub build: watch::Receiver<BuildReport>,
    /// With reload on save, the workspace whose site and inspector files are served as saved.
    pub live_site: Option<PathBuf>,
}

/// A route of the HTTP API and the function behind it.
pub(crate) struct HttpRoute {
    pub route: Route,
    pub function: Arc<dyn HttpFunction>,
    /// The function's timeout, past which the gateway answers `504`.
    pub timeout: Duration,
    /// API Gateway's throttling of the route (AWS only).
    pub throttle: Option<TokenBucket>,
    /// The function's reserved concurrency (AWS only).
    pub reserved: Option<ReservedConcurrency>,
}
