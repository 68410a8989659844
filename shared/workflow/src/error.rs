//! Why a definition was rejected: [`DefinitionError`] says precisely where and why (with its
//! source chain, down to the [`PathError`] or [`TemplateError`] of the field at fault).
//!
//! It sits above the parsers whose errors it carries (`path.rs`, `template.rs`), so it imports
//! them and nothing imports it but the parsers of states (`choice.rs`, `handling.rs`,
//! `definition.rs`). The run-time failure and the reserved error names, which the evaluators
//! below it need, are in `failure.rs`.

use thiserror::Error;

use crate::path::PathError;
use crate::template::TemplateError;

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
