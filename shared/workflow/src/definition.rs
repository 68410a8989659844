//! The typed state machine and the parser that builds it from ASL JSON. All validation happens
//! here, once, so that the interpreter can trust the definition: state types and their allowed
//! fields, `Next`/`End`, targets of `Next`/`Default`/`Catch` within the same `States` object,
//! `StartAt`, reachability, unique state names, paths, payload templates, Retry/Catch entries
//! and Choice rules. Errors name the JSON location of the offending field.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::choice::{Condition, parse_choice};
use crate::error::DefinitionError;
use crate::handling::ErrorHandling;
use crate::path::{Path, ResultPath};
use crate::template::Template;

type Object = Map<String, Value>;

/// A parsed and validated Amazon States Language definition.
#[derive(Debug, Clone)]
pub struct StateMachine {
    comment: Option<String>,
    version: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) root: Machine,
}

/// A `StartAt` + `States` pair: the whole machine, or one branch of a Parallel state.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) start_at: String,
    pub(crate) states: BTreeMap<String, State>,
}

#[derive(Debug, Clone)]
pub(crate) enum Transition {
    Next(String),
    End,
}

impl Transition {
    pub(crate) fn next(&self) -> Option<&str> {
        match self {
            Self::Next(next) => Some(next),
            Self::End => None,
        }
    }
}

/// Input and output processing. A `None` path is JSON `null`: `{}` for `InputPath` and
/// `OutputPath`, "discard the result" for `ResultPath`. Absent paths default to `$`.
#[derive(Debug, Clone)]
pub(crate) struct Io {
    pub(crate) input_path: Option<Path>,
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: Option<ResultPath>,
    pub(crate) output_path: Option<Path>,
}

#[derive(Debug, Clone)]
pub(crate) enum State {
    Task(Task),
    Parallel(Parallel),
    Pass(Pass),
    Choice(Choice),
    Wait(Wait),
    Succeed(Io),
    Fail(Fail),
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub(crate) resource: String,
    pub(crate) timeout: Option<Duration>,
    pub(crate) io: Io,
    pub(crate) handling: ErrorHandling,
    pub(crate) transition: Transition,
}

#[derive(Debug, Clone)]
pub(crate) struct Parallel {
    pub(crate) branches: Vec<Machine>,
    pub(crate) io: Io,
    pub(crate) handling: ErrorHandling,
    pub(crate) transition: Transition,
}

#[derive(Debug, Clone)]
pub(crate) struct Pass {
    pub(crate) result: Option<Value>,
    pub(crate) io: Io,
    pub(crate) transition: Transition,
}

#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub(crate) choices: Vec<(Condition, String)>,
    pub(crate) default: Option<String>,
    pub(crate) io: Io,
}

#[derive(Debug, Clone)]
pub(crate) enum WaitFor {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(DateTime<FixedOffset>),
    TimestampPath(Path),
}

#[derive(Debug, Clone)]
pub(crate) struct Wait {
    pub(crate) until: WaitFor,
    pub(crate) io: Io,
    pub(crate) transition: Transition,
}

/// `Error`/`Cause` (literal) or `ErrorPath`/`CausePath` of a Fail state.
#[derive(Debug, Clone)]
pub(crate) enum FailText {
    Literal(String),
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) struct Fail {
    pub(crate) error: Option<FailText>,
    pub(crate) cause: Option<FailText>,
}

impl StateMachine {
    /// Parses and validates an ASL definition.
    pub fn from_json(definition: &str) -> Result<Self, DefinitionError> {
        let value: Value = serde_json::from_str(definition).map_err(DefinitionError::Json)?;
        Self::from_value(&value)
    }

    /// Parses and validates an ASL definition that is already JSON.
    pub fn from_value(definition: &Value) -> Result<Self, DefinitionError> {
        let at = "/";
        let top = as_object(definition, at)?;
        check_fields(
            top,
            at,
            &["Comment", "StartAt", "States", "TimeoutSeconds", "Version"],
        )?;
        Ok(Self {
            comment: optional_string(top, at, "Comment")?,
            version: optional_string(top, at, "Version")?,
            timeout: positive_integer(top, at, "TimeoutSeconds")?.map(Duration::from_secs),
            root: parse_machine(top, "", &mut HashSet::new())?,
        })
    }

