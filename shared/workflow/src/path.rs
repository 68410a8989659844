//! The JSONPath subset that ASL reference paths use (`$`, `$.a.b`, `$['a']`, `$.a[0]`, and
//! `$$...` for the context object), parsed once at definition time so that a bad path is a
//! definition error, plus the two run-time operations on it: reading a value and, for
//! `ResultPath`, writing one (creating objects as needed).

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::context::ContextObject;

/// Why a path string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    #[error("path \"{path}\" must start with \"$\"")]
    MissingRoot { path: String },
    #[error("path \"{path}\", at character {position}: {reason}")]
    Syntax {
        path: String,
        position: usize,
        reason: &'static str,
    },
    #[error("path \"{path}\" points into the context object, which cannot be written")]
    ContextNotWritable { path: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Field(String),
    Index(usize),
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, "field \"{name}\""),
            Self::Index(index) => write!(f, "index {index}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    /// `$`: the data being processed.
    Input,
    /// `$$`: the context object.
    Context,
}

/// A parsed reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    text: String,
    root: Root,
    segments: Vec<Segment>,
}

/// A path that selected nothing at run time; its `Display` says where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoMatch {
    path: String,
    reason: String,
}

impl fmt::Display for NoMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "path \"{}\" {}", self.path, self.reason)
    }
}

impl Path {
    pub(crate) fn parse(text: &str) -> Result<Self, PathError> {
        let (root, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (Root::Input, rest)
        } else {
            return Err(PathError::MissingRoot { path: text.into() });
        };
        let segments = parse_segments(text, text.len() - rest.len())?;
        Ok(Self {
            text: text.into(),
            root,
            segments,
        })
    }

    /// `$`: the whole input (the default of `InputPath` and `OutputPath`).
    pub(crate) fn whole() -> Self {
        Self {
            text: "$".into(),
            root: Root::Input,
            segments: Vec::new(),
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The value this path selects in `input` (or in the context object for `$$` paths).
    pub(crate) fn resolve<'v>(
        &self,
        input: &'v Value,
        context: &'v ContextObject<'_>,
    ) -> Result<Cow<'v, Value>, NoMatch> {
        let found = match self.root {
            Root::Input => walk(input, &self.segments).map(Cow::Borrowed),
            Root::Context => match self.segments.split_first() {
                None => Ok(Cow::Owned(context.to_value())),
                Some((first, rest)) => {
                    let section = match first {
                        Segment::Field(name) => context.section(name),
                        Segment::Index(_) => None,
                    };
                    match section {
                        Some(section) => walk(section, rest).map(Cow::Borrowed),
                        None => Err(format!("found no {first} in the context object")),
                    }
                }
            },
        };
        found.map_err(|reason| NoMatch {
            path: self.text.clone(),
            reason,
        })
    }
}

fn walk<'v>(mut value: &'v Value, segments: &[Segment]) -> Result<&'v Value, String> {
    for segment in segments {
        let next = match (segment, value) {
            (Segment::Field(name), Value::Object(map)) => map.get(name),
            (Segment::Index(index), Value::Array(items)) => items.get(*index),
            _ => None,
        };
        value = next.ok_or_else(|| format!("found no {segment}"))?;
    }
    Ok(value)
}

fn parse_segments(text: &str, start: usize) -> Result<Vec<Segment>, PathError> {
    let syntax = |position: usize, reason: &'static str| PathError::Syntax {
        path: text.into(),
        position,
        reason,
    };
    let mut segments = Vec::new();
    let mut pos = start;
    while pos < text.len() {
        let rest = &text[pos..];
        if let Some(after_dot) = rest.strip_prefix('.') {
            let len = after_dot.find(['.', '[']).unwrap_or(after_dot.len());
            let name = &after_dot[..len];
            if name.is_empty() {
                return Err(syntax(pos + 1, "expected a field name after '.'"));
            }
            if let Some(bad) = name.find(['*', '@', '?', '(', ')', ',', ':']) {
                return Err(syntax(
                    pos + 1 + bad,
                    "wildcards, filters, unions and slices are not supported",
                ));
            }
            segments.push(Segment::Field(name.into()));
            pos += 1 + len;
        } else if let Some(inside) = rest.strip_prefix('[') {
            let Some(close) = inside.find(']') else {
                return Err(syntax(pos, "unclosed '['"));
            };
            let content = &inside[..close];
            let quoted = ['\'', '"'].into_iter().find_map(|quote| {
                content
                    .strip_prefix(quote)
                    .and_then(|c| c.strip_suffix(quote))
            });
            let segment = if let Some(name) = quoted {
                Segment::Field(name.into())
            } else if !content.is_empty() && content.bytes().all(|b| b.is_ascii_digit()) {
                let index = content
                    .parse()
                    .map_err(|_| syntax(pos + 1, "index is too large"))?;
                Segment::Index(index)
            } else {
                return Err(syntax(
                    pos + 1,
                    "brackets must hold a quoted field name or a non-negative index",
                ));
            };
            segments.push(segment);
            pos += close + 2;
        } else {
            return Err(syntax(pos, "expected '.' or '['"));
        }
    }
    Ok(segments)
}

