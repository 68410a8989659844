//! The emulator's integration tests, one test binary (one link of the emulator and the SDKs):
//! the template's topology ([`template`]), the official AWS SDK clients against the emulator's
//! endpoints ([`aws_sdk`]), the Lambda Runtime API driven as a runtime drives it
//! ([`runtime_api`]), process mode's instances with a custom runtime ([`lambda_instances`]), the
//! threads' priorities ([`priorities`]), and the real binary killed and restarted mid-registration
//! ([`restart`]).

mod aws_sdk;
mod binary;
mod invoke;
mod lambda_instances;
mod lambda_limits;
mod priorities;
mod python_runtime;
mod reload;
mod restart;
mod runtime_api;
mod served_operations;
mod sfn_api;
mod sqs_limits;
mod support;
mod template;
