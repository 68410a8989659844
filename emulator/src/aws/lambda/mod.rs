//! Process mode: each function's real binary, run as AWS Lambda runs it, so that what runs
//! locally is what deploys.
//!
//! A [`LambdaFunction`] starts instances of its executable on demand, each a process with a Lambda
//! Runtime API of its own (`RuntimeApi`) and the environment Lambda gives
//! (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
//! `AWS_REGION`, `_HANDLER`, `LAMBDA_TASK_ROOT`, `PATH`, `TZ`, test credentials,
//! `AWS_ENDPOINT_URL` pointing at the emulator) plus the function's variables, and nothing of the
//! emulator's own environment but `RUST_LOG`. As on Lambda:
//!
//! - an instance runs one invocation at a time; overlapping invocations start more instances, up
//!   to the function's concurrency (further invocations wait for a free instance, where Lambda
//!   would throttle);
//! - an instance that does not answer within the function's timeout is stopped and replaced, and
//!   the invocation fails as timed out; one that exits fails its invocation with
//!   `Runtime.ExitError` and is replaced;
//! - instances stay warm between invocations; their output is the emulator's log, line by line,
//!   under the function's name.
//!
//! `instances` keeps them; `events` presents a process function as the function model's traits, with the payloads AWS
//! sends; [`runtime_api`] is the API each instance's runtime client polls.

mod events;
mod instances;
pub mod runtime_api;

pub(crate) use events::api_gateway_event;
pub use events::{ProcessHttpFunction, sqs_event};
pub use instances::{FunctionSpec, LambdaFunction};