    /// Every distinct Task `Resource`, including those of Parallel branches, sorted.
    pub fn task_resources(&self) -> Vec<String> {
        fn collect(machine: &Machine, into: &mut Vec<String>) {
            for state in machine.states.values() {
                match state {
                    State::Task(task) => into.push(task.resource.clone()),
                    State::Parallel(parallel) => {
                        parallel.branches.iter().for_each(|b| collect(b, into));
                    }
                    _ => {}
                }
            }
        }
        let mut resources = Vec::new();
        collect(&self.root, &mut resources);
        resources.sort();
        resources.dedup();
        resources
    }

    /// The `Type` of every state by its name, including those of Parallel branches (a name
    /// used in two branches keeps the first type found).
    pub fn state_types(&self) -> BTreeMap<String, &'static str> {
        fn collect(machine: &Machine, into: &mut BTreeMap<String, &'static str>) {
            for (name, state) in &machine.states {
                let kind = match state {
                    State::Task(_) => "Task",
                    State::Parallel(parallel) => {
                        parallel.branches.iter().for_each(|b| collect(b, into));
                        "Parallel"
                    }
                    State::Pass(_) => "Pass",
                    State::Choice(_) => "Choice",
                    State::Wait(_) => "Wait",
                    State::Succeed(_) => "Succeed",
                    State::Fail(_) => "Fail",
                };
                into.entry(name.clone()).or_insert(kind);
            }
        }
        let mut types = BTreeMap::new();
        collect(&self.root, &mut types);
        types
    }

    /// The top-level `Comment`.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The top-level `Version`.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The execution's `TimeoutSeconds`, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

fn as_object<'v>(value: &'v Value, at: &str) -> Result<&'v Object, DefinitionError> {
    value
        .as_object()
        .ok_or_else(|| DefinitionError::NotAnObject { at: at.into() })
}

/// Fields of ASL (or of JSONata) that this interpreter deliberately does not implement.
const UNSUPPORTED_FIELDS: &[&str] = &[
    "Assign",
    "Arguments",
    "Output",
    "Credentials",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
];

fn check_fields(object: &Object, at: &str, allowed: &[&str]) -> Result<(), DefinitionError> {
    for (key, value) in object {
        if allowed.contains(&key.as_str()) || key == "Comment" {
            continue;
        }
        if key == "QueryLanguage" {
            if value == "JSONPath" {
                continue;
            }
            return Err(DefinitionError::Unsupported {
                at: at.into(),
                what: format!("QueryLanguage {value}"),
            });
        }
        if UNSUPPORTED_FIELDS.contains(&key.as_str()) {
            return Err(DefinitionError::Unsupported {
                at: at.into(),
                what: format!("field \"{key}\""),
            });
        }
        return Err(DefinitionError::UnknownField {
            at: at.into(),
            field: key.clone(),
        });
    }
    Ok(())
}

fn invalid(at: &str, field: &str, reason: &str) -> DefinitionError {
    DefinitionError::InvalidField {
        at: at.into(),
        field: field.into(),
        reason: reason.into(),
    }
}

fn optional_string(
    object: &Object,
    at: &str,
    field: &str,
) -> Result<Option<String>, DefinitionError> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(invalid(at, field, "must be a string")),
    }
}

fn required_string(
    object: &Object,
    at: &str,
    field: &'static str,
) -> Result<String, DefinitionError> {
    optional_string(object, at, field)?.ok_or_else(|| DefinitionError::MissingField {
        at: at.into(),
        field,
    })
}

fn positive_integer(
    object: &Object,
    at: &str,
    field: &str,
) -> Result<Option<u64>, DefinitionError> {
    object
        .get(field)
        .map(|value| {
            value
                .as_u64()
                .filter(|&n| n >= 1)
                .ok_or_else(|| invalid(at, field, "must be a positive integer"))
        })
        .transpose()
}