/// A `ResultPath`: where a state's result is written into its raw input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResultPath {
    text: String,
    segments: Vec<Segment>,
}

impl ResultPath {
    pub(crate) fn parse(text: &str) -> Result<Self, PathError> {
        let path = Path::parse(text)?;
        if path.root == Root::Context {
            return Err(PathError::ContextNotWritable { path: path.text });
        }
        Ok(Self {
            text: path.text,
            segments: path.segments,
        })
    }

    /// `$`: the result replaces the input (the default).
    pub(crate) fn whole() -> Self {
        Self {
            text: "$".into(),
            segments: Vec::new(),
        }
    }

    /// `input` with `result` placed at this path. Missing objects on the way are created;
    /// anything else in the way (a string, an array too short) is a [`NoMatch`].
    pub(crate) fn apply(&self, mut input: Value, result: Value) -> Result<Value, NoMatch> {
        let mut slot = &mut input;
        for segment in &self.segments {
            let next = match (segment, slot) {
                (Segment::Field(name), Value::Object(map)) => Some(
                    map.entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new())),
                ),
                (Segment::Index(index), Value::Array(items)) => items.get_mut(*index),
                _ => None,
            };
            slot = next.ok_or_else(|| NoMatch {
                path: self.text.clone(),
                reason: format!(
                    "cannot set {segment}: the value in the way is not a container that holds it"
                ),
            })?;
        }
        *slot = result;
        Ok(input)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn resolve(path: &str, input: &Value) -> Result<Value, NoMatch> {
        let execution = json!({"Name": "exec-1", "Input": {"a": 1}});
        let context = ContextObject::new(&execution, "Start", Utc::now(), 2);
        Path::parse(path)
            .unwrap()
            .resolve(input, &context)
            .map(Cow::into_owned)
    }

    #[test]
    fn reads_the_supported_forms() {
        let input = json!({"a": {"b": [10, {"c": "x"}]}, "d e": true});
        let cases = [
            ("$", input.clone()),
            ("$.a.b[0]", json!(10)),
            ("$.a.b[1].c", json!("x")),
            ("$['a']['b'][1][\"c\"]", json!("x")),
            ("$['d e']", json!(true)),
            ("$$.Execution.Name", json!("exec-1")),
            ("$$.Execution.Input.a", json!(1)),
            ("$$.State.Name", json!("Start")),
            ("$$.State.RetryCount", json!(2)),
        ];
        for (path, expected) in cases {
            assert_eq!(resolve(path, &input).unwrap(), expected, "{path}");
        }
        assert_eq!(resolve("$$", &input).unwrap()["State"]["Name"], "Start");
    }

    #[test]
    fn missing_values_are_reported() {
        let input = json!({"a": {"b": [1]}});
        for path in ["$.x", "$.a.b[3]", "$.a.b.c", "$$.Nope", "$$.State.Nope"] {
            let err = resolve(path, &input).unwrap_err();
            assert!(err.to_string().contains(path), "{err}");
        }
        assert_eq!(
            resolve("$.a.x", &input).unwrap_err().to_string(),
            "path \"$.a.x\" found no field \"x\""
        );
    }

    #[test]
    fn rejects_unsupported_syntax() {
        for bad in [
            "$..a",
            "$.a.",
            "$.*",
            "$[*]",
            "$.a[-1]",
            "$[0:2]",
            "$.a[",
            "$a",
            "$[?(@.x)]",
        ] {
            assert!(
                matches!(Path::parse(bad), Err(PathError::Syntax { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            Path::parse("a.b"),
            Err(PathError::MissingRoot { path: "a.b".into() })
        );
        assert_eq!(
            ResultPath::parse("$$.State"),
            Err(PathError::ContextNotWritable {
                path: "$$.State".into()
            })
        );
    }

    #[test]
    fn result_path_sets_replaces_and_creates() {
        let input = json!({"a": 1, "list": [1, 2]});
        let set = |path: &str| {
            ResultPath::parse(path)
                .unwrap()
                .apply(input.clone(), json!("r"))
        };
        assert_eq!(set("$").unwrap(), json!("r"));
        assert_eq!(
            set("$.x.y").unwrap(),
            json!({"a": 1, "list": [1, 2], "x": {"y": "r"}})
        );
        assert_eq!(set("$.a").unwrap(), json!({"a": "r", "list": [1, 2]}));
        assert_eq!(set("$.list[1]").unwrap(), json!({"a": 1, "list": [1, "r"]}));
        assert!(set("$.a.b").is_err());
        assert!(set("$.list[5]").is_err());
        assert_eq!(
            ResultPath::whole().apply(json!(1), json!(2)).unwrap(),
            json!(2)
        );
    }
}
