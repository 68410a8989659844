//! `--cloud aws` (the default): the emulator as the AWS account that `template.yaml` deploys to.
//!
//! `wire` reads the template's topology ([`template`]) and wires it: the queues with their
//! redrive policies, the local Step Functions running the state machine ([`step_functions`]), the
//! gateway's routes, and the event source mappings that poll the queues into their functions
//! ([`event_source`]). The functions run as their binaries under the Lambda Runtime API
//! ([`lambda`], process mode), or as their libraries in this process, each built with the same
//! constructor as its Lambda binary (`in_process`). AWS's own APIs ([`api`]: SQS, Step
//! Functions, Lambda `Invoke`) serve the SDKs on the emulator's port.

pub mod api;
pub mod event_source;
mod in_process;
pub mod lambda;
pub mod step_functions;
pub mod template;
mod topology;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use durable::Queue;
use function_model::{HttpFunction, local_function_arn};
use futures_util::FutureExt;

use crate::config::{Config, Functions};
use crate::functions::FunctionCrate;
use crate::inspector::execution_view::Workflow;
use crate::names::queue_url;
use crate::state::{HttpRoute, Platform, Poller, Wiring};
use crate::throttle::{ReservedConcurrency, TokenBucket};
use event_source::{Consumer, EventSourceMapping};
use lambda::{FunctionSpec, LambdaFunction, ProcessHttpFunction};
use step_functions::{LocalStarter, LocalStepFunctions, LocalTasks, TaskTarget};
use template::Template;
use topology::{apply_overrides, create_queues, declared, executable, process_environment};

/// Reads the template's topology and wires it: queues, the local Step Functions and its tasks,
/// the gateway's routes, the event source mappings.
pub(crate) fn wire(config: &Config, platform: &Platform) -> anyhow::Result<Wiring> {
    let base = &platform.base;
    let mut topology =
        Template::load(&config.template)?.topology(&config.parameter_overrides, base)?;
    apply_overrides(config, &mut topology)?;
    let queues = create_queues(&platform.db, &topology.queues)?;
    let queue_at = |url: &str| -> Option<Arc<Queue>> {
        queues
            .iter()
            .find(|queue| queue_url(base, queue.name()) == url)
            .cloned()
    };
    // A function that declares any variable of a group gets the whole group.
    let local_settings = platform.local_settings(config);
    let processes: HashMap<String, Arc<LambdaFunction>> = match &config.functions {
        Functions::InProcess => HashMap::new(),
        Functions::Process(binaries) => topology
            .functions
            .iter()
            .map(|function| {
                let spec = FunctionSpec {
                    name: function.name.clone(),
                    executable: executable(function, binaries)?,
                    handler: function.handler.clone(),
                    environment: process_environment(function, &local_settings)?,
                    timeout: function.timeout,
                    memory_mb: function.memory_mb,
                    concurrency: config.function_concurrency,
                    endpoint_url: base.clone(),
                    json_logs: function.json_logs,
                    invocations: platform.invocations.clone(),
                };
                Ok((function.name.clone(), LambdaFunction::new(spec)))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let library = |function: &template::Function| {
        function
            .function_crate()
            .filter(|_| !processes.contains_key(&function.name))
    };

    // Every function is a Lambda function that `Invoke` and the state machine's tasks reach; in
    // process, only the task libraries are.
    let mut lambda_functions: HashMap<String, TaskTarget> = HashMap::new();
    for function in &topology.functions {
        let target = match processes.get(&function.name) {
            Some(process) => TaskTarget::Process(process.clone()),
            None => match library(function).and_then(|c| in_process::task(c, platform)) {
                Some(library) => TaskTarget::InProcess {
                    function: library,
                    timeout: function.timeout,
                },
                None => continue,
            },
        };
        lambda_functions.insert(function.name.clone(), target);
    }
    // Each function's reserved concurrency, one for every way it is invoked (its routes,
    // `Invoke`, the state machine's tasks).
    let reserved_concurrency: HashMap<String, ReservedConcurrency> = topology
        .functions
        .iter()
        .filter_map(|function| {
            let limit = function.reserved_concurrency?;
            Some((function.name.clone(), ReservedConcurrency::new(limit)))
        })
        .collect();
    let tasks = LocalTasks {
        reserved_concurrency: reserved_concurrency.clone(),
        functions: lambda_functions
            .iter()
            .map(|(name, target)| (local_function_arn(name), (name.clone(), target.clone())))
            .collect(),
        queues: queues
            .iter()
            .map(|queue| (queue_url(base, queue.name()), queue.clone()))
            .collect(),
        faults: platform.faults.clone(),
    };
    let machine = &topology.state_machine;
    let workflow = Arc::new(
        Workflow::parse(&machine.name, &machine.definition)
            .with_context(|| format!("the state machine {}", machine.name))?,
    );
    let step_functions = LocalStepFunctions::new(
        &machine.name,
        &machine.definition,
        workflow.machine.clone(),
        tasks,
        platform.executions.clone(),
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
            (None, Some(process)) => Arc::new(ProcessHttpFunction(process.clone())),
            (None, None) if library(function) == Some(FunctionCrate::Payment) => {
                let url = declared(function, "REGISTRATIONS_QUEUE_URL")?;
                let queue = queue_at(&url).with_context(|| {
                    format!("the function {}: no queue at {url}", function.name)
                })?;
                let environment = process_environment(function, &local_settings)?;
                in_process::payment(queue, function.timeout, &environment, platform)?
            }
            (None, None) => return Err(not_in_process(function, "an HTTP function")),
        };
        http_functions.insert(function.name.clone(), handler.clone());
        let reserved = reserved_concurrency.get(&function.name).cloned();
        routes.push(HttpRoute {
            route: route.clone(),
            function: handler,
            timeout: function.timeout,
            throttle: topology.throttling.of(route).map(TokenBucket::new),
            reserved,
        });
    }

    let mut pollers: Vec<Poller> = Vec::new();
    for source in &topology.event_sources {
        let function = topology
            .function(&source.function)
            .expect("events name functions");
        let consumer = match processes.get(&function.name) {
            Some(process) => Consumer::Process(process.clone()),
            None if library(function) == Some(FunctionCrate::Orchestrator) => Consumer::InProcess(
                in_process::orchestrator(LocalStarter(step_functions.clone())),
            ),
            None => return Err(not_in_process(function, "a queue consumer")),
        };
        let mapping = EventSourceMapping {
            queue: queue_at(&queue_url(base, &source.queue)).expect("checked by the template"),
            function_name: function.name.clone(),
            function: consumer,
            batch_size: source.batch_size,
            report_batch_item_failures: source.report_batch_item_failures,
            timeout: function.timeout,
            faults: platform.faults.clone(),
        };
        pollers.push(Box::new(move |stopping| mapping.run(stopping).boxed()));
    }

    let mut cors = topology.cors.clone();
    cors.allow_origins.extend(config.site_origin.clone());
    Ok(Wiring {
        routes,
        cors,
        origin_secret: Some(platform.origin_secret.clone()),
        reserved_concurrency,
        queues,
        step_functions: Some(step_functions),
        workflow,
        lambda_functions,
        pollers,
        handler: None,
        reloadable: processes
            .into_values()
            .map(|process| process as Arc<dyn crate::functions::reload::Reloadable>)
            .collect(),
    })
}

fn not_in_process(function: &template::Function, role: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the function {} ({}) is {role} that has no library in the emulator; run it as its \
         binary with --functions process",
        function.name,
        function.logical_id
    )
}
