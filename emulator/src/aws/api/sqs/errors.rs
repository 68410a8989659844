//! SQS's errors as the emulator answers them: a queue that does not exist, an invalid parameter,
//! and the queue store's failures mapped to the error codes SQS gives for them.

use durable::QueueError;

use crate::aws::api::protocol::AwsError;

pub(super) fn queue_does_not_exist() -> AwsError {
    AwsError::sqs(
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
    )
}

pub(super) fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::sqs("InvalidParameterValue", "InvalidParameterValue", message)
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
