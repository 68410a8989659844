//! The topology the emulator runs, read from the SAM template that deploys the system
//! (`template.yaml`), so that what runs locally is what `sam deploy` creates: the functions with
//! their environment, timeouts and memory; the HTTP API's routes and CORS; the queues and their
//! redrive policies; the SQS event sources; the state machine with its definition file and
//! substitutions. Parameters take their defaults or `--parameter-overrides Name=Value`, as with
//! `sam`; intrinsic functions resolve to local names, URLs and ARNs (see `intrinsics`).
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
mod model;
mod reader;

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use intrinsics::{Resolver, Resource, scalar_text};
use reader::{Reader, cargo_binary, to_json};

pub use intrinsics::STACK_NAME;
pub use model::{
    Code, Cors, EventSource, Function, QueueSpec, Route, StateMachineSpec, Template, TemplateError,
    Throttle, Throttling, Topology, Variable,
};

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

#[cfg(test)]
mod tests;
