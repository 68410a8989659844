//! The Function App the emulator hosts in `--cloud azure`, read from `infra/azure` as the
//! Functions host and the Bicep read it: `host.json` (the custom handler's executable, the
//! function timeout, the HTTP route prefix, the Service Bus concurrency), one `function.json` per
//! function folder (its trigger and output bindings), and `servicebus.json` (the queues, with
//! their lock duration and `maxDeliveryCount`). Errors name the file and what is wrong in it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// Where the workspace keeps the Function App.
pub fn workspace_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/azure")
}

#[derive(Debug, Clone)]
pub struct FunctionAppSpec {
    /// The app's folder (`AzureWebJobsScriptRoot`).
    pub dir: PathBuf,
    /// `customHandler.description.defaultExecutablePath`.
    pub executable: String,
    /// `functionTimeout`: every invocation's limit.
    pub function_timeout: Duration,
    /// `extensions.http.routePrefix` (default `api`).
    pub route_prefix: String,
    /// `extensions.serviceBus.maxConcurrentCalls` (default 16): invocations at once per queue.
    pub max_concurrent_calls: usize,
    pub functions: Vec<FunctionSpec>,
    pub queues: Vec<ServiceBusQueue>,
}

#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub trigger: Trigger,
    /// The Service Bus output bindings: binding name and queue.
    pub queue_outputs: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum Trigger {
    /// An `httpTrigger`: its methods (upper case; empty for any) and its route, prefix included.
    Http { methods: Vec<String>, path: String },
    /// A `serviceBusTrigger` on a queue.
    ServiceBus { queue: String },
}

#[derive(Debug, Clone)]
pub struct ServiceBusQueue {
    pub name: String,
    /// How long a received message stays locked to its receiver (`PT1M`).
    pub lock_duration: Duration,
    /// Deliveries before the message is dead-lettered.
    pub max_delivery_count: u32,
}