fn path_value(value: &Value, at: &str, field: &str) -> Result<Path, DefinitionError> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(at, field, "must be a path string"))?;
    Path::parse(text).map_err(|source| DefinitionError::BadPath {
        at: at.into(),
        field: field.into(),
        source,
    })
}

fn path(object: &Object, at: &str, field: &str) -> Result<Option<Path>, DefinitionError> {
    object
        .get(field)
        .map(|value| path_value(value, at, field))
        .transpose()
}

/// `InputPath`/`OutputPath`: absent means `$`, `null` means `{}` (returned as `None`).
fn io_path(object: &Object, at: &str, field: &str) -> Result<Option<Path>, DefinitionError> {
    match object.get(field) {
        None => Ok(Some(Path::whole())),
        Some(Value::Null) => Ok(None),
        Some(_) => path(object, at, field),
    }
}

fn template(
    object: &Object,
    at: &str,
    field: &'static str,
) -> Result<Option<Template>, DefinitionError> {
    object
        .get(field)
        .map(|value| {
            Template::parse(value).map_err(|source| DefinitionError::BadTemplate {
                at: at.into(),
                field,
                source,
            })
        })
        .transpose()
}

impl Io {
    /// Reads whichever of the five fields are present; `check_fields` has already rejected
    /// those that the state type does not have.
    fn parse(object: &Object, at: &str) -> Result<Self, DefinitionError> {
        let result_path = match object.get("ResultPath") {
            None => Some(ResultPath::whole()),
            Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some(
                    ResultPath::parse(text).map_err(|source| DefinitionError::BadPath {
                        at: at.into(),
                        field: "ResultPath".into(),
                        source,
                    })?,
                )
            }
            Some(_) => return Err(invalid(at, "ResultPath", "must be a path string or null")),
        };
        Ok(Self {
            input_path: io_path(object, at, "InputPath")?,
            parameters: template(object, at, "Parameters")?,
            result_selector: template(object, at, "ResultSelector")?,
            result_path,
            output_path: io_path(object, at, "OutputPath")?,
        })
    }
}

fn transition(object: &Object, at: &str) -> Result<Transition, DefinitionError> {
    let next = optional_string(object, at, "Next")?;
    let end = match object.get("End") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(invalid(at, "End", "must be true when present")),
    };
    match (next, end) {
        (Some(next), false) => Ok(Transition::Next(next)),
        (None, true) => Ok(Transition::End),
        (Some(_), true) => Err(DefinitionError::ConflictingTransition { at: at.into() }),
        (None, false) => Err(DefinitionError::MissingTransition { at: at.into() }),
    }
}

/// Parses `StartAt` and `States` of `object`; `prefix` is the object's location ("" at the
/// top) and `names` collects every state name of the whole definition.
fn parse_machine(
    object: &Object,
    prefix: &str,
    names: &mut HashSet<String>,
) -> Result<Machine, DefinitionError> {
    let at = if prefix.is_empty() { "/" } else { prefix };
    let start_at = required_string(object, at, "StartAt")?;
    let definitions = object
        .get("States")
        .ok_or_else(|| DefinitionError::MissingField {
            at: at.into(),
            field: "States",
        })?
        .as_object()
        .filter(|states| !states.is_empty())
        .ok_or_else(|| invalid(at, "States", "must be an object with at least one state"))?;
    let mut states = BTreeMap::new();
    for (name, definition) in definitions {
        let state_at = format!("{prefix}/States/{name}");
        if name.is_empty() || name.chars().count() > 80 {
            return Err(DefinitionError::BadStateName { at: state_at });
        }
        if !names.insert(name.clone()) {
            return Err(DefinitionError::DuplicateStateName {
                at: state_at,
                name: name.clone(),
            });
        }
        states.insert(name.clone(), parse_state(definition, &state_at, names)?);
    }
    if !states.contains_key(&start_at) {
        return Err(DefinitionError::UnknownStartAt {
            at: at.into(),
            start_at,
        });
    }
    for (name, state) in &states {
        for (field, target) in state.targets() {
            if !states.contains_key(target) {
                return Err(DefinitionError::UnknownNext {
                    at: format!("{prefix}/States/{name}"),
                    field,
                    target: target.into(),
                });
            }
        }
    }
    let mut reached = HashSet::from([start_at.as_str()]);
    let mut pending = vec![start_at.as_str()];
    while let Some(name) = pending.pop() {
        for (_, target) in states[name].targets() {
            if reached.insert(target) {
                pending.push(target);
            }
        }
    }
    if let Some(name) = states.keys().find(|name| !reached.contains(name.as_str())) {
        return Err(DefinitionError::UnreachableState {
            at: at.into(),
            name: name.clone(),
        });
    }
    Ok(Machine { start_at, states })
}

