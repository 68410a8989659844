//! Definition parsing through the public API: what is accepted, and that each kind of
//! mistake is rejected with a precise error and location.

#![allow(clippy::unwrap_used)]

use std::error::Error as _;
use std::time::Duration;

use serde_json::{Value, json};
use workflow::{DefinitionError, StateMachine};

fn parse(definition: Value) -> Result<StateMachine, DefinitionError> {
    StateMachine::from_json(&definition.to_string())
}

fn error(definition: Value) -> DefinitionError {
    parse(definition).unwrap_err()
}

/// A one-state machine around `state`.
fn single(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state}})
}

/// The error message with its whole source chain.
fn chain(error: &DefinitionError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

#[test]
fn accepts_every_supported_state_type() {
    let machine = parse(json!({
        "Comment": "all types",
        "Version": "1.0",
        "TimeoutSeconds": 300,
        "StartAt": "Pass",
        "States": {
            "Pass": {"Type": "Pass", "Result": {"a": 1}, "ResultPath": "$.p", "Next": "Task"},
            "Task": {
                "Type": "Task", "Resource": "arn:aws:lambda:fn", "TimeoutSeconds": 5,
                "HeartbeatSeconds": 2, "InputPath": "$", "OutputPath": null,
                "Parameters": {"x.$": "$.p", "id.$": "$$.Execution.Id"},
                "ResultSelector": {"r.$": "$"}, "ResultPath": null,
                "Retry": [{"ErrorEquals": ["States.ALL"], "JitterStrategy": "FULL", "MaxDelaySeconds": 4}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed", "ResultPath": "$.err"}],
                "Next": "Fork"
            },
            "Fork": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "B1", "States": {"B1": {"Type": "Task", "Resource": "arn:b1", "End": true}}},
                    {"StartAt": "B2", "States": {"B2": {"Type": "Task", "Resource": "arn:aws:lambda:fn", "End": true}}}
                ],
                "Next": "Decide"
            },
            "Decide": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.p.a", "NumericEquals": 1, "Next": "Pause"}],
                "Default": "Failed"
            },
            "Pause": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Done"},
            "Done": {"Type": "Succeed", "QueryLanguage": "JSONPath"},
            "Failed": {"Type": "Fail", "ErrorPath": "$.err.Error", "Cause": "see history"}
        }
    }))
    .unwrap();
    assert_eq!(machine.comment(), Some("all types"));
    assert_eq!(machine.version(), Some("1.0"));
    assert_eq!(machine.timeout(), Some(Duration::from_secs(300)));
    assert_eq!(machine.task_resources(), ["arn:aws:lambda:fn", "arn:b1"]);
    let types = machine.state_types();
    assert_eq!(types["B1"], "Task", "states of branches too");
    assert_eq!(types["Fork"], "Parallel");
    assert_eq!(types["Decide"], "Choice");
    assert_eq!(types["Pause"], "Wait");
    assert_eq!(types["Done"], "Succeed");
    assert_eq!(types["Failed"], "Fail");
}

#[test]
fn rejects_invalid_json_and_non_objects() {
    assert!(matches!(
        StateMachine::from_json("{\"StartAt\":"),
        Err(DefinitionError::Json(_))
    ));
    assert!(matches!(error(json!([1])), DefinitionError::NotAnObject { at } if at == "/"));
    assert!(matches!(
        error(single(json!("Task"))),
        DefinitionError::NotAnObject { at } if at == "/States/S"
    ));
}

