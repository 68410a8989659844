//! Payload templates (`Parameters`, `ResultSelector`): JSON whose keys ending in `.$` take
//! their value from a path (input or `$$.` context) or an intrinsic function call. Parsed
//! once so that bad paths and unknown functions reject the definition; evaluated per attempt.

use std::borrow::Cow;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::context::ContextObject;
use crate::failure::ExecutionFailure;
use crate::intrinsic::{self, Call, IntrinsicError};
use crate::path::{Path, PathError};

/// Why a payload template was rejected. `key` is the offending key, with its `.$` suffix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("\"{key}\" must hold a string: a path or an intrinsic function call")]
    NotAString { key: String },
    #[error("\"{key}\" holds an invalid path")]
    Path {
        key: String,
        #[source]
        source: PathError,
    },
    #[error("\"{key}\" holds an invalid intrinsic function call")]
    Intrinsic {
        key: String,
        #[source]
        source: IntrinsicError,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Literal(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    /// A `.$` field holding a path; the key (without `.$`) is kept for error messages.
    Path(String, Path),
    Intrinsic(Call),
}

/// A parsed payload template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template(Node);

impl Template {
    pub(crate) fn parse(value: &Value) -> Result<Self, TemplateError> {
        parse_node(value).map(Self)
    }

    pub(crate) fn evaluate(
        &self,
        input: &Value,
        context: &ContextObject<'_>,
    ) -> Result<Value, ExecutionFailure> {
        evaluate_node(&self.0, input, context)
    }
}

fn parse_node(value: &Value) -> Result<Node, TemplateError> {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                let Some(name) = key.strip_suffix(".$") else {
                    return Ok((key.clone(), parse_node(value)?));
                };
                let Value::String(text) = value else {
                    return Err(TemplateError::NotAString { key: key.clone() });
                };
                let node = if text.starts_with('$') {
                    let path = Path::parse(text).map_err(|source| TemplateError::Path {
                        key: key.clone(),
                        source,
                    })?;
                    Node::Path(name.into(), path)
                } else {
                    let call =
                        intrinsic::parse(text).map_err(|source| TemplateError::Intrinsic {
                            key: key.clone(),
                            source,
                        })?;
                    Node::Intrinsic(call)
                };
                Ok((name.into(), node))
            })
            .collect::<Result<_, _>>()
            .map(Node::Object),
        Value::Array(items) => items
            .iter()
            .map(parse_node)
            .collect::<Result<_, _>>()
            .map(Node::Array),
        other => Ok(Node::Literal(other.clone())),
    }
}

