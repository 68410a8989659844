//! An Amazon States Language (ASL) parser and interpreter with AWS Step Functions' semantics,
//! so that the registration workflow can run locally (the emulator) and elsewhere (an
//! orchestrator) from the same definition that is deployed to Step Functions.
//!
//! ```text
//! StateMachine::from_json(definition)   parse + validate once (DefinitionError says where)
//! machine.task_resources()               every Task Resource, to check they are all known
//! machine.run(name, input, &invoker, &history).await
//!     Task Resources are run by your TaskInvoker; History fills up as the run proceeds
//! ```
//!
//! Supported: Task, Parallel, Pass, Choice, Wait, Succeed and Fail states (not Map, not
//! JSONata), JSONPath input/output processing, payload templates with `$$` context paths and
//! a few intrinsic functions, Retry (backoff, `MaxDelaySeconds`, jitter) and Catch, task and
//! execution timeouts.
//!
//! Layout, one job per file:
//! - `definition.rs`: the typed state machine, parsing and validation;
//! - `path.rs`: reference paths (reading) and `ResultPath` (writing);
//! - `template.rs` and `intrinsic.rs`: `Parameters`/`ResultSelector` templates and intrinsic
//!   functions;
//! - `choice.rs`: Choice rules; `handling.rs`: Retry and Catch;
//! - `context.rs`: the `$$` context object;
//! - `interpreter.rs`: running a machine; `invoker.rs`: the task boundary;
//!   `history.rs`: execution events;
//! - `failure.rs`: how a run fails, and the reserved error names; `error.rs`: why a definition
//!   was rejected.
//!
//! Modules depend one way, from the bottom up: `context`, `failure` (nothing); `path`;
//! `intrinsic`; `template`; `error`; `choice`, `handling`; `definition`; `history`, `invoker`;
//! `interpreter`. A module imports only modules before it in that list.

mod choice;
mod context;
mod definition;
mod error;
mod failure;
mod handling;
mod history;
mod interpreter;
mod intrinsic;
mod invoker;
mod path;
mod template;

pub use definition::StateMachine;
pub use error::DefinitionError;
pub use failure::{ExecutionFailure, names};
pub use history::{EventKind, History, HistoryEvent};
pub use intrinsic::IntrinsicError;
pub use invoker::{TaskFailure, TaskInvoker, TaskRequest};
pub use path::PathError;
pub use template::TemplateError;
