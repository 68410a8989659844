//! CloudFormation's intrinsic functions, resolved to the emulator's local names, URLs and ARNs.
//!
//! The template is read as JSON with YAML's short forms turned into their long forms (`!Ref X`
//! is `{"Ref": "X"}`, `!Sub s` is `{"Fn::Sub": s}`), so one resolver serves both. Supported:
//! `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::If` with the template's
//! conditions (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`), the pseudo
//! parameters and `AWS::NoValue`. What a resource's `Ref` or attribute is locally:
//!
//! | type | `Ref` | attributes |
//! |------|-------|------------|
//! | SQS queue | its URL on the emulator | `Arn`, `QueueName`, `QueueUrl` |
//! | function | its name | `Arn` |
//! | state machine | its ARN | `Arn`, `Name` |
//! | SNS topic | its ARN | |
//! | anything else | its logical id | none |

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::names::{ACCOUNT, REGION};

/// The stack name the emulator's resources live in (`AWS::StackName`).
pub const STACK_NAME: &str = "local";

/// What a resource is called locally, by logical id.
#[derive(Debug, Clone)]
pub(super) struct Resource {
    pub kind: String,
    /// Its local name: a queue's, a function's or a state machine's.
    pub name: String,
}

/// Resolves intrinsic functions against the template's parameters, conditions and resources.
pub(super) struct Resolver<'a> {
    /// Parameter values by name; `None` for a parameter with neither a default nor an override.
    pub parameters: &'a HashMap<String, Option<Value>>,
    pub conditions: &'a Map<String, Value>,
    pub resources: &'a HashMap<String, Resource>,
    /// The emulator's URL, which queue URLs start with.
    pub base_url: &'a str,
}

