//! The one home of the local cloud's names: its region and account, and the ARNs and URLs built
//! from them, as AWS spells them. The function ARN lives in `function_model` (the functions read
//! it too); everything else the emulator names is here.

pub use function_model::{LOCAL_ACCOUNT as ACCOUNT, LOCAL_REGION as REGION, local_function_arn};

/// The ARN of a local state machine.
pub fn state_machine_arn(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}")
}

/// The ARN of an execution of the state machine `machine`.
pub fn execution_arn(machine: &str, name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}")
}

/// A queue's ARN.
pub fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

/// A queue's URL on the emulator at `endpoint` (`http://127.0.0.1:3000`): what `GetQueueUrl`
/// answers and what a template's `!Ref` of the queue gives.
pub fn queue_url(endpoint: &str, name: &str) -> String {
    format!("{endpoint}/{ACCOUNT}/{name}")
}
