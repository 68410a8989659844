//! Reads a template's resources into a [`Topology`]: each function with `Globals` merged in, the
//! queues and their redrive policies, the event sources, the HTTP API's routes, CORS and
//! throttling, and the
//! state machine, every value through one resolver of intrinsic functions.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::intrinsics::{Resolver, scalar_text};
use super::model::*;

pub(super) fn cargo_binary(resource: &Value) -> Option<String> {
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
pub(super) struct Reader<'a> {
    pub(super) template: &'a Template,
    pub(super) resolver: Resolver<'a>,
}

impl Reader<'_> {
    pub(super) fn topology(&self) -> Result<Topology, TemplateError> {
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
        let (cors, throttling) = match apis.as_slice() {
            [] => (Cors::default(), Throttling::default()),
            [api] => (self.cors(api)?, self.throttling(api)?),
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
            throttling,
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

    /// [`Reader::number`], when it is set (and not `AWS::NoValue`).
    fn optional_number(
        &self,
        at: &str,
        value: &Value,
        range: (u64, u64),
    ) -> Result<Option<u64>, TemplateError> {
        match self.text(at, value)? {
            None => Ok(None),
            Some(_) => self.number(at, value, 0, range).map(Some),
        }
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
        // Lambda hands a function its configured `Handler` as `_HANDLER`; a custom runtime's is
        // free text, and SAM's `rust-cargolambda` functions say `bootstrap`.
        let handler = self
            .text(&at("Handler"), &properties["Handler"])?
            .unwrap_or_else(|| "bootstrap".to_owned());
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
        let json_logs = match self.text(
            &at("LoggingConfig.LogFormat"),
            &properties["LoggingConfig"]["LogFormat"],
        )? {
            None => false,
            Some(format) if format == "JSON" => true,
            Some(format) if format == "Text" => false,
            Some(other) => {
                return Err(self.template.error(
                    &at("LoggingConfig.LogFormat"),
                    format!("is {other:?}; Lambda takes Text or JSON"),
                ));
            }
        };
        let reserved_concurrency = self
            .optional_number(
                &at("ReservedConcurrentExecutions"),
                &properties["ReservedConcurrentExecutions"],
                (0, 1_000_000),
            )?
            .map(|n| n as u32);
        Ok(Function {
            reserved_concurrency,
            logical_id: id.to_owned(),
            name,
            code,
            timeout: Duration::from_secs(timeout),
            memory_mb: memory as u32,
            handler,
            environment,
            json_logs,
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

    /// The API's `DefaultRouteSettings` and `RouteSettings` throttling (whole numbers: the
    /// emulator does not take a fractional rate).
    fn throttling(&self, api: &str) -> Result<Throttling, TemplateError> {
        let properties = &self.template.document["Resources"][api]["Properties"];
        let settings =
            |at: String, value: &Value| -> Result<(Option<u32>, Option<u32>), TemplateError> {
                let limit = |name: &str| -> Result<Option<u32>, TemplateError> {
                    let at = format!("{at}.{name}");
                    Ok(self
                        .optional_number(&at, &value[name], (0, 1_000_000))?
                        .map(|n| n as u32))
                };
                Ok((
                    limit("ThrottlingRateLimit")?,
                    limit("ThrottlingBurstLimit")?,
                ))
            };
        let mut throttling = Throttling {
            default: settings(
                format!("Resources.{api}.Properties.DefaultRouteSettings"),
                &properties["DefaultRouteSettings"],
            )?,
            routes: BTreeMap::new(),
        };
        if let Some(routes) = properties["RouteSettings"].as_object() {
            for (key, value) in routes {
                let at = format!("Resources.{api}.Properties.RouteSettings.{key}");
                throttling.routes.insert(key.clone(), settings(at, value)?);
            }
        }
        Ok(throttling)
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
pub(super) fn merged(globals: &Value, properties: &Value) -> Value {
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
pub(super) fn to_json(value: serde_norway::Value) -> Result<Value, String> {
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