impl Resolver<'_> {
    /// `value` with every intrinsic function resolved; `None` for `AWS::NoValue` (the property is
    /// then absent). An error says what could not be resolved, without where (the caller knows).
    pub fn resolve(&self, value: &Value) -> Result<Option<Value>, String> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (key, argument) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => self.reference(text(argument, "Ref")?),
                    "Fn::GetAtt" => self.get_att(argument).map(Some),
                    "Fn::Sub" => self.sub(argument).map(|s| Some(Value::String(s))),
                    "Fn::Join" => self.join(argument).map(|s| Some(Value::String(s))),
                    "Fn::Select" => self.select(argument),
                    "Fn::If" => self.if_(argument),
                    // A property named Condition (an IAM statement's) holds a map, not a name.
                    "Condition" if argument.is_string() => self
                        .condition(text(argument, "Condition")?)
                        .map(|b| Some(b.into())),
                    "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => {
                        self.condition_value(value).map(|b| Some(b.into()))
                    }
                    other if other.starts_with("Fn::") => {
                        Err(format!("{other} is not supported by the emulator"))
                    }
                    _ => self.object(map).map(Some),
                }
            }
            Value::Object(map) => self.object(map).map(Some),
            Value::Array(items) => {
                let mut resolved = Vec::with_capacity(items.len());
                for item in items {
                    resolved.extend(self.resolve(item)?);
                }
                Ok(Some(Value::Array(resolved)))
            }
            scalar => Ok(Some(scalar.clone())),
        }
    }

    fn object(&self, map: &Map<String, Value>) -> Result<Value, String> {
        let mut resolved = Map::new();
        for (key, value) in map {
            if let Some(value) = self.resolve(value).map_err(|e| format!("{key}: {e}"))? {
                resolved.insert(key.clone(), value);
            }
        }
        Ok(Value::Object(resolved))
    }

    fn reference(&self, name: &str) -> Result<Option<Value>, String> {
        let pseudo = match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::Region" => REGION.to_owned(),
            "AWS::AccountId" => ACCOUNT.to_owned(),
            "AWS::StackName" => STACK_NAME.to_owned(),
            "AWS::StackId" => format!(
                "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            _ => String::new(),
        };
        if !pseudo.is_empty() {
            return Ok(Some(Value::String(pseudo)));
        }
        if let Some(parameter) = self.parameters.get(name) {
            return parameter.clone().map(Some).ok_or_else(|| {
                format!(
                    "the parameter {name} has no default and was not given \
                     (--parameter-overrides {name}=VALUE)"
                )
            });
        }
        let resource = self.resource(name)?;
        let value = match resource.kind.as_str() {
            "AWS::SQS::Queue" => self.queue_url(&resource.name),
            "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine" => {
                crate::names::state_machine_arn(&resource.name)
            }
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", resource.name),
            _ => resource.name.clone(),
        };
        Ok(Some(Value::String(value)))
    }

    fn resource(&self, name: &str) -> Result<&Resource, String> {
        self.resources
            .get(name)
            .ok_or_else(|| format!("{name} is neither a parameter nor a resource of the template"))
    }

    fn queue_url(&self, name: &str) -> String {
        crate::names::queue_url(self.base_url, name)
    }

    fn get_att(&self, argument: &Value) -> Result<Value, String> {
        let (id, attribute) = match argument {
            Value::String(dotted) => dotted
                .split_once('.')
                .ok_or_else(|| format!("Fn::GetAtt {dotted:?} must be Resource.Attribute"))?,
            Value::Array(pair) if pair.len() == 2 => {
                (text(&pair[0], "Fn::GetAtt")?, text(&pair[1], "Fn::GetAtt")?)
            }
            _ => return Err("Fn::GetAtt takes Resource.Attribute".into()),
        };
        self.attribute(id, attribute).map(Value::String)
    }

    fn attribute(&self, id: &str, attribute: &str) -> Result<String, String> {
        let resource = self.resource(id)?;
        let name = &resource.name;
        let value = match (resource.kind.as_str(), attribute) {
            ("AWS::SQS::Queue", "Arn") => crate::names::queue_arn(name),
            ("AWS::SQS::Queue", "QueueName") => name.clone(),
            ("AWS::SQS::Queue", "QueueUrl") => self.queue_url(name),
            ("AWS::Serverless::Function" | "AWS::Lambda::Function", "Arn") => {
                function_model::local_function_arn(name)
            }
            ("AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine", "Arn") => {
                crate::names::state_machine_arn(name)
            }
            ("AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine", "Name") => {
                name.clone()
            }
            (kind, _) => {
                return Err(format!(
                    "{id}.{attribute} has no local value (the emulator does not emulate \
                     {attribute} of {kind})"
                ));
            }
        };
        Ok(value)
    }

    /// `Fn::Sub`: a string, or `[string, {variables}]`. `${!Text}` is the literal `${Text}`.
    fn sub(&self, argument: &Value) -> Result<String, String> {
        let (pattern, variables) = match argument {
            Value::String(pattern) => (pattern.as_str(), Map::new()),
            Value::Array(pair) if pair.len() == 2 => (
                text(&pair[0], "Fn::Sub")?,
                pair[1].as_object().cloned().unwrap_or_default(),
            ),
            _ => return Err("Fn::Sub takes a string or [string, variables]".into()),
        };
        if pattern.contains("{{resolve:") {
            return Err(format!(
                "{pattern:?} is a dynamic reference, which only CloudFormation resolves"
            ));
        }
        let mut out = String::with_capacity(pattern.len());
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("Fn::Sub {pattern:?}: a ${{ is not closed"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(&scalar_text(self.resolve(value)?.as_ref(), name)?);
            } else if let Some((id, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(id, attribute)?);
            } else {
                out.push_str(&scalar_text(self.reference(name)?.as_ref(), name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn join(&self, argument: &Value) -> Result<String, String> {
        let [separator, items] = pair(argument, "Fn::Join")?;
        let separator = text(separator, "Fn::Join")?;
        let items = self.resolve(items)?.unwrap_or(Value::Array(Vec::new()));
        let parts: Vec<String> = items
            .as_array()
            .ok_or("Fn::Join takes a list of values")?
            .iter()
            .map(|item| scalar_text(Some(item), "Fn::Join"))
            .collect::<Result<_, _>>()?;
        Ok(parts.join(separator))
    }

    fn select(&self, argument: &Value) -> Result<Option<Value>, String> {
        let [index, items] = pair(argument, "Fn::Select")?;
        let index = scalar_text(self.resolve(index)?.as_ref(), "Fn::Select")?
            .parse::<usize>()
            .map_err(|_| "Fn::Select's index must be a whole number".to_owned())?;
        let items = self.resolve(items)?.unwrap_or(Value::Array(Vec::new()));
        let item = items
            .as_array()
            .and_then(|items| items.get(index))
            .ok_or_else(|| format!("Fn::Select: no item {index}"))?;
        Ok(Some(item.clone()))
    }

    fn if_(&self, argument: &Value) -> Result<Option<Value>, String> {
        let branches = argument
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or("Fn::If takes [condition, value if true, value if false]")?;
        let chosen = if self.condition(text(&branches[0], "Fn::If")?)? {
            &branches[1]
        } else {
            &branches[2]
        };
        self.resolve(chosen)
    }

    /// The named condition of the template's `Conditions`.
    pub fn condition(&self, name: &str) -> Result<bool, String> {
        let definition = self
            .conditions
            .get(name)
            .ok_or_else(|| format!("no condition {name} in the template's Conditions"))?;
        self.condition_value(definition)
            .map_err(|e| format!("condition {name}: {e}"))
    }

    fn condition_value(&self, value: &Value) -> Result<bool, String> {
        let Some((function, argument)) = value.as_object().and_then(|m| m.iter().next()) else {
            return Err("a condition is Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition".into());
        };
        let list = || {
            argument
                .as_array()
                .ok_or_else(|| format!("{function} takes a list"))
        };
        match function.as_str() {
            "Condition" => self.condition(text(argument, "Condition")?),
            "Fn::Equals" => {
                let [a, b] = pair(argument, "Fn::Equals")?;
                Ok(self.resolve(a)? == self.resolve(b)?)
            }
            "Fn::Not" => match list()?.as_slice() {
                [one] => Ok(!self.condition_value(one)?),
                _ => Err("Fn::Not takes one condition".into()),
            },
            "Fn::And" => list()?
                .iter()
                .try_fold(true, |all, c| Ok(all && self.condition_value(c)?)),
            "Fn::Or" => list()?
                .iter()
                .try_fold(false, |any, c| Ok(any || self.condition_value(c)?)),
            other => Err(format!("{other} is not a condition function")),
        }
    }
}

fn text<'v>(value: &'v Value, function: &str) -> Result<&'v str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{function} takes a name, not {value}"))
}

fn pair<'v>(value: &'v Value, function: &str) -> Result<[&'v Value; 2], String> {
    match value.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok([a, b]),
        _ => Err(format!("{function} takes a list of two")),
    }
}

