//! Choice rules: parsing a rule (a comparison on a `Variable`, or `And`/`Or`/`Not` of nested
//! rules) into a typed tree, and evaluating it against a state's effective input. An absent
//! `Variable` (or `...Path` operand) makes a test false, except `IsPresent: false`.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::context::ContextObject;
use crate::error::DefinitionError;
use crate::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeTest {
    Present,
    Null,
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(Value),
    Path(Path),
}

#[derive(Debug, Clone, PartialEq)]
enum Glob {
    Char(char),
    Star,
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Compare {
        kind: Kind,
        op: Op,
        operand: Operand,
    },
    Matches(Vec<Glob>),
    Is {
        test: TypeTest,
        expected: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test { variable: Path, test: Test },
}

/// A parsed top-level Choice rule (without its `Next`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition(Rule);

impl Condition {
    pub(crate) fn matches(&self, input: &Value, context: &ContextObject<'_>) -> bool {
        self.0.matches(input, context)
    }
}

/// Parses one entry of `Choices`: a rule with its `Next`.
pub(crate) fn parse_choice(
    value: &Value,
    at: &str,
) -> Result<(Condition, String), DefinitionError> {
    let map = as_object(value, at)?;
    let next = match map.get("Next") {
        Some(Value::String(next)) => next.clone(),
        Some(_) => return Err(bad(at, "\"Next\" must be a string")),
        None => return Err(bad(at, "a top-level rule needs \"Next\"")),
    };
    Ok((Condition(parse_body(map, at)?), next))
}

fn parse_nested(value: &Value, at: &str) -> Result<Rule, DefinitionError> {
    let map = as_object(value, at)?;
    if map.contains_key("Next") {
        return Err(bad(at, "a nested rule cannot have \"Next\""));
    }
    parse_body(map, at)
}

fn as_object<'v>(value: &'v Value, at: &str) -> Result<&'v Map<String, Value>, DefinitionError> {
    value
        .as_object()
        .ok_or_else(|| DefinitionError::NotAnObject { at: at.into() })
}

fn bad(at: &str, reason: impl Into<String>) -> DefinitionError {
    DefinitionError::BadChoiceRule {
        at: at.into(),
        reason: reason.into(),
    }
}

fn parse_body(map: &Map<String, Value>, at: &str) -> Result<Rule, DefinitionError> {
    let operators: Vec<_> = map
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "Next" | "Comment" | "Variable"))
        .collect();
    let [(operator, operand)] = operators.as_slice() else {
        let found: Vec<_> = operators.iter().map(|(key, _)| key.as_str()).collect();
        return Err(bad(
            at,
            format!("expected exactly one comparison operator or And/Or/Not, found {found:?}"),
        ));
    };
    let variable = map.get("Variable");
    match operator.as_str() {
        "And" | "Or" | "Not" if variable.is_some() => Err(bad(
            at,
            format!("\"{operator}\" cannot be combined with \"Variable\""),
        )),
        "And" | "Or" => {
            let items = operand
                .as_array()
                .filter(|items| !items.is_empty())
                .ok_or_else(|| bad(at, format!("\"{operator}\" must be a non-empty array")))?;
            let rules = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_nested(item, &format!("{at}/{operator}/{i}")))
                .collect::<Result<_, _>>()?;
            Ok(if *operator == "And" {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            })
        }
        "Not" => Ok(Rule::Not(Box::new(parse_nested(
            operand,
            &format!("{at}/Not"),
        )?))),
        _ => {
            let variable = match variable {
                Some(Value::String(text)) => {
                    Path::parse(text).map_err(|source| DefinitionError::BadPath {
                        at: at.into(),
                        field: "Variable".into(),
                        source,
                    })?
                }
                Some(_) => return Err(bad(at, "\"Variable\" must be a string")),
                None => return Err(bad(at, format!("\"{operator}\" needs a \"Variable\""))),
            };
            let test = parse_test(operator, operand, at)?;
            Ok(Rule::Test { variable, test })
        }
    }
}

