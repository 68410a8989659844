//! SQS's errors as the emulator answers them: a queue that does not exist, an invalid or missing
//! parameter, and the queue store's failures mapped to the error codes SQS gives for them.
//!
//! `__type` is the error's name without AWS's namespace (AWS writes `com.amazonaws.sqs#…` for the
//! model's shapes, and `com.amazon.coral.service#InvalidParameterValueException` for an invalid
//! parameter, which is not a shape of the model); the SDKs strip the namespace, and they match on
//! the `x-amzn-query-error` code first.

use durable::QueueError;

use crate::aws::api::protocol::AwsError;

pub(super) fn queue_does_not_exist() -> AwsError {
    AwsError::sqs(
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
    )
}

/// `InvalidParameterValue`, the code of most of SQS's refusals of a value out of its limits.
pub(super) fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::sqs(
        "InvalidParameterValueException",
        "InvalidParameterValue",
        message,
    )
}

/// `MissingParameter`: a required parameter absent or empty. Its `__type` is named as
/// [`invalid_parameter`]'s is (AWS's own was not observed; the SDKs read the header's code).
pub(super) fn missing_parameter(parameter: &str) -> AwsError {
    AwsError::sqs(
        "MissingParameterException",
        "MissingParameter",
        format!("The request must contain the parameter {parameter}."),
    )
}

pub(super) fn internal(e: QueueError) -> AwsError {
    match e {
        QueueError::ReceiptHandleIsInvalid(handle) => AwsError::sqs(
            "ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        ),
        QueueError::MessageNotInflight(_) => AwsError::sqs(
            "MessageNotInflight",
            "AWS.SimpleQueueService.MessageNotInflight",
            "The message referred to isn't in flight.",
        ),
        other => AwsError::internal(other),
    }
}