const IO_FIELDS: &[&str] = &["Type", "InputPath", "OutputPath"];
const RESULT_FIELDS: &[&str] = &[
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
    "Next",
    "End",
];

fn parse_state(
    value: &Value,
    at: &str,
    names: &mut HashSet<String>,
) -> Result<State, DefinitionError> {
    let object = as_object(value, at)?;
    let kind = required_string(object, at, "Type")?;
    let fields = match kind.as_str() {
        "Task" => [
            IO_FIELDS,
            RESULT_FIELDS,
            &["Resource", "TimeoutSeconds", "HeartbeatSeconds"],
        ]
        .concat(),
        "Parallel" => [IO_FIELDS, RESULT_FIELDS, &["Branches"]].concat(),
        "Pass" => [
            IO_FIELDS,
            &["Parameters", "ResultPath", "Result", "Next", "End"],
        ]
        .concat(),
        "Choice" => [IO_FIELDS, &["Choices", "Default"]].concat(),
        "Wait" => [
            IO_FIELDS,
            &[
                "Seconds",
                "SecondsPath",
                "Timestamp",
                "TimestampPath",
                "Next",
                "End",
            ],
        ]
        .concat(),
        "Succeed" => IO_FIELDS.to_vec(),
        "Fail" => vec!["Type", "Error", "Cause", "ErrorPath", "CausePath"],
        "Map" => return Err(DefinitionError::MapNotSupported { at: at.into() }),
        _ => {
            return Err(DefinitionError::UnknownStateType {
                at: at.into(),
                kind,
            });
        }
    };
    check_fields(object, at, &fields)?;
    let state = match kind.as_str() {
        "Task" => {
            let resource = required_string(object, at, "Resource")?;
            if resource.is_empty() {
                return Err(invalid(at, "Resource", "must not be empty"));
            }
            // HeartbeatSeconds is validated but has no effect: invokers do not heartbeat.
            positive_integer(object, at, "HeartbeatSeconds")?;
            State::Task(Task {
                resource,
                timeout: positive_integer(object, at, "TimeoutSeconds")?.map(Duration::from_secs),
                io: Io::parse(object, at)?,
                handling: ErrorHandling::parse(object, at)?,
                transition: transition(object, at)?,
            })
        }
        "Parallel" => {
            let branches = object
                .get("Branches")
                .ok_or(DefinitionError::MissingField {
                    at: at.into(),
                    field: "Branches",
                })?
                .as_array()
                .filter(|branches| !branches.is_empty())
                .ok_or_else(|| invalid(at, "Branches", "must be a non-empty array"))?
                .iter()
                .enumerate()
                .map(|(i, branch)| {
                    let branch_at = format!("{at}/Branches/{i}");
                    let branch = as_object(branch, &branch_at)?;
                    check_fields(branch, &branch_at, &["StartAt", "States"])?;
                    parse_machine(branch, &branch_at, names)
                })
                .collect::<Result<_, _>>()?;
            State::Parallel(Parallel {
                branches,
                io: Io::parse(object, at)?,
                handling: ErrorHandling::parse(object, at)?,
                transition: transition(object, at)?,
            })
        }
        "Pass" => State::Pass(Pass {
            result: object.get("Result").cloned(),
            io: Io::parse(object, at)?,
            transition: transition(object, at)?,
        }),
        "Choice" => {
            let choices = object
                .get("Choices")
                .ok_or(DefinitionError::MissingField {
                    at: at.into(),
                    field: "Choices",
                })?
                .as_array()
                .filter(|choices| !choices.is_empty())
                .ok_or_else(|| invalid(at, "Choices", "must be a non-empty array"))?
                .iter()
                .enumerate()
                .map(|(i, choice)| parse_choice(choice, &format!("{at}/Choices/{i}")))
                .collect::<Result<_, _>>()?;
            State::Choice(Choice {
                choices,
                default: optional_string(object, at, "Default")?,
                io: Io::parse(object, at)?,
            })
        }
        "Wait" => State::Wait(Wait {
            until: wait_for(object, at)?,
            io: Io::parse(object, at)?,
            transition: transition(object, at)?,
        }),
        "Succeed" => State::Succeed(Io::parse(object, at)?),
        _ => State::Fail(Fail {
            error: fail_text(object, at, "Error", "ErrorPath")?,
            cause: fail_text(object, at, "Cause", "CausePath")?,
        }),
    };
    Ok(state)
}

