//! `--cloud azure`: the emulator as the Azure Functions host of the Function App in
//! `infra/azure` ([`app`]), with the same site, inspector, local providers, database and fault
//! injection as the AWS topology.
//!
//! It runs the app's custom handler (`functions/azure-app`, the executable `host.json` names) as
//! the host does ([`handler`]), routes the gateway's requests to its HTTP-triggered functions and
//! its Service Bus queues to its queue-triggered ones, with the host's payloads, and applies their
//! output bindings ([`triggers`]). The queues are the durable queues of the AWS topology, with
//! Service Bus's semantics. The registration workflow runs inside the handler (the orchestrator
//! runs it inline, on the same database); the inspector reads its executions from that database.
//!
//! What differs from Azure: only `httpTrigger` and `serviceBusTrigger`, with `http` and
//! `serviceBus` outputs, are hosted (an app with another binding is refused, naming it), and no
//! `$return`; `authLevel` is not enforced (every function here is anonymous); CORS is the
//! Bicep's idea of it, the site's origin given by `--site-origin`; a failed HTTP invocation is a
//! bare `500`; a timed-out invocation restarts the handler, not a whole host; the lock is renewed
//! for as long as an invocation runs (the host stops at `maxAutoLockRenewalDuration`); string
//! outputs are not tried as base64 first (the handler writes objects); sessions, ordering and
//! duplicate detection are not modelled.

pub mod app;
pub mod handler;
pub mod triggers;

use std::sync::Arc;

use anyhow::Context;
use durable::{Queue, QueueConfig, Redrive};
use function_model::HttpFunction;
use futures_util::FutureExt;

use crate::aws::template::{Cors, Route};
use crate::config::{AzureConfig, Config};
use crate::inspector::execution_view::Workflow;
use crate::state::{HttpRoute, Platform, Poller, Wiring};
use app::{FunctionAppSpec, Trigger};
use handler::{CustomHandler, HandlerSpec};
use triggers::{HttpTrigger, QueueOutputs, ServiceBusTrigger};

/// The registration workflow, which the Function App's handler embeds and runs inline: the
/// inspector draws it and replays its executions.
const WORKFLOW: &str = include_str!("../../../infra/statemachine/registration.asl.json");
/// What the inspector calls it (the orchestrator function runs it).
const WORKFLOW_NAME: &str = "registration (orchestrator, inline)";

/// Reads the app, creates its queues, starts its handler with the emulator's settings (the
/// database and the providers), and wires its triggers.
pub(crate) async fn wire(
    config: &Config,
    azure: &AzureConfig,
    platform: &Platform,
) -> anyhow::Result<Wiring> {
    let (base, db) = (&platform.base, &platform.db);
    let mut settings: Vec<(String, String)> = platform
        .local_settings(config)
        .iter()
        .flatten()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    // The workflow's tasks run inside the handler: it asks here for their faults.
    settings.push((
        "EMULATOR_TASK_FAULTS_URL".to_owned(),
        format!("{base}/_emulator/api/faults/next"),
    ));
    settings.push((
        "EXECUTION_LEASE_MS".to_owned(),
        config.execution_lease.as_millis().to_string(),
    ));
    let app = FunctionAppSpec::load(&azure.app_dir)?;
    let mut queues: Vec<Arc<Queue>> = Vec::new();
    for spec in &app.queues {
        let dead_letters = Arc::new(Queue::new(
            db.clone(),
            QueueConfig::new(spec.dead_letter_name()),
        ));
        let queue = Queue::new(
            db.clone(),
            QueueConfig {
                visibility_timeout: config.visibility_timeout.unwrap_or(spec.lock_duration),
                redrive: Some(Redrive {
                    dead_letter_queue: dead_letters.clone(),
                    max_receive_count: config.max_receive_count.unwrap_or(spec.max_delivery_count),
                }),
                ..QueueConfig::new(&spec.name)
            },
        );
        queues.push(Arc::new(queue));
        queues.push(dead_letters);
    }
    let queue = |name: &str| {
        queues
            .iter()
            .find(|q| q.name() == name)
            .cloned()
            .expect("the app's bindings name its queues (checked when it was read)")
    };
    let handler = CustomHandler::start(HandlerSpec {
        executable: azure.handler.clone(),
        app_dir: app.dir.clone(),
        environment: settings,
    })
    .await?;

    let mut routes = Vec::new();
    let mut pollers: Vec<Poller> = Vec::new();
    for function in &app.functions {
        let timeout = config
            .function_timeouts
            .get(&function.name)
            .copied()
            .unwrap_or(app.function_timeout);
        let outputs: QueueOutputs = function
            .queue_outputs
            .iter()
            .map(|(binding, name)| (binding.clone(), queue(name)))
            .collect();
        match &function.trigger {
            Trigger::Http { methods, path } => {
                let trigger: Arc<dyn HttpFunction> = Arc::new(HttpTrigger {
                    function: function.name.clone(),
                    handler: handler.clone(),
                    outputs,
                    timeout,
                });
                let methods = if methods.is_empty() {
                    vec!["ANY".to_owned()]
                } else {
                    methods.clone()
                };
                for method in methods {
                    routes.push(HttpRoute {
                        route: Route {
                            method,
                            path: path.clone(),
                            function: function.name.clone(),
                        },
                        function: trigger.clone(),
                        timeout,
                        throttle: None,
                        reserved: None,
                    });
                }
            }
            Trigger::ServiceBus { queue: name } => {
                let spec = app
                    .queues
                    .iter()
                    .find(|q| &q.name == name)
                    .expect("checked when read");
                let trigger = Arc::new(ServiceBusTrigger {
                    function: function.name.clone(),
                    queue: queue(name),
                    handler: handler.clone(),
                    outputs,
                    lock_duration: config.visibility_timeout.unwrap_or(spec.lock_duration),
                    timeout,
                    max_concurrent_calls: app.max_concurrent_calls,
                    drain_timeout: config.drain_timeout,
                    faults: platform.faults.clone(),
                });
                pollers.push(Box::new(move |stopping| trigger.run(stopping).boxed()));
            }
        }
    }
    let cors = Cors {
        allow_origins: config.site_origin.iter().cloned().collect(),
        allow_methods: vec!["GET".into(), "POST".into()],
        allow_headers: vec!["content-type".into(), "idempotency-key".into()],
        expose_headers: vec!["retry-after".into()],
        max_age: Some(600),
    };
    Ok(Wiring {
        routes,
        cors,
        origin_secret: None,
        reserved_concurrency: Default::default(),
        queues,
        step_functions: None,
        workflow: Arc::new(
            Workflow::parse(WORKFLOW_NAME, WORKFLOW).context("the registration workflow")?,
        ),
        lambda_functions: Default::default(),
        pollers,
        reloadable: vec![handler.clone()],
        handler: Some(handler),
    })
}
