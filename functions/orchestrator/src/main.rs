//! The `orchestrator` function as a standalone binary, under the host that `function_model::host`
//! detects (AWS Lambda, fed by SQS). It starts each order's workflow on Step Functions
//! (`STATE_MACHINE_ARN`) and sends a message that can never succeed to the dead-letter queue
//! (`DEAD_LETTER_QUEUE_URL`) at once, both through the AWS SDK, which honours
//! `AWS_ENDPOINT_URL`. Locally, the emulator runs the `orchestrator` library in-process, or this
//! binary under its Runtime API.

use std::process::ExitCode;
use std::sync::Arc;

use aws_clients::AwsSettings;
use aws_clients::sfn::StepFunctionsStarter;
use aws_clients::sqs::SqsDeadLetters;
use clients::config::ProcessEnv;
use function_model::QueueConsumer;

fn main() -> ExitCode {
    function_model::host::serve_queue("orchestrator", || async {
        let env = ProcessEnv;
        let aws = AwsSettings::from_env(&env)?;
        Ok(QueueConsumer {
            function: orchestrator::Orchestrator::new(Arc::new(StepFunctionsStarter::from_env(
                &aws, &env,
            )?)),
            dead_letters: Arc::new(SqsDeadLetters::from_env(&aws, &env)?),
        })
    })
}
