//! The template's topology, made ready to run: the configuration's overrides applied (shorter
//! visibility timeouts, fewer receives, other function timeouts), the queues created after their
//! dead-letter queues, and each process function's executable and environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use durable::{Db, Queue, QueueConfig, Redrive};

use super::template::{Code, Function, QueueSpec, Topology};
use crate::config::Config;

/// The configuration's replacements for the template's queue settings and timeouts.
pub(super) fn apply_overrides(config: &Config, topology: &mut Topology) -> anyhow::Result<()> {
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
pub(super) fn create_queues(db: &Db, specs: &[QueueSpec]) -> anyhow::Result<Vec<Arc<Queue>>> {
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

/// The value of a variable the function must declare.
pub(super) fn declared(function: &Function, variable: &str) -> anyhow::Result<String> {
    match function.variable(variable) {
        Some(value) => Ok(value.clone()?),
        None => anyhow::bail!(
            "the function {} declares no {variable} in the template",
            function.name
        ),
    }
}

/// The executable of a function: its cargo binary, or its `bootstrap`.
pub(super) fn executable(
    function: &Function,
    binaries: &HashMap<String, PathBuf>,
) -> anyhow::Result<PathBuf> {
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
/// the groups it declares (see `Platform::local_settings`). A template variable that cannot be resolved here (a
/// secret, a parameter without a value) is an error only if the emulator has no value for it.
pub(super) fn process_environment(
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
