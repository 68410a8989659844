//! How a run fails, the same way everywhere: [`ExecutionFailure`] is the `Error`/`Cause` pair
//! Step Functions reports for a failed state, branch or execution, and [`names`] lists the
//! reserved `States.*` error names that the interpreter raises and `Retry`/`Catch` match.
//!
//! It depends on no other module, so that everything that evaluates (templates, intrinsic
//! functions, the interpreter) can report a failure without importing the parsers'
//! errors (`error.rs`), which import them in turn.

use serde::Serialize;
use thiserror::Error;

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