#[test]
fn rejects_missing_and_mistyped_fields() {
    assert!(matches!(
        error(json!({"States": {}})),
        DefinitionError::MissingField {
            field: "StartAt",
            ..
        }
    ));
    assert!(matches!(
        error(json!({"StartAt": "S"})),
        DefinitionError::MissingField {
            field: "States",
            ..
        }
    ));
    assert!(matches!(
        error(json!({"StartAt": "S", "States": {}})),
        DefinitionError::InvalidField { field, .. } if field == "States"
    ));
    assert!(matches!(
        error(single(json!({"Type": "Task", "End": true}))),
        DefinitionError::MissingField { field: "Resource", at } if at == "/States/S"
    ));
    assert!(matches!(
        error(single(json!({"Next": "S"}))),
        DefinitionError::MissingField { field: "Type", .. }
    ));
    for (state, field) in [
        (
            json!({"Type": "Task", "Resource": "r", "End": true, "TimeoutSeconds": 0}),
            "TimeoutSeconds",
        ),
        (
            json!({"Type": "Task", "Resource": "r", "End": true, "HeartbeatSeconds": "1"}),
            "HeartbeatSeconds",
        ),
        (
            json!({"Type": "Task", "Resource": "", "End": true}),
            "Resource",
        ),
        (
            json!({"Type": "Task", "Resource": "r", "End": false}),
            "End",
        ),
        (
            json!({"Type": "Task", "Resource": "r", "End": true, "ResultPath": 3}),
            "ResultPath",
        ),
        (
            json!({"Type": "Task", "Resource": "r", "End": true, "InputPath": 3}),
            "InputPath",
        ),
        (
            json!({"Type": "Parallel", "Branches": [], "End": true}),
            "Branches",
        ),
        (json!({"Type": "Choice", "Choices": []}), "Choices"),
        (
            json!({"Type": "Wait", "End": true}),
            "Seconds|SecondsPath|Timestamp|TimestampPath",
        ),
        (
            json!({"Type": "Wait", "Seconds": 1, "Timestamp": "2024-01-01T00:00:00Z", "End": true}),
            "Seconds|SecondsPath|Timestamp|TimestampPath",
        ),
        (
            json!({"Type": "Wait", "Seconds": -1, "End": true}),
            "Seconds",
        ),
        (
            json!({"Type": "Wait", "Timestamp": "tomorrow", "End": true}),
            "Timestamp",
        ),
        (
            json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}),
            "ErrorPath",
        ),
        (json!({"Type": "Fail", "Cause": 1}), "Cause"),
    ] {
        let err = error(single(state.clone()));
        assert!(
            matches!(&err, DefinitionError::InvalidField { field: f, .. } if f == field),
            "{state}: {err:?}"
        );
    }
    assert!(matches!(
        error(json!({"StartAt": "S", "TimeoutSeconds": 0, "States": {"S": {"Type": "Succeed"}}})),
        DefinitionError::InvalidField { field, .. } if field == "TimeoutSeconds"
    ));
}

#[test]
fn rejects_unknown_state_types_and_map() {
    let err = error(single(json!({"Type": "Loop", "End": true})));
    assert!(
        matches!(&err, DefinitionError::UnknownStateType { kind, at } if kind == "Loop" && at == "/States/S")
    );
    let err = error(single(
        json!({"Type": "Map", "ItemProcessor": {}, "End": true}),
    ));
    assert!(matches!(err, DefinitionError::MapNotSupported { .. }));
    assert_eq!(err.to_string(), "/States/S: Map is not supported");
}

#[test]
fn rejects_unknown_and_unsupported_fields() {
    let err = error(single(
        json!({"Type": "Task", "Resource": "r", "End": true, "Retries": []}),
    ));
    assert!(matches!(&err, DefinitionError::UnknownField { field, .. } if field == "Retries"));
    // Fields that exist, but not on this state type.
    for state in [
        json!({"Type": "Pass", "ResultSelector": {}, "End": true}),
        json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "S"}], "End": true}),
        json!({"Type": "Succeed", "Next": "S"}),
        json!({"Type": "Fail", "InputPath": "$"}),
        json!({"Type": "Parallel", "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}], "Resource": "r", "End": true}),
        json!({"Type": "Task", "Resource": "r", "Branches": [], "End": true}),
    ] {
        assert!(
            matches!(
                error(single(state.clone())),
                DefinitionError::UnknownField { .. }
            ),
            "{state}"
        );
    }
    assert!(matches!(
        error(json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}, "Extra": 1})),
        DefinitionError::UnknownField { field, .. } if field == "Extra"
    ));
    let err = error(single(
        json!({"Type": "Pass", "Assign": {"x": 1}, "End": true}),
    ));
    assert_eq!(
        err.to_string(),
        "/States/S: field \"Assign\" is not supported"
    );
    let err = error(
        json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
    );
    assert!(matches!(err, DefinitionError::Unsupported { .. }), "{err}");
}