fn parse_test(operator: &str, operand: &Value, at: &str) -> Result<Test, DefinitionError> {
    let type_test = match operator {
        "IsPresent" => Some(TypeTest::Present),
        "IsNull" => Some(TypeTest::Null),
        "IsString" => Some(TypeTest::String),
        "IsNumeric" => Some(TypeTest::Numeric),
        "IsBoolean" => Some(TypeTest::Boolean),
        "IsTimestamp" => Some(TypeTest::Timestamp),
        _ => None,
    };
    if let Some(test) = type_test {
        let expected = operand
            .as_bool()
            .ok_or_else(|| bad(at, format!("\"{operator}\" must be true or false")))?;
        return Ok(Test::Is { test, expected });
    }
    if operator == "StringMatches" {
        let pattern = operand
            .as_str()
            .ok_or_else(|| bad(at, "\"StringMatches\" must be a string"))?;
        return Ok(Test::Matches(parse_glob(pattern)));
    }
    let unknown = || bad(at, format!("unknown comparison operator \"{operator}\""));
    let (name, is_path) = match operator.strip_suffix("Path") {
        Some(name) => (name, true),
        None => (operator, false),
    };
    let (kind, op_name) = [
        ("String", Kind::String),
        ("Numeric", Kind::Numeric),
        ("Boolean", Kind::Boolean),
        ("Timestamp", Kind::Timestamp),
    ]
    .into_iter()
    .find_map(|(prefix, kind)| name.strip_prefix(prefix).map(|op| (kind, op)))
    .ok_or_else(unknown)?;
    let op = match op_name {
        "Equals" => Op::Equals,
        "LessThan" => Op::LessThan,
        "GreaterThan" => Op::GreaterThan,
        "LessThanEquals" => Op::LessThanEquals,
        "GreaterThanEquals" => Op::GreaterThanEquals,
        _ => return Err(unknown()),
    };
    if kind == Kind::Boolean && op != Op::Equals {
        return Err(unknown());
    }
    let operand = if is_path {
        let text = operand
            .as_str()
            .ok_or_else(|| bad(at, format!("\"{operator}\" must be a path string")))?;
        Operand::Path(
            Path::parse(text).map_err(|source| DefinitionError::BadPath {
                at: at.into(),
                field: operator.into(),
                source,
            })?,
        )
    } else {
        let valid = match kind {
            Kind::String => operand.is_string(),
            Kind::Numeric => operand.is_number(),
            Kind::Boolean => operand.is_boolean(),
            Kind::Timestamp => timestamp(operand).is_some(),
        };
        if !valid {
            let expected = match kind {
                Kind::String => "a string",
                Kind::Numeric => "a number",
                Kind::Boolean => "a boolean",
                Kind::Timestamp => "an RFC 3339 timestamp string",
            };
            return Err(bad(at, format!("\"{operator}\" must be {expected}")));
        }
        Operand::Literal(operand.clone())
    };
    Ok(Test::Compare { kind, op, operand })
}

fn parse_glob(pattern: &str) -> Vec<Glob> {
    let mut globs = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        globs.push(match c {
            '\\' => Glob::Char(chars.next().unwrap_or('\\')),
            '*' => Glob::Star,
            c => Glob::Char(c),
        });
    }
    globs
}

fn glob_matches(pattern: &[Glob], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Position of the last `*` seen and of the text it was matched against, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Glob::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Glob::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|g| *g == Glob::Star)
}

fn timestamp(value: &Value) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(value.as_str()?).ok()
}

fn compare(kind: Kind, op: Op, left: &Value, right: &Value) -> bool {
    let ordering = match kind {
        Kind::String => left.as_str().zip(right.as_str()).map(|(l, r)| l.cmp(r)),
        Kind::Numeric => left
            .as_f64()
            .zip(right.as_f64())
            .and_then(|(l, r)| l.partial_cmp(&r)),
        Kind::Boolean => left.as_bool().zip(right.as_bool()).map(|(l, r)| l.cmp(&r)),
        Kind::Timestamp => timestamp(left)
            .zip(timestamp(right))
            .map(|(l, r)| l.cmp(&r)),
    };
    ordering.is_some_and(|ordering| match op {
        Op::Equals => ordering.is_eq(),
        Op::LessThan => ordering.is_lt(),
        Op::GreaterThan => ordering.is_gt(),
        Op::LessThanEquals => ordering.is_le(),
        Op::GreaterThanEquals => ordering.is_ge(),
    })
}