fn wait_for(object: &Object, at: &str) -> Result<WaitFor, DefinitionError> {
    const FIELDS: [&str; 4] = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"];
    let present: Vec<_> = FIELDS
        .into_iter()
        .filter(|f| object.contains_key(*f))
        .collect();
    let [field] = present.as_slice() else {
        return Err(invalid(
            at,
            &FIELDS.join("|"),
            "exactly one of these fields must be given",
        ));
    };
    let value = &object[*field];
    match *field {
        "Seconds" => value
            .as_u64()
            .map(WaitFor::Seconds)
            .ok_or_else(|| invalid(at, field, "must be a non-negative integer")),
        "Timestamp" => value
            .as_str()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(WaitFor::Timestamp)
            .ok_or_else(|| invalid(at, field, "must be an RFC 3339 timestamp string")),
        "SecondsPath" => path_value(value, at, field).map(WaitFor::SecondsPath),
        _ => path_value(value, at, field).map(WaitFor::TimestampPath),
    }
}

fn fail_text(
    object: &Object,
    at: &str,
    literal: &str,
    path_field: &str,
) -> Result<Option<FailText>, DefinitionError> {
    let text = optional_string(object, at, literal)?;
    let path = path(object, at, path_field)?;
    match (text, path) {
        (Some(_), Some(_)) => Err(invalid(
            at,
            path_field,
            &format!("cannot be combined with \"{literal}\""),
        )),
        (Some(text), None) => Ok(Some(FailText::Literal(text))),
        (None, Some(path)) => Ok(Some(FailText::Path(path))),
        (None, None) => Ok(None),
    }
}

impl State {
    /// The states this one can go to, each with the field that names it.
    fn targets(&self) -> Vec<(String, &str)> {
        fn from(transition: &Transition) -> Vec<(String, &str)> {
            transition
                .next()
                .map(|next| ("Next".to_string(), next))
                .into_iter()
                .collect()
        }
        match self {
            Self::Task(Task {
                transition,
                handling,
                ..
            })
            | Self::Parallel(Parallel {
                transition,
                handling,
                ..
            }) => {
                let mut targets = from(transition);
                targets.extend(handling.targets());
                targets
            }
            Self::Pass(Pass { transition, .. }) | Self::Wait(Wait { transition, .. }) => {
                from(transition)
            }
            Self::Choice(choice) => choice
                .choices
                .iter()
                .enumerate()
                .map(|(i, (_, next))| (format!("Choices[{i}].Next"), next.as_str()))
                .chain(
                    choice
                        .default
                        .iter()
                        .map(|default| ("Default".to_string(), default.as_str())),
                )
                .collect(),
            Self::Succeed(_) | Self::Fail(_) => Vec::new(),
        }
    }
}
