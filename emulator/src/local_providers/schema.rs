//! Checks a request body against a provider's JSON Schema, the one derived from the provider's
//! official OpenAPI description (`shared/clients/schemas`, made by `scripts/derive-*.py`).
//!
//! Why: a fake that checks a request by hand checks what its author thought of; one that walks the
//! provider's schema checks every field the provider documents, and follows the spec when it is
//! derived again. The clients' tests validate what the clients send against the same files.
//!
//! The derived schemas are self-contained and use few keywords (`scripts/derive-provider-schemas.py`
//! stops on others); [`Schema::new`] refuses a keyword it does not know, so a schema that needs
//! more fails at start, not by accepting what it should refuse. `format` (the providers' own
//! formats, such as `ppaas_common_currency_code_v2`) is not checked, and properties a schema does
//! not list are not refused: the providers ignore unknown fields, they do not report them. A
//! `null` counts as absent, as the providers' validation has it.
//!
//! Each violation names the rule, where it is (a JSON pointer into the body) and the value there;
//! the fake turns them into its provider's error details. One violation per value: its type
//! first, then its length, then its pattern or allowed values.

use std::collections::HashMap;

use regex::Regex;
use serde_json::{Map, Value};

/// The keywords a derived schema may use.
const KEYWORDS: [&str; 14] = [
    "$schema",
    "$comment",
    "type",
    "properties",
    "additionalProperties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
    "format",
];

/// A schema, with its patterns compiled.
pub struct Schema {
    root: Value,
    patterns: HashMap<String, Regex>,
}

/// What a violation broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A `required` property is absent (or `null`).
    Missing,
    /// The value is not of the schema's `type`.
    Type,
    /// A string shorter than `minLength` or longer than `maxLength` (in characters).
    Length,
    /// A string that does not match the schema's `pattern`.
    Pattern,
    /// A value that is not one of the schema's `enum`.
    Enum,
    /// An array with fewer items than `minItems`.
    TooFewItems,
    /// An array with more items than `maxItems`.
    TooManyItems,
}

/// One violation: the rule, where (a JSON pointer; `""` is the body), and the value found there
/// (`None` for a missing one).
#[derive(Debug, Clone, PartialEq)]
pub struct Violation<'v> {
    pub rule: Rule,
    pub at: String,
    pub value: Option<&'v Value>,
}

impl Schema {
    /// Reads a derived schema; an unknown keyword or a pattern that does not compile is an error.
    pub fn new(root: Value) -> Result<Self, String> {
        let mut patterns = HashMap::new();
        collect(&root, "#", &mut patterns)?;
        Ok(Self { root, patterns })
    }

    /// The part of the schema at `pointer` (`/properties/payment_source`), as a schema of its
    /// own: for a request whose body is one part of another request's.
    pub fn part(&self, pointer: &str) -> Option<Self> {
        let root = self.root.pointer(pointer)?.clone();
        Some(Self {
            root,
            patterns: self.patterns.clone(),
        })
    }

    /// Every violation in `value`: an object's missing properties first, then its properties'
    /// violations by name.
    pub fn violations<'v>(&self, value: &'v Value) -> Vec<Violation<'v>> {
        let mut found = Vec::new();
        self.check(&self.root, value, String::new(), &mut found);
        found
    }

    fn check<'v>(
        &self,
        schema: &Value,
        value: &'v Value,
        at: String,
        found: &mut Vec<Violation<'v>>,
    ) {
        let Some(schema) = schema.as_object() else {
            return;
        };
        let violation = |rule| Violation {
            rule,
            at: at.clone(),
            value: Some(value),
        };
        if let Some(kind) = schema.get("type").and_then(Value::as_str)
            && !has_type(value, kind)
        {
            found.push(violation(Rule::Type));
            return;
        }
        match value {
            Value::Object(object) => self.check_object(schema, object, &at, found),
            Value::Array(items) => {
                let count = items.len() as u64;
                if schema
                    .get("minItems")
                    .and_then(Value::as_u64)
                    .is_some_and(|min| count < min)
                {
                    found.push(violation(Rule::TooFewItems));
                } else if schema
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .is_some_and(|max| count > max)
                {
                    found.push(violation(Rule::TooManyItems));
                }
                if let Some(item_schema) = schema.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.check(item_schema, item, format!("{at}/{index}"), found);
                    }
                }
            }
            Value::String(text) => {
                let length = text.chars().count() as u64;
                let too_short = schema
                    .get("minLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|min| length < min);
                let too_long = schema
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|max| length > max);
                let unmatched = schema
                    .get("pattern")
                    .and_then(Value::as_str)
                    .and_then(|pattern| self.patterns.get(pattern))
                    .is_some_and(|pattern| !pattern.is_match(text));
                if too_short || too_long {
                    found.push(violation(Rule::Length));
                } else if unmatched {
                    found.push(violation(Rule::Pattern));
                } else if not_listed(schema, value) {
                    found.push(violation(Rule::Enum));
                }
            }
            _ => {
                if not_listed(schema, value) {
                    found.push(violation(Rule::Enum));
                }
            }
        }
    }

    fn check_object<'v>(
        &self,
        schema: &Map<String, Value>,
        object: &'v Map<String, Value>,
        at: &str,
        found: &mut Vec<Violation<'v>>,
    ) {
        let present = |name: &str| object.get(name).filter(|value| !value.is_null());
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = name.as_str()
                && present(name).is_none()
            {
                found.push(Violation {
                    rule: Rule::Missing,
                    at: format!("{at}/{}", escape(name)),
                    value: None,
                });
            }
        }
        for (name, property_schema) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(value) = present(name) {
                self.check(
                    property_schema,
                    value,
                    format!("{at}/{}", escape(name)),
                    found,
                );
            }
        }
    }
}

