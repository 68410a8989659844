//! The topology the emulator runs, read from the SAM template that deploys the system
//! (`template.yaml`), so that what runs locally is what `sam deploy` creates: the functions with
//! their environment, timeouts and memory; the HTTP API's routes and CORS; the queues and their
//! redrive policies; the SQS event sources; the state machine with its definition file and
//! substitutions. Parameters take their defaults or `--parameter-overrides Name=Value`, as with
//! `sam`; intrinsic functions resolve to local names, URLs and ARNs (see [`intrinsics`]).
//!
//! Local names: a resource with an explicit name (`FunctionName`, `QueueName`, `Name`) keeps
//! it; a `rust-cargolambda` function is named by its binary; anything else by its logical id
//! (CloudFormation would generate a name from the stack and the logical id).
//!
//! Reading is lazy where the cloud and the laptop differ: a function's variable that cannot be
//! resolved here (a secret's dynamic reference, a parameter without a value) is an error only if
//! something uses it; the emulator gives its own value for the settings it knows (the database,
//! the providers). Every error names the file, the resource and the property at fault.

mod intrinsics;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use intrinsics::{Resolver, Resource, scalar_text};

pub use intrinsics::STACK_NAME;

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
    path: PathBuf,
    document: Value,
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
    pub environment: Vec<Variable>,
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
    pub state_machine: StateMachineSpec,
}