fn evaluate_node(
    node: &Node,
    input: &Value,
    context: &ContextObject<'_>,
) -> Result<Value, ExecutionFailure> {
    match node {
        Node::Literal(value) => Ok(value.clone()),
        Node::Object(fields) => fields
            .iter()
            .map(|(key, node)| Ok((key.clone(), evaluate_node(node, input, context)?)))
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        Node::Array(items) => items
            .iter()
            .map(|node| evaluate_node(node, input, context))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Node::Path(key, path) => path
            .resolve(input, context)
            .map(Cow::into_owned)
            .map_err(|e| ExecutionFailure::runtime(format!("field \"{key}.$\": {e}"))),
        Node::Intrinsic(call) => call.evaluate(input, context),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::failure::names;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn run(template: Value, input: Value) -> Result<Value, ExecutionFailure> {
        let execution = json!({"Name": "exec-7", "Id": "arn:exec-7"});
        let entered = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let context = ContextObject::new(&execution, "Save", entered, 1);
        Template::parse(&template)
            .unwrap()
            .evaluate(&input, &context)
    }

    #[test]
    fn substitutes_paths_recursively_and_keeps_literals() {
        let out = run(
            json!({
                "QueueUrl": "${FollowUpQueueUrl}",
                "MessageBody": {"step": "save-order", "order.$": "$.order", "n": [1, {"id.$": "$.order.id"}]},
                "execution.$": "$$.Execution.Name",
                "entered.$": "$$.State.EnteredTime",
                "retries.$": "$$.State.RetryCount",
                "all.$": "$"
            }),
            json!({"order": {"id": "o-1"}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "QueueUrl": "${FollowUpQueueUrl}",
                "MessageBody": {"step": "save-order", "order": {"id": "o-1"}, "n": [1, {"id": "o-1"}]},
                "execution": "exec-7",
                "entered": "2024-05-01T12:00:00.000Z",
                "retries": 1,
                "all": {"order": {"id": "o-1"}}
            })
        );
    }

    #[test]
    fn missing_path_is_a_runtime_error() {
        let err = run(json!({"x.$": "$.missing"}), json!({})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        assert!(
            err.cause.contains("x.$") && err.cause.contains("$.missing"),
            "{}",
            err.cause
        );
    }

    #[test]
    fn intrinsic_functions() {
        let input = json!({"name": "Ada", "n": 3, "list": [1, 2], "doc": "{\"a\":1}"});
        let cases = [
            (
                "States.Format('Hello {}, you are {}', $.name, $.n)",
                json!("Hello Ada, you are 3"),
            ),
            (
                "States.Format('\\{}} {} it\\'s', $.name)",
                json!("{}} Ada it's"),
            ),
            ("States.Format('{}', $$.Execution.Name)", json!("exec-7")),
            ("States.StringToJson($.doc)", json!({"a": 1})),
            ("States.JsonToString($.list)", json!("[1,2]")),
            (
                "States.Array($.name, 1, true, null, 'x')",
                json!(["Ada", 1, true, null, "x"]),
            ),
            ("States.ArrayLength($.list)", json!(2)),
            ("States.MathAdd($.n, -1)", json!(2)),
            ("States.ArrayLength(States.Array($.n, $.n))", json!(2)),
        ];
        for (call, expected) in cases {
            let out = run(json!({"v.$": call}), input.clone()).unwrap();
            assert_eq!(out["v"], expected, "{call}");
        }
        let uuid = run(json!({"v.$": "States.UUID()"}), json!({})).unwrap();
        assert_eq!(uuid["v"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn intrinsic_failures_at_run_time() {
        for call in [
            "States.StringToJson($.n)",
            "States.MathAdd($.name, 1)",
            "States.ArrayLength($.n)",
            "States.Format($.name, 1)",
        ] {
            let err = run(json!({"v.$": call}), json!({"n": 1, "name": "x"})).unwrap_err();
            assert_eq!(err.error, names::INTRINSIC_FAILURE, "{call}");
        }
    }

    #[test]
    fn rejects_bad_templates() {
        let parse = |v: Value| Template::parse(&v).unwrap_err();
        assert!(
            matches!(parse(json!({"a.$": 3})), TemplateError::NotAString { key } if key == "a.$")
        );
        assert!(matches!(
            parse(json!({"a": {"b.$": "$..x"}})),
            TemplateError::Path { .. }
        ));
        let intrinsic = |v: Value| match parse(v) {
            TemplateError::Intrinsic { source, .. } => source,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            intrinsic(json!({"a.$": "States.Nope($.x)"})),
            IntrinsicError::UnknownFunction {
                name: "States.Nope".into()
            }
        );
        assert!(matches!(
            intrinsic(json!({"a.$": "States.MathAdd(1)"})),
            IntrinsicError::Arity {
                function: "States.MathAdd",
                got: 1,
                ..
            }
        ));
        assert_eq!(
            intrinsic(json!({"a.$": "States.Format('{} {}', $.x)"})),
            IntrinsicError::FormatArity { holes: 2, args: 1 }
        );
        for bad in [
            "States.Format('x'",
            "States.Array('x) ",
            "States.Array(1 2)",
            "States.UUID() x",
            "plain",
        ] {
            let err = parse(json!({"a.$": bad}));
            assert!(
                matches!(err, TemplateError::Intrinsic { .. }),
                "{bad}: {err:?}"
            );
        }
    }
}
