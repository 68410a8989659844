//! Error types, kept apart so that parsing and running report failures the same way everywhere:
//! [`DefinitionError`] says precisely where and why a definition was rejected (with its source
//! chain), [`ExecutionFailure`] is the `Error`/`Cause` pair Step Functions reports for a failed
//! state, branch or execution, and [`names`] lists the reserved `States.*` error names.

use serde::Serialize;
use thiserror::Error;

use crate::path::PathError;
use crate::template::TemplateError;

/// Reserved error names of the Amazon States Language that the interpreter raises or matches.
pub mod names {
    /// Wildcard of `ErrorEquals`: matches every error except [`RUNTIME`].
    pub const ALL: &str = "States.ALL";
    /// Wildcard of `ErrorEquals`: matches every error except [`TIMEOUT`] and [`RUNTIME`].
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A Task ran longer than its `TimeoutSeconds`, or the execution longer than its own.
    pub const TIMEOUT: &str = "States.Timeout";
    /// The interpreter could not process the data (e.g. an `InputPath` naming a missing field).
    /// Never retried, never caught, not even by [`ALL`].
    pub const RUNTIME: &str = "States.Runtime";
    /// A Choice state matched no rule and has no `Default`.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// A `ResultPath` could not be applied to the state's input.
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// An intrinsic function of a payload template failed.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
}

/// Why [`crate::StateMachine::from_json`] rejected a definition. `at` is a JSON-pointer-like
/// location in the definition, e.g. `/States/Register/Branches/0/States/SaveOrder`.
#[derive(Debug, Error)]
pub enum DefinitionError {
    #[error("the definition is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("{at}: expected a JSON object")]
    NotAnObject { at: String },
    #[error("{at}: missing required field \"{field}\"")]
    MissingField { at: String, field: &'static str },
    #[error("{at}: field \"{field}\" {reason}")]
    InvalidField {
        at: String,
        field: String,
        reason: String,
    },
    #[error("{at}: unknown field \"{field}\"")]
    UnknownField { at: String, field: String },
    #[error("{at}: {what} is not supported")]
    Unsupported { at: String, what: String },
    #[error("{at}: unknown state type \"{kind}\"")]
    UnknownStateType { at: String, kind: String },
    #[error("{at}: Map is not supported")]
    MapNotSupported { at: String },
    #[error("{at}: state name must be 1 to 80 characters long")]
    BadStateName { at: String },
    #[error("{at}: state name \"{name}\" is used more than once in the state machine")]
    DuplicateStateName { at: String, name: String },
    #[error("{at}: the state needs either \"Next\" or \"End\": true")]
    MissingTransition { at: String },
    #[error("{at}: the state has both \"Next\" and \"End\"")]
    ConflictingTransition { at: String },
    #[error("{at}: {field} names \"{target}\", which is not a state of the same States object")]
    UnknownNext {
        at: String,
        field: String,
        target: String,
    },
    #[error("{at}: StartAt names \"{start_at}\", which is not one of its States")]
    UnknownStartAt { at: String, start_at: String },
    #[error("{at}: state \"{name}\" cannot be reached from StartAt")]
    UnreachableState { at: String, name: String },
    #[error("{at}: field \"{field}\" is not a valid path")]
    BadPath {
        at: String,
        field: String,
        #[source]
        source: PathError,
    },
    #[error("{at}: field \"{field}\" is not a valid payload template")]
    BadTemplate {
        at: String,
        field: &'static str,
        #[source]
        source: TemplateError,
    },
    #[error("{at}: invalid Retry entry: {reason}")]
    BadRetry { at: String, reason: String },
    #[error("{at}: invalid Catch entry: {reason}")]
    BadCatch { at: String, reason: String },
    #[error("{at}: invalid Choice rule: {reason}")]
    BadChoiceRule { at: String, reason: String },
}

/// The error name and cause with which a state, a Parallel branch or an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[error("{error}: {cause}")]
pub struct ExecutionFailure {
    pub error: String,
    pub cause: String,
}

impl ExecutionFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// A `States.Runtime` failure: bad data at run time, never retried nor caught.
    pub(crate) fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }
}
