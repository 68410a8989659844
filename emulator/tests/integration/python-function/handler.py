"""A Python function run by AWS's own runtime client (awslambdaric), as Lambda runs one: the
emulator's tests invoke it through the Lambda API to check what a runtime other than Rust's
`lambda_runtime` receives (its Handler, its context) and how its errors come back."""


class Refused(Exception):
    """A typed error: Lambda reports its class name as the errorType."""


def handle(event, context):
    if event.get("refuse"):
        raise Refused("refused on purpose")
    return {
        "remainingMs": context.get_remaining_time_in_millis(),
        "functionArn": context.invoked_function_arn,
        "requestId": context.aws_request_id,
        "memoryLimitMb": context.memory_limit_in_mb,
        "echo": event,
    }