impl Topology {
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// Lambda's defaults for what neither the function nor `Globals` sets.
const DEFAULT_TIMEOUT_SECONDS: u64 = 3;
const DEFAULT_MEMORY_MB: u64 = 128;
/// SQS's default visibility timeout, and the event source's default batch size.
const DEFAULT_VISIBILITY_TIMEOUT_SECONDS: u64 = 30;
const DEFAULT_BATCH_SIZE: u64 = 10;

impl Template {
    /// Reads the template at `path`; relative paths in it (`DefinitionUri`, `CodeUri`) start
    /// from its folder.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let file = path.display().to_string();
        let error = |message: String| TemplateError {
            file: file.clone(),
            at: "(the file)".into(),
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| error(format!("could not be read: {e}")))?;
        let yaml: serde_norway::Value =
            serde_norway::from_str(&text).map_err(|e| error(format!("is not YAML: {e}")))?;
        let document = to_json(yaml).map_err(error)?;
        if !document["Resources"].is_object() {
            return Err(error("has no Resources".into()));
        }
        Ok(Self {
            path: path.to_owned(),
            document,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The binaries of its `rust-cargolambda` functions.
    pub fn cargo_binaries(&self) -> Vec<String> {
        self.resources()
            .filter_map(|(_, resource)| cargo_binary(resource))
            .collect()
    }

    /// The topology, with `overrides` for parameters, queue URLs on `base_url` (the emulator).
    pub fn topology(
        &self,
        overrides: &[(String, String)],
        base_url: &str,
    ) -> Result<Topology, TemplateError> {
        let parameters = self.parameters(overrides)?;
        let empty = Map::new();
        let conditions = self.document["Conditions"].as_object().unwrap_or(&empty);
        let all: HashMap<String, Resource> = self
            .resources()
            .map(|(id, resource)| (id.to_owned(), local_resource(id, resource)))
            .collect();
        let probe = Resolver {
            parameters: &parameters,
            conditions,
            resources: &all,
            base_url,
        };
        // Resources whose Condition is false are not created.
        let mut resources = HashMap::new();
        for (id, resource) in self.resources() {
            let exists = match resource["Condition"].as_str() {
                Some(condition) => probe
                    .condition(condition)
                    .map_err(|e| self.error(&format!("Resources.{id}.Condition"), e))?,
                None => true,
            };
            if exists {
                resources.insert(id.to_owned(), all[id].clone());
            }
        }
        let reader = Reader {
            template: self,
            resolver: Resolver {
                parameters: &parameters,
                conditions,
                resources: &resources,
                base_url,
            },
        };
        reader.topology()
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.document["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(id, resource)| (id.as_str(), resource))
    }

    fn error(&self, at: &str, message: impl Into<String>) -> TemplateError {
        TemplateError {
            file: self.path.display().to_string(),
            at: at.to_owned(),
            message: message.into(),
        }
    }

    /// Each parameter's value: the override, else the default, else none. Overrides must name a
    /// parameter and respect its `AllowedValues`, `MinLength` and `MaxLength`.
    fn parameters(
        &self,
        overrides: &[(String, String)],
    ) -> Result<HashMap<String, Option<Value>>, TemplateError> {
        let empty = Map::new();
        let declared = self.document["Parameters"].as_object().unwrap_or(&empty);
        for (name, _) in overrides {
            if !declared.contains_key(name) {
                return Err(self.error(
                    "Parameters",
                    format!(
                        "--parameter-overrides names {name}, which the template does not declare"
                    ),
                ));
            }
        }
        let mut values = HashMap::new();
        for (name, declaration) in declared {
            let at = format!("Parameters.{name}");
            let given = overrides.iter().rev().find(|(n, _)| n == name);
            let value = match given {
                Some((_, value)) => {
                    check_parameter(declaration, value).map_err(|e| self.error(&at, e))?;
                    Some(value.clone())
                }
                None => match &declaration["Default"] {
                    Value::Null => None,
                    default => Some(
                        scalar_text(Some(default), "Default").map_err(|e| self.error(&at, e))?,
                    ),
                },
            };
            let list = declaration["Type"]
                .as_str()
                .is_some_and(|t| t.starts_with("CommaDelimitedList") || t.starts_with("List<"));
            let value = value.map(|v| {
                if list {
                    Value::Array(
                        v.split(',')
                            .map(|s| Value::String(s.trim().into()))
                            .collect(),
                    )
                } else {
                    Value::String(v)
                }
            });
            values.insert(name.clone(), value);
        }
        Ok(values)
    }
}

/// An override against its parameter's declared constraints.
///
/// A `NoEcho` parameter's value (a secret) is never repeated in the error.
fn check_parameter(declaration: &Value, value: &str) -> Result<(), String> {
    let no_echo = declaration["NoEcho"] == true || declaration["NoEcho"] == "true";
    let shown = if no_echo {
        "the NoEcho value".to_owned()
    } else {
        format!("{value:?}")
    };
    if let Some(allowed) = declaration["AllowedValues"].as_array() {
        let allowed: Vec<String> = allowed
            .iter()
            .filter_map(|v| scalar_text(Some(v), "AllowedValues").ok())
            .collect();
        if !allowed.iter().any(|a| a == value) {
            return Err(format!("{shown} is not one of {}", allowed.join(", ")));
        }
    }
    let length = value.chars().count() as u64;
    if let Some(min) = declaration["MinLength"]
        .as_u64()
        .filter(|min| length < *min)
    {
        return Err(format!("{shown} is shorter than MinLength {min}"));
    }
    if let Some(max) = declaration["MaxLength"]
        .as_u64()
        .filter(|max| length > *max)
    {
        return Err(format!("{shown} is longer than MaxLength {max}"));
    }
    Ok(())
}

/// A resource's local name and type (see the module documentation).
fn local_resource(id: &str, resource: &Value) -> Resource {
    let kind = resource["Type"].as_str().unwrap_or_default().to_owned();
    let explicit = match kind.as_str() {
        "AWS::Serverless::Function" | "AWS::Lambda::Function" => "FunctionName",
        "AWS::SQS::Queue" => "QueueName",
        "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine" => "Name",
        _ => "",
    };
    let name = resource["Properties"][explicit]
        .as_str()
        .map(str::to_owned)
        .or_else(|| cargo_binary(resource))
        .unwrap_or_else(|| id.to_owned());
    Resource { kind, name }
}

fn cargo_binary(resource: &Value) -> Option<String> {
    let metadata = &resource["Metadata"];
    (metadata["BuildMethod"] == "rust-cargolambda")
        .then(|| {
            metadata["BuildProperties"]["Binary"]
                .as_str()
                .map(str::to_owned)
        })
        .flatten()
}

/// Reads the topology out of the template with one resolver.
struct Reader<'a> {
    template: &'a Template,
    resolver: Resolver<'a>,
}

impl Reader<'_> {
    fn topology(&self) -> Result<Topology, TemplateError> {
        let mut functions = Vec::new();
        let mut queues = Vec::new();
        let mut event_sources = Vec::new();
        let mut routes = Vec::new();
        let mut apis = Vec::new();
        let mut state_machines = Vec::new();
        for (id, resource) in self.template.resources() {
            if !self.resolver.resources.contains_key(id) {
                continue;
            }
            match resource["Type"].as_str().unwrap_or_default() {
                "AWS::Serverless::Function" => {
                    let function = self.function(id, resource)?;
                    self.events(
                        id,
                        resource,
                        &function,
                        &mut routes,
                        &mut event_sources,
                        &mut apis,
                    )?;
                    functions.push(function);
                }
                "AWS::SQS::Queue" => queues.push(self.queue(id, resource)?),
                "AWS::Serverless::StateMachine" => {
                    state_machines.push(self.state_machine(id, resource)?);
                }
                "AWS::Lambda::Function"
                | "AWS::StepFunctions::StateMachine"
                | "AWS::Serverless::Api"
                | "AWS::Lambda::EventSourceMapping" => {
                    return Err(self.template.error(
                        &format!("Resources.{id}.Type"),
                        "the emulator runs the SAM forms: AWS::Serverless::Function with \
                         HttpApi and SQS events, AWS::Serverless::HttpApi, \
                         AWS::Serverless::StateMachine",
                    ));
                }
                _ => {}
            }
        }
        let state_machine = match <[StateMachineSpec; 1]>::try_from(state_machines) {
            Ok([one]) => one,
            Err(found) => {
                return Err(self.template.error(
                    "Resources",
                    format!(
                        "the emulator runs exactly one AWS::Serverless::StateMachine; found {}",
                        found.len()
                    ),
                ));
            }
        };
        apis.sort();
        apis.dedup();
        let cors = match apis.as_slice() {
            [] => Cors::default(),
            [api] => self.cors(api)?,
            _ => {
                return Err(self.template.error(
                    "Resources",
                    format!(
                        "the emulator serves one HTTP API; the routes use {}",
                        apis.join(", ")
                    ),
                ));
            }
        };
        for source in &event_sources {
            if !queues.iter().any(|q: &QueueSpec| q.name == source.queue) {
                return Err(self.template.error(
                    &format!("Resources (the {} function's SQS event)", source.function),
                    format!("no queue {} in the template", source.queue),
                ));
            }
        }
        for queue in &queues {
            if let Some((dead_letter, _)) = &queue.redrive
                && !queues.iter().any(|q| &q.name == dead_letter)
            {
                return Err(self.template.error(
                    &format!(
                        "Resources (the queue {}).Properties.RedrivePolicy",
                        queue.name
                    ),
                    format!("no queue {dead_letter} in the template"),
                ));
            }
        }
        Ok(Topology {
            functions,
            queues,
            event_sources,
            routes,
            cors,
            state_machine,
        })
    }

    /// The resolved value at `at` (`None` if absent or `AWS::NoValue`).
    fn value(&self, at: &str, value: &Value) -> Result<Option<Value>, TemplateError> {
        if value.is_null() {
            return Ok(None);
        }
        self.resolver
            .resolve(value)
            .map_err(|e| self.template.error(at, e))
    }

    fn text(&self, at: &str, value: &Value) -> Result<Option<String>, TemplateError> {
        self.value(at, value)?
            .map(|v| scalar_text(Some(&v), "the value").map_err(|e| self.template.error(at, e)))
            .transpose()
    }

    /// A whole number from `min` to `max` (a number or a numeric string, as CloudFormation takes).
    fn number(
        &self,
        at: &str,
        value: &Value,
        default: u64,
        (min, max): (u64, u64),
    ) -> Result<u64, TemplateError> {
        let Some(text) = self.text(at, value)? else {
            return Ok(default);
        };
        text.parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                self.template.error(
                    at,
                    format!("{text:?} is not a whole number from {min} to {max}"),
                )
            })
    }

