//! The ports of the `clients` crate on AWS, through the official SDK: the order publisher on SQS
//! ([`sqs::SqsPublisher`], feature `sqs`) and the workflow starter on Step Functions
//! ([`sfn::StepFunctionsStarter`], feature `sfn`).
//!
//! The SDK is configured as every AWS SDK is, from the environment ([`sdk_config`]): region,
//! credentials (on Lambda, the function's role) and endpoints. `AWS_ENDPOINT_URL` (or the
//! per-service `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_SFN`) points a binary at another
//! endpoint, such as the emulator's, with no change to the code.
//!
//! Errors keep the ports' verdict: throttling, a 5xx or a connection that failed is `Unavailable`
//! (a retry can help), anything else the service refused is `Rejected`.

#[cfg(feature = "sfn")]
pub mod sfn;
#[cfg(feature = "sqs")]
pub mod sqs;

/// The SDK's settings from the environment, as every AWS SDK reads them.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// Whether a failed call may succeed if made again: no answer at all (a connection, a timeout,
/// an unreadable response), a 5xx or 429, or a throttling error code. A request the SDK could not
/// build (`constructed == false`) never will.
#[cfg_attr(not(any(feature = "sqs", feature = "sfn")), allow(dead_code))]
fn is_transient(constructed: bool, status: Option<u16>, code: Option<&str>) -> bool {
    const THROTTLING: [&str; 4] = [
        "ThrottlingException",
        "Throttling",
        "RequestThrottled",
        "TooManyRequestsException",
    ];
    if !constructed {
        return false;
    }
    match status {
        None => true,
        Some(status) => {
            status >= 500 || status == 429 || code.is_some_and(|c| THROTTLING.contains(&c))
        }
    }
}

/// A failed call in one line: the service's error code and message when it answered, else what
/// the SDK knows (a connection refused, a timeout).
#[cfg_attr(not(any(feature = "sqs", feature = "sfn")), allow(dead_code))]
fn describe(code: Option<&str>, message: Option<&str>, context: &dyn std::fmt::Display) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => context.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn only_what_a_retry_can_fix_is_transient() {
        assert!(is_transient(true, None, None), "no answer");
        assert!(is_transient(true, Some(503), None));
        assert!(is_transient(true, Some(429), None));
        assert!(is_transient(true, Some(400), Some("ThrottlingException")));
        assert!(!is_transient(
            true,
            Some(400),
            Some("InvalidParameterValue")
        ));
        assert!(!is_transient(true, Some(403), Some("AccessDenied")));
        assert!(
            !is_transient(false, None, None),
            "a request that could not be built"
        );
    }
}