/// Checks every keyword of `schema` and compiles its patterns (anchored as written: JSON Schema's
/// patterns are not implicitly anchored, and neither are `Regex`'s).
fn collect(schema: &Value, at: &str, patterns: &mut HashMap<String, Regex>) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Err(format!("{at}: a schema must be an object"));
    };
    for (keyword, value) in schema {
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(format!("{at}: the keyword {keyword} is not supported"));
        }
        match keyword.as_str() {
            "properties" => {
                for (name, property) in value.as_object().into_iter().flatten() {
                    collect(property, &format!("{at}/properties/{name}"), patterns)?;
                }
            }
            "items" => collect(value, &format!("{at}/items"), patterns)?,
            "additionalProperties" if value.is_object() => {
                collect(value, &format!("{at}/additionalProperties"), patterns)?;
            }
            "pattern" => {
                let pattern = value
                    .as_str()
                    .ok_or_else(|| format!("{at}/pattern: not a string"))?;
                let compiled = Regex::new(pattern)
                    .map_err(|e| format!("{at}/pattern: {pattern} does not compile: {e}"))?;
                patterns.insert(pattern.to_owned(), compiled);
            }
            _ => {}
        }
    }
    Ok(())
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn not_listed(schema: &Map<String, Value>, value: &Value) -> bool {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|allowed| !allowed.contains(value))
}

/// A property name as a JSON pointer segment (RFC 6901).
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Schema {
        Schema::new(json!({
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": ["CAPTURE", "AUTHORIZE"]},
                "units": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 2,
                    "items": {
                        "type": "object",
                        "properties": {
                            "value": {"type": "string", "maxLength": 5, "pattern": "^[0-9]+$"},
                            "a/b": {"type": "integer"}
                        },
                        "required": ["value"],
                        "additionalProperties": false
                    }
                }
            },
            "required": ["intent", "units"]
        }))
        .expect("a schema")
    }

    fn rules(body: Value) -> Vec<(Rule, String)> {
        schema()
            .violations(&body)
            .into_iter()
            .map(|violation| (violation.rule, violation.at))
            .collect()
    }

    #[test]
    fn a_valid_body_has_no_violations_and_unknown_fields_are_ignored() {
        assert!(
            rules(
                json!({"intent": "CAPTURE", "units": [{"value": "12", "extra": 1}], "more": true})
            )
            .is_empty()
        );
    }

    #[test]
    fn each_rule_is_reported_where_it_is_broken() {
        assert_eq!(
            rules(
                json!({"intent": "SELL", "units": [{"value": "123456"}, {"value": "1x", "a/b": "7"}]})
            ),
            [
                (Rule::Enum, "/intent".to_owned()),
                (Rule::Length, "/units/0/value".to_owned()),
                (Rule::Type, "/units/1/a~1b".to_owned()),
                (Rule::Pattern, "/units/1/value".to_owned()),
            ]
        );
        assert_eq!(
            rules(json!({"intent": null, "units": []})),
            [
                (Rule::Missing, "/intent".to_owned()),
                (Rule::TooFewItems, "/units".to_owned()),
            ]
        );
        assert_eq!(
            rules(json!({"intent": 1, "units": [{}, {"value": "1"}, {"value": "2"}]})),
            [
                (Rule::Type, "/intent".to_owned()),
                (Rule::TooManyItems, "/units".to_owned()),
                (Rule::Missing, "/units/0/value".to_owned()),
            ]
        );
        assert_eq!(rules(json!([])), [(Rule::Type, String::new())]);
    }

    #[test]
    fn an_unknown_keyword_or_a_bad_pattern_is_refused() {
        let unknown = Schema::new(json!({"type": "object", "oneOf": []})).err();
        assert_eq!(
            unknown.as_deref(),
            Some("#: the keyword oneOf is not supported")
        );
        let pattern = Schema::new(json!({"properties": {"a": {"pattern": "("}}})).err();
        assert!(
            pattern.is_some_and(|e| e.starts_with("#/properties/a/pattern: ( does not compile"))
        );
    }
}
