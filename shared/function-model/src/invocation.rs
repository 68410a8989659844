//! What the host tells a function about one invocation: Lambda's context (the
//! `Lambda-Runtime-*` headers), an Azure invocation's id and metadata, or the emulator's own.
//!
//! A function uses it to stay within its deadline (the PayPal client's retry budget follows it),
//! to name the invocation in its logs ([`Invocation::span`]), and to pass the trace on to what it
//! starts (the trace header travels with `OrderPlaced` as a message attribute).

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The host's id for this invocation (`Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// When the host stops the invocation.
    pub deadline: Instant,
    pub function_name: String,
    /// The cloud's id of the function: its ARN on AWS (`Lambda-Runtime-Invoked-Function-Arn`) or
    /// in the emulator, `{app}/{function}` on Azure.
    pub function_id: String,
    /// The trace header (`Lambda-Runtime-Trace-Id`, an `X-Amzn-Trace-Id` value), when traced.
    pub trace_id: Option<String>,
}

impl Invocation {
    /// An invocation by the emulator: a fresh request id, the deadline `timeout` from now, and
    /// the ARN the emulator gives `function_name` in its account and region.
    pub fn local(function_name: &str, timeout: Duration, trace_id: Option<String>) -> Self {
        Self {
            request_id: uuid::Uuid::new_v4().to_string(),
            deadline: Instant::now() + timeout,
            function_name: function_name.to_owned(),
            function_id: local_function_arn(function_name),
            trace_id,
        }
    }

    /// The time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// A span naming the invocation: every log line within it carries the request id, named
    /// `requestId` as Lambda's JSON log lines name it (CloudWatch Logs Insights queries it; the
    /// emulator attributes a line to its invocation by it).
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "invocation",
            function = %self.function_name,
            requestId = %self.request_id,
        )
    }
}

/// The region of every local ARN and URL (the emulator's, and what a function is told it runs in
/// when no host says otherwise).
pub const LOCAL_REGION: &str = "us-east-1";

/// The account of every local ARN and URL.
pub const LOCAL_ACCOUNT: &str = "000000000000";

/// The ARN of a function in the emulator's account and region (what `template.yaml`'s
/// `!GetAtt Function.Arn` resolves to locally).
pub fn local_function_arn(function_name: &str) -> String {
    format!("arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{function_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_down_to_the_deadline() {
        let invocation = Invocation::local("payment", Duration::from_secs(29), None);
        assert_eq!(invocation.remaining(), Duration::from_secs(29));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(invocation.remaining(), Duration::ZERO);
        assert_eq!(
            invocation.function_id,
            "arn:aws:lambda:us-east-1:000000000000:function:payment"
        );
    }
}