#[test]
fn rejects_bad_transitions() {
    assert!(matches!(
        error(single(json!({"Type": "Pass"}))),
        DefinitionError::MissingTransition { at } if at == "/States/S"
    ));
    assert!(matches!(
        error(json!({"StartAt": "S", "States": {
            "S": {"Type": "Pass", "Next": "T", "End": true}, "T": {"Type": "Succeed"}
        }})),
        DefinitionError::ConflictingTransition { .. }
    ));
    let err = error(single(json!({"Type": "Pass", "Next": "Nowhere"})));
    assert_eq!(
        err.to_string(),
        "/States/S: Next names \"Nowhere\", which is not a state of the same States object"
    );
    assert!(matches!(
        error(single(json!({"Type": "Task", "Resource": "r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Nowhere"}]}))),
        DefinitionError::UnknownNext { field, .. } if field == "Catch[0].Next"
    ));
    assert!(matches!(
        error(single(json!({"Type": "Choice",
            "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "S"}], "Default": "Nowhere"}))),
        DefinitionError::UnknownNext { field, .. } if field == "Default"
    ));
    assert!(matches!(
        error(single(json!({"Type": "Choice",
            "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Nowhere"}]}))),
        DefinitionError::UnknownNext { field, .. } if field == "Choices[0].Next"
    ));
    assert!(matches!(
        error(json!({"StartAt": "Nope", "States": {"S": {"Type": "Succeed"}}})),
        DefinitionError::UnknownStartAt { start_at, at } if start_at == "Nope" && at == "/"
    ));
    assert!(matches!(
        error(json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}})),
        DefinitionError::UnreachableState { name, .. } if name == "Orphan"
    ));
}

#[test]
fn branches_are_scoped_and_state_names_unique() {
    let parallel = |branches: Value| {
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Branches": branches, "Next": "After"},
            "After": {"Type": "Succeed"}
        }})
    };
    // A branch state cannot go to a state outside its branch.
    let err = error(parallel(json!([
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "After"}}}
    ])));
    assert!(
        matches!(&err, DefinitionError::UnknownNext { at, target, .. }
            if at == "/States/P/Branches/0/States/A" && target == "After"),
        "{err}"
    );
    let err = error(parallel(json!([
        {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}},
        {"StartAt": "Z", "States": {"B": {"Type": "Succeed"}}}
    ])));
    assert!(
        matches!(&err, DefinitionError::UnknownStartAt { at, .. } if at == "/States/P/Branches/1")
    );
    let err = error(parallel(json!([
        {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}},
        {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}
    ])));
    assert!(matches!(&err, DefinitionError::DuplicateStateName { name, .. } if name == "A"));
    let err = error(parallel(
        json!([{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Comment": "ok", "Version": "1"}]),
    ));
    assert!(matches!(&err, DefinitionError::UnknownField { field, .. } if field == "Version"));
    let long = "x".repeat(81);
    assert!(matches!(
        error(json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}})),
        DefinitionError::BadStateName { .. }
    ));
}

#[test]
fn rejects_bad_paths_templates_retries_catches_and_rules() {
    let task = |extra: Value| {
        let mut state = json!({"Type": "Task", "Resource": "r", "End": true});
        state
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        single(state)
    };
    for (field, value) in [
        ("InputPath", json!("$.a[*]")),
        ("OutputPath", json!("no-dollar")),
        ("ResultPath", json!("$$.Execution")),
    ] {
        let err = error(task(json!({ field: value })));
        assert!(
            matches!(&err, DefinitionError::BadPath { field: f, .. } if f == field),
            "{field}: {err:?}"
        );
    }
    let err = error(task(
        json!({"Parameters": {"a": {"b.$": "States.Nope($.x)"}}}),
    ));
    assert!(matches!(
        err,
        DefinitionError::BadTemplate {
            field: "Parameters",
            ..
        }
    ));
    assert_eq!(
        chain(&err),
        "/States/S: field \"Parameters\" is not a valid payload template: \"b.$\" holds an invalid \
         intrinsic function call: unknown intrinsic function \"States.Nope\""
    );
    assert!(matches!(
        error(task(json!({"ResultSelector": {"a.$": 1}}))),
        DefinitionError::BadTemplate {
            field: "ResultSelector",
            ..
        }
    ));
    let err = error(task(
        json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}),
    ));
    assert!(
        matches!(&err, DefinitionError::BadRetry { at, .. } if at == "/States/S/Retry/0"),
        "{err}"
    );
    let err = error(task(json!({"Catch": [
        {"ErrorEquals": ["States.ALL"], "Next": "S"},
        {"ErrorEquals": ["X"], "Next": "S"}
    ]})));
    assert!(
        matches!(&err, DefinitionError::BadCatch { at, .. } if at == "/States/S/Catch/0"),
        "{err}"
    );
    let err = error(single(
        json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "Next": "S"}]}),
    ));
    assert!(
        matches!(&err, DefinitionError::BadChoiceRule { at, .. } if at == "/States/S/Choices/0"),
        "{err}"
    );
}