impl Rule {
    fn matches(&self, input: &Value, context: &ContextObject<'_>) -> bool {
        match self {
            Self::And(rules) => rules.iter().all(|rule| rule.matches(input, context)),
            Self::Or(rules) => rules.iter().any(|rule| rule.matches(input, context)),
            Self::Not(rule) => !rule.matches(input, context),
            Self::Test { variable, test } => {
                let Ok(value) = variable.resolve(input, context) else {
                    return matches!(
                        test,
                        Test::Is {
                            test: TypeTest::Present,
                            expected: false
                        }
                    );
                };
                match test {
                    Test::Is { test, expected } => {
                        let actual = match test {
                            TypeTest::Present => true,
                            TypeTest::Null => value.is_null(),
                            TypeTest::String => value.is_string(),
                            TypeTest::Numeric => value.is_number(),
                            TypeTest::Boolean => value.is_boolean(),
                            TypeTest::Timestamp => timestamp(&value).is_some(),
                        };
                        actual == *expected
                    }
                    Test::Matches(pattern) => value
                        .as_str()
                        .is_some_and(|text| glob_matches(pattern, text)),
                    Test::Compare { kind, op, operand } => match operand {
                        Operand::Literal(right) => compare(*kind, *op, &value, right),
                        Operand::Path(path) => path
                            .resolve(input, context)
                            .is_ok_and(|right| compare(*kind, *op, &value, &right)),
                    },
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn eval(rule: Value, input: &Value) -> bool {
        let mut rule = rule;
        rule["Next"] = json!("X");
        let (rule, next) = parse_choice(&rule, "/States/C/Choices/0").unwrap();
        assert_eq!(next, "X");
        let execution = json!({"Name": "exec"});
        let context = ContextObject::new(&execution, "C", Utc::now(), 0);
        rule.matches(input, &context)
    }

    #[test]
    fn table_of_rules() {
        let input = json!({
            "s": "hello", "n": 5, "f": 2.5, "b": true, "nul": null, "other": 5,
            "t": "2024-01-02T03:04:05Z", "later": "2024-06-01T00:00:00+02:00",
            "file": "log-2024.txt", "star": "a*b",
        });
        let cases = [
            (json!({"Variable": "$.s", "StringEquals": "hello"}), true),
            (json!({"Variable": "$.s", "StringEquals": "world"}), false),
            (json!({"Variable": "$.n", "StringEquals": "5"}), false),
            (json!({"Variable": "$.s", "StringLessThan": "world"}), true),
            (
                json!({"Variable": "$.s", "StringGreaterThan": "world"}),
                false,
            ),
            (
                json!({"Variable": "$.s", "StringLessThanEquals": "hello"}),
                true,
            ),
            (
                json!({"Variable": "$.s", "StringGreaterThanEquals": "hellp"}),
                false,
            ),
            (json!({"Variable": "$.s", "StringEqualsPath": "$.s"}), true),
            (
                json!({"Variable": "$.file", "StringMatches": "log-*.txt"}),
                true,
            ),
            (
                json!({"Variable": "$.file", "StringMatches": "*.csv"}),
                false,
            ),
            (json!({"Variable": "$.file", "StringMatches": "*-*"}), true),
            (
                json!({"Variable": "$.star", "StringMatches": "a\\*b"}),
                true,
            ),
            (
                json!({"Variable": "$.file", "StringMatches": "a\\*b"}),
                false,
            ),
            (json!({"Variable": "$.n", "NumericEquals": 5}), true),
            (json!({"Variable": "$.n", "NumericEquals": 5.0}), true),
            (
                json!({"Variable": "$.n", "NumericEqualsPath": "$.other"}),
                true,
            ),
            (json!({"Variable": "$.n", "NumericLessThan": 5}), false),
            (json!({"Variable": "$.n", "NumericLessThanEquals": 5}), true),
            (json!({"Variable": "$.f", "NumericGreaterThan": 2}), true),
            (
                json!({"Variable": "$.f", "NumericGreaterThanEquals": 3}),
                false,
            ),
            (
                json!({"Variable": "$.n", "NumericLessThanPath": "$.f"}),
                false,
            ),
            (json!({"Variable": "$.s", "NumericEquals": 5}), false),
            (json!({"Variable": "$.b", "BooleanEquals": true}), true),
            (json!({"Variable": "$.b", "BooleanEqualsPath": "$.b"}), true),
            (json!({"Variable": "$.n", "BooleanEquals": false}), false),
            (
                json!({"Variable": "$.t", "TimestampEquals": "2024-01-02T04:04:05+01:00"}),
                true,
            ),
            (
                json!({"Variable": "$.t", "TimestampLessThan": "2024-01-02T03:04:06Z"}),
                true,
            ),
            (
                json!({"Variable": "$.t", "TimestampGreaterThan": "2024-01-02T03:04:06Z"}),
                false,
            ),
            (
                json!({"Variable": "$.t", "TimestampLessThanPath": "$.later"}),
                true,
            ),
            (
                json!({"Variable": "$.s", "TimestampEquals": "2024-01-02T03:04:05Z"}),
                false,
            ),
            (json!({"Variable": "$.s", "IsPresent": true}), true),
            (json!({"Variable": "$.missing", "IsPresent": true}), false),
            (json!({"Variable": "$.missing", "IsPresent": false}), true),
            (json!({"Variable": "$.s", "IsPresent": false}), false),
            (json!({"Variable": "$.nul", "IsNull": true}), true),
            (json!({"Variable": "$.missing", "IsNull": true}), false),
            (json!({"Variable": "$.missing", "IsNull": false}), false),
            (json!({"Variable": "$.s", "IsString": true}), true),
            (json!({"Variable": "$.n", "IsString": false}), true),
            (json!({"Variable": "$.f", "IsNumeric": true}), true),
            (json!({"Variable": "$.b", "IsBoolean": true}), true),
            (json!({"Variable": "$.t", "IsTimestamp": true}), true),
            (json!({"Variable": "$.s", "IsTimestamp": true}), false),
            (json!({"Variable": "$.missing", "StringEquals": "x"}), false),
            (
                json!({"Variable": "$.missing", "NumericLessThan": 1}),
                false,
            ),
            (
                json!({"Variable": "$.n", "NumericEqualsPath": "$.missing"}),
                false,
            ),
            (
                json!({"Variable": "$$.State.Name", "StringEquals": "C"}),
                true,
            ),
            (
                json!({"Variable": "$$.Execution.Name", "StringEquals": "exec"}),
                true,
            ),
            (
                json!({"And": [
                    {"Variable": "$.n", "NumericGreaterThan": 1},
                    {"Variable": "$.s", "StringEquals": "hello"}
                ]}),
                true,
            ),
            (
                json!({"And": [
                    {"Variable": "$.n", "NumericGreaterThan": 1},
                    {"Variable": "$.s", "StringEquals": "bye"}
                ]}),
                false,
            ),
            (
                json!({"Or": [
                    {"Variable": "$.n", "NumericGreaterThan": 10},
                    {"Not": {"Variable": "$.b", "BooleanEquals": false}}
                ]}),
                true,
            ),
            (
                json!({"Not": {"Variable": "$.missing", "IsPresent": true}}),
                true,
            ),
        ];
        for (rule, expected) in cases {
            assert_eq!(eval(rule.clone(), &input), expected, "{rule}");
        }
    }

    #[test]
    fn rejects_malformed_rules() {
        let cases = [
            (json!({"Variable": "$.a", "Next": "X"}), "exactly one"),
            (
                json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "X"}),
                "exactly one",
            ),
            (
                json!({"Variable": "$.a", "StringEquals": 1, "Next": "X"}),
                "must be a string",
            ),
            (
                json!({"Variable": "$.a", "NumericEquals": "1", "Next": "X"}),
                "must be a number",
            ),
            (
                json!({"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "X"}),
                "RFC 3339",
            ),
            (
                json!({"Variable": "$.a", "BooleanLessThan": true, "Next": "X"}),
                "unknown comparison",
            ),
            (
                json!({"Variable": "$.a", "StringSortsBefore": "x", "Next": "X"}),
                "unknown comparison",
            ),
            (
                json!({"Variable": "$.a", "IsNull": "yes", "Next": "X"}),
                "true or false",
            ),
            (
                json!({"StringEquals": "x", "Next": "X"}),
                "needs a \"Variable\"",
            ),
            (
                json!({"Variable": "$.a", "StringEquals": "x"}),
                "needs \"Next\"",
            ),
            (json!({"And": [], "Next": "X"}), "non-empty array"),
            (
                json!({"And": [{"Variable": "$.a", "IsNull": true, "Next": "Y"}], "Next": "X"}),
                "cannot have \"Next\"",
            ),
            (
                json!({"Variable": "$.a", "Not": {"Variable": "$.a", "IsNull": true}, "Next": "X"}),
                "cannot be combined",
            ),
        ];
        for (rule, expected) in cases {
            let err = parse_choice(&rule, "/States/C/Choices/0").unwrap_err();
            assert!(err.to_string().contains(expected), "{rule}: {err}");
        }
        let err = parse_choice(
            &json!({"Variable": "$.a[*]", "IsNull": true, "Next": "X"}),
            "/C",
        )
        .unwrap_err();
        assert!(matches!(err, DefinitionError::BadPath { field, .. } if field == "Variable"));
        let err = parse_choice(
            &json!({"Variable": "$.a", "StringEqualsPath": "nope", "Next": "X"}),
            "/C",
        )
        .unwrap_err();
        assert!(
            matches!(err, DefinitionError::BadPath { field, .. } if field == "StringEqualsPath")
        );
    }
}