    fn function(&self, id: &str, resource: &Value) -> Result<Function, TemplateError> {
        let at = |property: &str| format!("Resources.{id}.Properties.{property}");
        let properties = merged(
            &self.template.document["Globals"]["Function"],
            &resource["Properties"],
        );
        let name = self.resolver.resources[id].name.clone();
        let code = match cargo_binary(resource) {
            Some(binary) => Code::Cargo { binary },
            None if resource["Metadata"]["BuildMethod"] == "rust-cargolambda" => {
                return Err(self.template.error(
                    &format!("Resources.{id}.Metadata.BuildProperties.Binary"),
                    "a rust-cargolambda function names its binary",
                ));
            }
            None => {
                let runtime = self.text(&at("Runtime"), &properties["Runtime"])?;
                if !runtime
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("provided")
                {
                    return Err(self.template.error(
                        &at("Runtime"),
                        format!(
                            "{runtime:?}: the emulator runs custom runtimes (provided.*), \
                             whose CodeUri folder holds a bootstrap executable"
                        ),
                    ));
                }
                let folder = self.text(&at("CodeUri"), &properties["CodeUri"])?;
                let base = self.template.path.parent().unwrap_or(Path::new("."));
                Code::Bootstrap(base.join(folder.unwrap_or_default()).join("bootstrap"))
            }
        };
        let timeout = self.number(
            &at("Timeout"),
            &properties["Timeout"],
            DEFAULT_TIMEOUT_SECONDS,
            (1, 900),
        )?;
        let memory = self.number(
            &at("MemorySize"),
            &properties["MemorySize"],
            DEFAULT_MEMORY_MB,
            (128, 10_240),
        )?;
        let mut environment = Vec::new();
        if let Some(variables) = properties["Environment"]["Variables"].as_object() {
            for (variable, value) in variables {
                let at = at(&format!("Environment.Variables.{variable}"));
                let value = self
                    .text(&at, value)
                    .and_then(|v| v.ok_or_else(|| self.template.error(&at, "is AWS::NoValue")));
                environment.push(Variable {
                    name: variable.clone(),
                    value,
                });
            }
        }
        Ok(Function {
            logical_id: id.to_owned(),
            name,
            code,
            timeout: Duration::from_secs(timeout),
            memory_mb: memory as u32,
            environment,
        })
    }

