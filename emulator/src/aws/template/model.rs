//! What a template describes, as the emulator runs it: the functions, queues, event sources,
//! routes, CORS and state machine of a [`Topology`], and the errors of a template it cannot run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// A template that does not describe a topology the emulator can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {at}: {message}")]
pub struct TemplateError {
    pub file: String,
    /// Where: `Resources.PaymentFunction.Properties.Timeout`, `Parameters.SiteOrigin`, ….
    pub at: String,
    pub message: String,
}

/// A SAM template, read (YAML or JSON) with its short forms (`!Ref`) as long forms.
#[derive(Debug, Clone)]
pub struct Template {
    pub(super) path: PathBuf,
    pub(super) document: Value,
}

/// A function as the template declares it.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    /// Its local name (see the module documentation).
    pub name: String,
    pub code: Code,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// Its `Handler` (`bootstrap` when the template gives none), which Lambda passes to the
    /// runtime as `_HANDLER`.
    pub handler: String,
    pub environment: Vec<Variable>,
    /// `LoggingConfig.LogFormat` is `JSON`: Lambda sets `AWS_LAMBDA_LOG_FORMAT=JSON`.
    pub json_logs: bool,
    /// `ReservedConcurrentExecutions`: at most this many invocations at once; past it, Lambda
    /// throttles.
    pub reserved_concurrency: Option<u32>,
}

impl Function {
    /// The workspace's function it runs, when it is a `rust-cargolambda` function built from one.
    pub fn function_crate(&self) -> Option<crate::functions::FunctionCrate> {
        match &self.code {
            Code::Cargo { binary } => crate::functions::FunctionCrate::from_binary(binary),
            Code::Bootstrap(_) => None,
        }
    }

    /// The value of one of its variables, if it declares it.
    pub fn variable(&self, name: &str) -> Option<&Result<String, TemplateError>> {
        self.environment
            .iter()
            .find(|v| v.name == name)
            .map(|v| &v.value)
    }
}

/// One of a function's environment variables: its value, or why it has none here.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub value: Result<String, TemplateError>,
}

/// Where a function's executable comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// `BuildMethod: rust-cargolambda`: a binary of this workspace, built by cargo.
    Cargo { binary: String },
    /// A custom runtime's `bootstrap` executable in the `CodeUri` folder.
    Bootstrap(PathBuf),
}

/// A queue (`AWS::SQS::Queue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub visibility_timeout: Duration,
    pub delay: Duration,
    /// The dead-letter queue's name and `maxReceiveCount`.
    pub redrive: Option<(String, u32)>,
}

/// An SQS event source of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    pub queue: String,
    pub function: String,
    pub batch_size: usize,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: the function's `batchItemFailures`
    /// are retried and the rest deleted; without it, a successful invocation deletes the batch.
    pub report_batch_item_failures: bool,
}

/// A route of the HTTP API (`HttpApi` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper case, or `ANY`.
    pub method: String,
    pub path: String,
    pub function: String,
}

impl Route {
    /// The path parameters if this route takes `method` `path` (`{name}` matches one segment,
    /// `{name+}` the rest), as API Gateway matches routes.
    pub fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method != "ANY" && !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let mut parameters = BTreeMap::new();
        let mut actual = path.trim_start_matches('/').split('/');
        for expected in self.path.trim_start_matches('/').split('/') {
            if let Some(name) = expected
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix("+}"))
            {
                let rest: Vec<&str> = actual.by_ref().collect();
                if rest.is_empty() || rest == [""] {
                    return None;
                }
                parameters.insert(name.to_owned(), rest.join("/"));
                return Some(parameters);
            }
            let segment = actual.next()?;
            match expected.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if !segment.is_empty() => {
                    parameters.insert(name.to_owned(), segment.to_owned());
                }
                _ if segment == expected => {}
                _ => return None,
            }
        }
        actual.next().is_none().then_some(parameters)
    }
}

/// The HTTP API's `CorsConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
}

/// API Gateway's throttling of a route: a token bucket of `burst` tokens refilled at `rate` a
/// second, for all clients together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub rate: u32,
    pub burst: u32,
}

impl Throttle {
    /// An account's default throttling, for what a stage's settings leave unset.
    pub const ACCOUNT: Throttle = Throttle {
        rate: 10_000,
        burst: 5_000,
    };
}

/// The HTTP API's throttling: its `DefaultRouteSettings`, and its `RouteSettings` by route key
/// (`POST /api/registrations`), whose values override the default's one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Throttling {
    pub default: (Option<u32>, Option<u32>),
    pub routes: BTreeMap<String, (Option<u32>, Option<u32>)>,
}

impl Throttling {
    /// `route`'s throttle: none when nothing is set, as API Gateway then applies only the
    /// account's limits (which the emulator does not).
    pub fn of(&self, route: &Route) -> Option<Throttle> {
        let key = format!("{} {}", route.method, route.path);
        let (rate, burst) = self.routes.get(&key).copied().unwrap_or_default();
        let (rate, burst) = (rate.or(self.default.0), burst.or(self.default.1));
        (rate.is_some() || burst.is_some()).then(|| Throttle {
            rate: rate.unwrap_or(Throttle::ACCOUNT.rate),
            burst: burst.unwrap_or(Throttle::ACCOUNT.burst),
        })
    }
}

/// The state machine: its definition with the substitutions made.
#[derive(Debug, Clone)]
pub struct StateMachineSpec {
    pub name: String,
    pub definition: String,
}

/// Everything the emulator runs, resolved.
#[derive(Debug, Clone)]
pub struct Topology {
    pub functions: Vec<Function>,
    pub queues: Vec<QueueSpec>,
    pub event_sources: Vec<EventSource>,
    pub routes: Vec<Route>,
    pub cors: Cors,
    pub throttling: Throttling,
    pub state_machine: StateMachineSpec,
}

impl Topology {
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// Lambda's defaults for what neither the function nor `Globals` sets.
pub(super) const DEFAULT_TIMEOUT_SECONDS: u64 = 3;
pub(super) const DEFAULT_MEMORY_MB: u64 = 128;
/// SQS's default visibility timeout, and the event source's default batch size.
pub(super) const DEFAULT_VISIBILITY_TIMEOUT_SECONDS: u64 = 30;
pub(super) const DEFAULT_BATCH_SIZE: u64 = 10;
