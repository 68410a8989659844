//! What can be tuned when the emulator starts ([`Config`]): the database, the template, the
//! cloud, how the functions run, the real providers to use instead of the local ones, and the
//! bounds (timeouts, limits) that tests and the command line shorten. The topology itself comes
//! from the template (or the Function App).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clients::config::{ConfigError, Env};
use clients::mailchimp::MailchimpConfig;
use clients::paypal::PayPalConfig;
use clients::sendgrid::SendGridConfig;
use durable::Executions;

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
    /// Whether the gateway takes a request's client address from its last `X-Forwarded-For`
    /// entry (as behind a proxy that adds it), so that one machine can play many clients. Off, it
    /// is the address that connected: a header a client sets is no address.
    pub trust_forwarded_for: bool,
    /// Whether the event source mappings feed their queues to their functions. Off, the queues
    /// are left to SQS clients (tests that drive them with the SDK).
    pub event_sources: bool,
    /// How the functions run: in the emulator's process, or as their binaries.
    pub functions: Functions,
    /// In process mode, the most instances of one function at once.
    pub function_concurrency: usize,
    /// In process mode with binaries that cargo built: build them again when a source they are
    /// built from changes, and serve the new build (see [`crate::functions::reload`]).
    pub reload_on_save: bool,
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
    Azure(AzureConfig),
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
    /// run their `CodeUri`'s `bootstrap`), run as Lambda runs them: see [`crate::aws::lambda`].
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
            trust_forwarded_for: false,
            event_sources: true,
            functions: Functions::InProcess,
            function_concurrency: 10,
            reload_on_save: false,
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

/// What `--cloud azure` runs.
#[derive(Debug, Clone)]
pub struct AzureConfig {
    /// The Function App's folder (`infra/azure`).
    pub app_dir: PathBuf,
    /// The custom handler's executable, built by cargo.
    pub handler: PathBuf,
}

/// How much of a request the emulator waits for, and how long. A request past a bound is answered
/// `408` (too slow) or `431` (head too large) and its connection closed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From a head's first byte to its end.
    pub head_timeout: Duration,
    /// From the end of the head to the end of the body (checked by the server's middleware).
    pub body_timeout: Duration,
    /// A head's size: request line and headers.
    pub max_head_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_head_bytes: 16 * 1024,
        }
    }
}
