//! The workflow starter on AWS Step Functions: `StartExecution` of the registration state
//! machine, named by the order id. A name is used once per state machine, so a second start of the
//! same order (a redelivered message) is `ExecutionAlreadyExists`, which is
//! [`StartOutcome::AlreadyStarted`], not a failure.

use async_trait::async_trait;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use clients::config::{ConfigError, Env, required};
use clients::workflow::{StartError, StartOutcome, WorkflowStarter};

use crate::AwsSettings;

/// Starts executions of one state machine.
#[derive(Debug, Clone)]
pub struct StepFunctionsStarter {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctionsStarter {
    pub fn new(aws: &AwsSettings, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sfn::Client::from_conf(crate::service_config!(aws_sdk_sfn, "SFN", aws)),
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The state machine named by `STATE_MACHINE_ARN` (set by `template.yaml`).
    pub fn from_env(aws: &AwsSettings, env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self::new(aws, required(env, "STATE_MACHINE_ARN")?))
    }
}

#[async_trait]
impl WorkflowStarter for StepFunctionsStarter {
    async fn start(
        &self,
        execution_name: &str,
        input: serde_json::Value,
    ) -> Result<StartOutcome, StartError> {
        let started = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(execution_name)
            .input(input.to_string())
            .send()
            .await;
        let e = match started {
            Ok(_) => return Ok(StartOutcome::Started),
            Err(e) => e,
        };
        if e.as_service_error()
            .is_some_and(|e| e.is_execution_already_exists())
        {
            return Ok(StartOutcome::AlreadyStarted);
        }
        let transient = crate::is_transient(
            !matches!(e, SdkError::ConstructionFailure(_)),
            e.raw_response().map(|r| r.status().as_u16()),
            e.code(),
        );
        let error = crate::CallError::new("Step Functions StartExecution", e);
        Err(if transient {
            StartError::Unavailable(error.into())
        } else {
            StartError::Rejected(error.into())
        })
    }
}
