//! The error every function returns: a stable type name, a message safe to show, whether a retry
//! can help, and the source chain for the logs.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// A function's failure.
///
/// `error_type` is a stable name (`InvalidInput`, `ProviderUnavailable`, `StoreUnavailable`, ...)
/// that a workflow's `Retry`/`Catch` matches on. `message` is written for operators and must not
/// hold secrets; the `source` chain goes to logs only.
#[derive(Debug)]
pub struct FunctionError {
    error_type: Cow<'static, str>,
    message: String,
    retryable: bool,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl FunctionError {
    /// A failure that may pass if tried again later (a provider or store is down, a timeout).
    pub fn retryable(error_type: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
            retryable: true,
            source: None,
        }
    }

    /// A failure that will happen again on every retry (bad input, a rejected request).
    pub fn terminal(error_type: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
            retryable: false,
            source: None,
        }
    }

    /// Keeps the underlying error for the logs.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The message followed by each source, for a log line: `message: cause: cause`.
    pub fn chain(&self) -> String {
        let mut out = self.message.clone();
        let mut next = self
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static));
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl StdError for FunctionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Inner;
    impl fmt::Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connection refused")
        }
    }
    impl StdError for Inner {}

    #[test]
    fn keeps_type_retryability_and_chain() {
        let e = FunctionError::retryable("ProviderUnavailable", "SendGrid did not answer")
            .with_source(Inner);
        assert_eq!(e.error_type(), "ProviderUnavailable");
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "ProviderUnavailable: SendGrid did not answer"
        );
        assert_eq!(e.chain(), "SendGrid did not answer: connection refused");
        assert!(!FunctionError::terminal("InvalidInput", "bad").is_retryable());
    }
}