impl ServiceBusQueue {
    /// Where Service Bus moves a message delivered `maxDeliveryCount` times.
    pub fn dead_letter_name(&self) -> String {
        format!("{}/$DeadLetterQueue", self.name)
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// An ISO 8601 duration as Service Bus writes them: `P14D`, `PT1M`, `PT30S`, `P1DT2H`.
pub fn iso_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut seconds = 0u64;
    let mut add = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
            } else {
                let (_, factor) = units.iter().find(|(unit, _)| *unit == c)?;
                seconds += number.parse::<u64>().ok()? * factor;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    add(date, &[('D', 86_400)])?;
    add(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    (rest != "T" && !rest.is_empty()).then_some(Duration::from_secs(seconds))
}

impl FunctionAppSpec {
    /// Reads the app in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let dir = &dir
            .canonicalize()
            .with_context(|| format!("the Function App folder {}", dir.display()))?;
        let host_path = dir.join("host.json");
        let host = read_json(&host_path)?;
        let at = |what: &str| format!("{}: {what}", host_path.display());
        let executable = host["customHandler"]["description"]["defaultExecutablePath"]
            .as_str()
            .with_context(|| at("customHandler.description.defaultExecutablePath is not set"))?
            .to_owned();
        let function_timeout = function_model::azure::function_timeout(&host)
            .map_err(|e| anyhow::anyhow!("{}: {e}", host_path.display()))?;
        let route_prefix = host["extensions"]["http"]["routePrefix"]
            .as_str()
            .unwrap_or("api")
            .trim_matches('/')
            .to_owned();
        let max_concurrent_calls = host["extensions"]["serviceBus"]["maxConcurrentCalls"]
            .as_u64()
            .map_or(16, |n| usize::try_from(n).unwrap_or(16).max(1));

        let bus_path = dir.join("servicebus.json");
        let bus = read_json(&bus_path)?;
        let queues = bus["queues"]
            .as_array()
            .with_context(|| format!("{}: no queues", bus_path.display()))?
            .iter()
            .map(|queue| {
                let name = queue["name"].as_str().unwrap_or_default();
                let field =
                    |field: &str| format!("{}: queue {name:?}: {field}", bus_path.display());
                anyhow::ensure!(!name.is_empty(), field("no name"));
                Ok(ServiceBusQueue {
                    name: name.to_owned(),
                    lock_duration: queue["lockDuration"]
                        .as_str()
                        .and_then(iso_duration)
                        .with_context(|| field("lockDuration is not an ISO 8601 duration"))?,
                    max_delivery_count: queue["maxDeliveryCount"]
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| *n >= 1)
                        .with_context(|| field("maxDeliveryCount is not a whole number from 1"))?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;

        let mut functions = Vec::new();
        let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("could not list {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("function.json").is_file())
            .collect();
        folders.sort();
        for folder in folders {
            let name = folder
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let path = folder.join("function.json");
            let function = read_json(&path)?;
            functions.push(function_spec(
                &name,
                &path,
                &function,
                &route_prefix,
                &queues,
            )?);
        }
        anyhow::ensure!(
            !functions.is_empty(),
            "{} has no function folders (each with a function.json)",
            dir.display()
        );
        Ok(Self {
            dir: dir.to_owned(),
            executable,
            function_timeout,
            route_prefix,
            max_concurrent_calls,
            functions,
            queues,
        })
    }
}

fn function_spec(
    name: &str,
    path: &Path,
    function: &Value,
    route_prefix: &str,
    queues: &[ServiceBusQueue],
) -> anyhow::Result<FunctionSpec> {
    let at = |what: String| anyhow::anyhow!("{}: {what}", path.display());
    let queue = |binding: &Value| -> anyhow::Result<String> {
        let queue = binding["queueName"]
            .as_str()
            .ok_or_else(|| at(format!("binding {} has no queueName", binding["name"])))?;
        anyhow::ensure!(
            queues.iter().any(|q| q.name == queue),
            at(format!("queue {queue:?} is not in servicebus.json"))
        );
        Ok(queue.to_owned())
    };
    let mut trigger = None;
    let mut queue_outputs = Vec::new();
    for binding in function["bindings"].as_array().into_iter().flatten() {
        let kind = binding["type"].as_str().unwrap_or_default();
        let found = match (kind, binding["direction"].as_str()) {
            ("httpTrigger", Some("in")) => Some(Trigger::Http {
                methods: binding["methods"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_uppercase)
                    .collect(),
                path: format!(
                    "/{route_prefix}/{}",
                    binding["route"].as_str().unwrap_or(name).trim_matches('/')
                )
                .replace("{*", "{")
                .replace("*}", "+}"),
            }),
            ("serviceBusTrigger", Some("in")) => Some(Trigger::ServiceBus {
                queue: queue(binding)?,
            }),
            ("serviceBus", Some("out")) => {
                let binding_name = binding["name"].as_str().unwrap_or_default().to_owned();
                queue_outputs.push((binding_name, queue(binding)?));
                None
            }
            ("http", Some("out")) => None,
            (other, direction) => {
                return Err(at(format!(
                    "the emulator hosts httpTrigger, serviceBusTrigger and their http and \
                     serviceBus outputs, not a {other:?} binding ({direction:?})"
                )));
            }
        };
        if let Some(found) = found {
            anyhow::ensure!(trigger.is_none(), at("more than one trigger".into()));
            trigger = Some(found);
        }
    }
    Ok(FunctionSpec {
        name: name.to_owned(),
        trigger: trigger.ok_or_else(|| at("no trigger".into()))?,
        queue_outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_workspace_app() {
        let app = FunctionAppSpec::load(&workspace_app()).expect("infra/azure loads");
        assert_eq!(app.executable, "handler");
        assert_eq!(app.function_timeout, Duration::from_secs(300));
        let names: Vec<&str> = app.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["orchestrator", "payment", "redrive", "tickets"]);
        assert!(
            matches!(&app.functions[2].trigger, Trigger::Http { methods, path } if methods == &["POST"] && path == "/api/executions/{name}/redrive")
        );
        let payment = &app.functions[1];
        assert!(
            matches!(&payment.trigger, Trigger::Http { methods, path } if methods == &["POST"] && path == "/api/registrations")
        );
        assert_eq!(
            payment.queue_outputs,
            [("order".to_owned(), "registrations".to_owned())]
        );
        let registrations = &app.queues[0];
        assert_eq!(registrations.lock_duration, Duration::from_secs(60));
        assert_eq!(registrations.max_delivery_count, 5);
        assert_eq!(
            registrations.dead_letter_name(),
            "registrations/$DeadLetterQueue"
        );
    }

    #[test]
    fn reads_iso_8601_durations() {
        assert_eq!(iso_duration("PT1M"), Some(Duration::from_secs(60)));
        assert_eq!(iso_duration("P14D"), Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(
            iso_duration("P1DT2H3S"),
            Some(Duration::from_secs(86_400 + 7_203))
        );
        for bad in ["", "P", "PT", "1M", "PT1X", "PT1"] {
            assert_eq!(iso_duration(bad), None, "{bad}");
        }
    }
}