/// A resolved value as text (strings, numbers and booleans; what `Fn::Sub` and `Fn::Join` take).
pub(super) fn scalar_text(value: Option<&Value>, what: &str) -> Result<String, String> {
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(other) => Err(format!("{what} is {other}, not a string")),
        None => Err(format!("{what} is AWS::NoValue, not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(value: Value) -> Result<Option<Value>, String> {
        let parameters = HashMap::from([
            ("Origin".to_owned(), Some(json!("https://a.example"))),
            ("Secret".to_owned(), None),
        ]);
        let conditions = json!({
            "HasOrigin": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Origin"}, ""]}]},
            "Both": {"Fn::And": [{"Condition": "HasOrigin"}, {"Fn::Equals": ["a", "a"]}]},
        });
        let resources = HashMap::from([
            (
                "Queue".to_owned(),
                Resource {
                    kind: "AWS::SQS::Queue".into(),
                    name: "Queue".into(),
                },
            ),
            (
                "Fn".to_owned(),
                Resource {
                    kind: "AWS::Serverless::Function".into(),
                    name: "payment".into(),
                },
            ),
            (
                "Bucket".to_owned(),
                Resource {
                    kind: "AWS::S3::Bucket".into(),
                    name: "Bucket".into(),
                },
            ),
        ]);
        Resolver {
            parameters: &parameters,
            conditions: conditions.as_object().expect("an object"),
            resources: &resources,
            base_url: "http://127.0.0.1:3000",
        }
        .resolve(&value)
    }

    #[test]
    fn refs_and_attributes_are_local_names_urls_and_arns() {
        let resolved = resolve(json!({
            "url": {"Ref": "Queue"},
            "arn": {"Fn::GetAtt": "Queue.Arn"},
            "name": {"Fn::GetAtt": ["Queue", "QueueName"]},
            "function": {"Fn::GetAtt": "Fn.Arn"},
            "origin": {"Ref": "Origin"},
            "region": {"Ref": "AWS::Region"},
        }));
        assert_eq!(
            resolved,
            Ok(Some(json!({
                "url": "http://127.0.0.1:3000/000000000000/Queue",
                "arn": "arn:aws:sqs:us-east-1:000000000000:Queue",
                "name": "Queue",
                "function": "arn:aws:lambda:us-east-1:000000000000:function:payment",
                "origin": "https://a.example",
                "region": "us-east-1",
            })))
        );
    }

    #[test]
    fn sub_replaces_names_attributes_variables_and_keeps_escapes() {
        let resolved = resolve(json!({"Fn::Sub": [
            "${Fn}|${Queue.Arn}|${AWS::AccountId}|${x}|${!Literal}",
            {"x": {"Ref": "Origin"}}
        ]}));
        assert_eq!(
            resolved,
            Ok(Some(json!(
                "payment|arn:aws:sqs:us-east-1:000000000000:Queue|000000000000|https://a.example|${Literal}"
            )))
        );
    }

    #[test]
    fn conditions_choose_and_no_value_removes() {
        assert_eq!(
            resolve(
                json!([{"Fn::If": ["Both", "yes", "no"]}, {"Fn::If": ["HasOrigin", {"Ref": "AWS::NoValue"}, "x"]}])
            ),
            Ok(Some(json!(["yes"])))
        );
        assert_eq!(
            resolve(json!({"a": {"Ref": "AWS::NoValue"}, "b": {"Fn::Join": ["-", ["x", 1]]}})),
            Ok(Some(json!({"b": "x-1"})))
        );
    }

    #[test]
    fn what_cannot_be_resolved_is_named() {
        let error = |value| resolve(value).expect_err("an error");
        assert!(error(json!({"Ref": "Secret"})).contains("--parameter-overrides Secret=VALUE"));
        assert!(error(json!({"Ref": "Nothing"})).contains("Nothing is neither"));
        assert!(
            error(json!({"Fn::GetAtt": "Bucket.Arn"})).contains("Bucket.Arn has no local value")
        );
        assert!(error(json!({"Fn::Sub": "{{resolve:ssm:/x}}"})).contains("dynamic reference"));
        assert!(error(json!({"Fn::FindInMap": ["a", "b", "c"]})).contains("not supported"));
        assert!(error(json!({"Fn::If": ["Missing", 1, 2]})).contains("no condition Missing"));
    }
}