    fn events(
        &self,
        id: &str,
        resource: &Value,
        function: &Function,
        routes: &mut Vec<Route>,
        event_sources: &mut Vec<EventSource>,
        apis: &mut Vec<String>,
    ) -> Result<(), TemplateError> {
        let Some(events) = resource["Properties"]["Events"].as_object() else {
            return Ok(());
        };
        for (event, declaration) in events {
            let at =
                |property: &str| format!("Resources.{id}.Properties.Events.{event}.{property}");
            let properties = &declaration["Properties"];
            match declaration["Type"].as_str().unwrap_or_default() {
                "HttpApi" => {
                    let method = self
                        .text(&at("Properties.Method"), &properties["Method"])?
                        .unwrap_or_else(|| "ANY".into());
                    let path = self
                        .text(&at("Properties.Path"), &properties["Path"])?
                        .unwrap_or_default();
                    if !path.starts_with("/api/") {
                        return Err(self.template.error(
                            &at("Properties.Path"),
                            format!(
                                "{path:?}: the emulator serves the site at / and the API under \
                                 /api/ (as the CloudFront distribution does), so a route starts with /api/"
                            ),
                        ));
                    }
                    // ApiId is a Ref to the API: its logical id, which `Ref` gives here.
                    let api = match &properties["ApiId"]["Ref"] {
                        Value::String(api) => api.clone(),
                        _ => "ServerlessHttpApi".to_owned(),
                    };
                    apis.push(api);
                    routes.push(Route {
                        method: method.to_ascii_uppercase(),
                        path,
                        function: function.name.clone(),
                    });
                }
                "SQS" => {
                    if self.value(&at("Properties.Enabled"), &properties["Enabled"])?
                        == Some(Value::Bool(false))
                    {
                        continue;
                    }
                    let arn = self
                        .text(&at("Properties.Queue"), &properties["Queue"])?
                        .unwrap_or_default();
                    let queue =
                        arn.strip_prefix(&crate::names::queue_arn(""))
                            .ok_or_else(|| {
                                self.template.error(
                                    &at("Properties.Queue"),
                                    format!("{arn:?} is not the ARN of a queue of the template"),
                                )
                            })?;
                    let batch_size = self.number(
                        &at("Properties.BatchSize"),
                        &properties["BatchSize"],
                        DEFAULT_BATCH_SIZE,
                        (1, durable::queue::MAX_BATCH_SIZE as u64),
                    )?;
                    let response_types = self.value(
                        &at("Properties.FunctionResponseTypes"),
                        &properties["FunctionResponseTypes"],
                    )?;
                    event_sources.push(EventSource {
                        queue: queue.to_owned(),
                        function: function.name.clone(),
                        batch_size: batch_size as usize,
                        report_batch_item_failures: response_types
                            .as_ref()
                            .and_then(Value::as_array)
                            .is_some_and(|types| {
                                types.iter().any(|t| t == "ReportBatchItemFailures")
                            }),
                    });
                }
                other => {
                    return Err(self.template.error(
                        &at("Type"),
                        format!("{other:?} events are not emulated (HttpApi and SQS are)"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn queue(&self, id: &str, resource: &Value) -> Result<QueueSpec, TemplateError> {
        let at = |property: &str| format!("Resources.{id}.Properties.{property}");
        let properties = &resource["Properties"];
        let visibility = self.number(
            &at("VisibilityTimeout"),
            &properties["VisibilityTimeout"],
            DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
            (0, 43_200),
        )?;
        let delay = self.number(
            &at("DelaySeconds"),
            &properties["DelaySeconds"],
            0,
            (0, 900),
        )?;
        let redrive = match self.value(&at("RedrivePolicy"), &properties["RedrivePolicy"])? {
            None => None,
            Some(policy) => {
                let policy = match policy {
                    Value::String(json) => serde_json::from_str(&json).map_err(|e| {
                        self.template
                            .error(&at("RedrivePolicy"), format!("is not JSON: {e}"))
                    })?,
                    other => other,
                };
                let target = policy["deadLetterTargetArn"].as_str().unwrap_or_default();
                let dead_letter = target
                    .strip_prefix(&crate::names::queue_arn(""))
                    .ok_or_else(|| {
                        self.template.error(
                            &at("RedrivePolicy.deadLetterTargetArn"),
                            format!("{target:?} is not the ARN of a queue of the template"),
                        )
                    })?;
                let max = self.number(
                    &at("RedrivePolicy.maxReceiveCount"),
                    &policy["maxReceiveCount"],
                    10,
                    (1, 1000),
                )?;
                Some((dead_letter.to_owned(), max as u32))
            }
        };
        Ok(QueueSpec {
            name: self.resolver.resources[id].name.clone(),
            visibility_timeout: Duration::from_secs(visibility),
            delay: Duration::from_secs(delay),
            redrive,
        })
    }

    fn state_machine(&self, id: &str, resource: &Value) -> Result<StateMachineSpec, TemplateError> {
        let at = |property: &str| format!("Resources.{id}.Properties.{property}");
        let properties = &resource["Properties"];
        let mut definition = match (&properties["DefinitionUri"], &properties["Definition"]) {
            (Value::String(uri), Value::Null) => {
                let base = self.template.path.parent().unwrap_or(Path::new("."));
                let file = base.join(uri);
                std::fs::read_to_string(&file).map_err(|e| {
                    self.template.error(
                        &at("DefinitionUri"),
                        format!("{} could not be read: {e}", file.display()),
                    )
                })?
            }
            (Value::Null, inline @ Value::Object(_)) => inline.to_string(),
            _ => {
                return Err(self.template.error(
                    &at("DefinitionUri"),
                    "give either DefinitionUri (a path next to the template) or Definition",
                ));
            }
        };
        if let Some(substitutions) = properties["DefinitionSubstitutions"].as_object() {
            for (key, value) in substitutions {
                let at = at(&format!("DefinitionSubstitutions.{key}"));
                let value = self.text(&at, value)?.unwrap_or_default();
                definition = definition.replace(&format!("${{{key}}}"), &value);
            }
        }
        Ok(StateMachineSpec {
            name: self.resolver.resources[id].name.clone(),
            definition,
        })
    }

    fn cors(&self, api: &str) -> Result<Cors, TemplateError> {
        let at =
            |property: &str| format!("Resources.{api}.Properties.CorsConfiguration.{property}");
        let configuration =
            &self.template.document["Resources"][api]["Properties"]["CorsConfiguration"];
        let list = |property: &str| -> Result<Vec<String>, TemplateError> {
            match self.value(&at(property), &configuration[property])? {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        scalar_text(Some(item), property)
                            .map_err(|e| self.template.error(&at(property), e))
                    })
                    .collect(),
                Some(other) => Err(self
                    .template
                    .error(&at(property), format!("{other} is not a list"))),
            }
        };
        Ok(Cors {
            allow_origins: list("AllowOrigins")?,
            allow_methods: list("AllowMethods")?,
            allow_headers: list("AllowHeaders")?,
            expose_headers: list("ExposeHeaders")?,
            max_age: match configuration["MaxAge"] {
                Value::Null => None,
                ref value => Some(self.number(&at("MaxAge"), value, 0, (0, 86_400))?),
            },
        })
    }
}

/// SAM's `Globals` under a resource's properties: maps merge, lists add up, the resource's
/// scalars win.
fn merged(globals: &Value, properties: &Value) -> Value {
    match (globals, properties) {
        (Value::Object(base), Value::Object(own)) => {
            let mut out = base.clone();
            for (key, value) in own {
                let combined = merged(base.get(key).unwrap_or(&Value::Null), value);
                out.insert(key.clone(), combined);
            }
            Value::Object(out)
        }
        (Value::Array(base), Value::Array(own)) => {
            Value::Array(base.iter().chain(own).cloned().collect())
        }
        (base, Value::Null) => base.clone(),
        (_, own) => own.clone(),
    }
}

/// YAML as JSON, with the short forms of intrinsic functions (`!Ref X`, `!GetAtt A.B`, `!Sub s`)
/// turned into their long forms (`{"Ref": "X"}`, `{"Fn::GetAtt": "A.B"}`, `{"Fn::Sub": "s"}`).
fn to_json(value: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Yaml;
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.into(),
            (_, Some(i), _) => i.into(),
            (_, _, Some(f)) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            _ => Value::Null,
        },
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => return Err(format!("a mapping key must be text, not {other:?}")),
                };
                object.insert(key, to_json(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_owned(),
                _ => format!("Fn::{name}"),
            };
            let mut object = Map::new();
            object.insert(key, to_json(tagged.value)?);
            Value::Object(object)
        }
    })
}

#[cfg(test)]
mod tests;
