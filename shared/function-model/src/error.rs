//! The error every function returns: one of the stable error types, a message safe to show, and
//! the source chain for the logs.
//!
//! The error types are one list ([`ErrorType`]): their names are what a workflow's `Retry` and
//! `Catch` match (as Step Functions matches a Lambda's `errorType`), and each says whether a retry
//! can help. The emulator's tests hold the workflow file to this list (a name in `ErrorEquals`
//! that no task raises, or a retryable error a task raises that its state does not retry, fails).

use std::error::Error as StdError;
use std::fmt;

macro_rules! error_types {
    ($($(#[$doc:meta])* $name:ident => $retryable:expr,)*) => {
        /// Every error type a function raises.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorType {
            $($(#[$doc])* $name,)*
        }

        impl ErrorType {
            pub const ALL: &'static [ErrorType] = &[$(ErrorType::$name,)*];

            /// The stable name: the `errorType` a workflow's `Retry` and `Catch` match.
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorType::$name => stringify!($name),)*
                }
            }

            /// Whether the same call may succeed later (a provider or store was down).
            pub fn is_retryable(self) -> bool {
                match self {
                    $(ErrorType::$name => $retryable,)*
                }
            }
        }
    };
}

error_types! {
    /// A task's input is not what the task takes (not an `OrderPlaced`).
    InvalidInput => false,
    /// A queue message is not what the function takes; it will never succeed.
    InvalidMessage => false,
    /// The order store could not be reached.
    StoreUnavailable => true,
    /// The order store refused the order.
    StoreError => false,
    /// The confirmation email did not render.
    TemplateError => false,
    /// An email or mailing-list provider could not be reached, or throttled.
    ProviderUnavailable => true,
    /// The email provider refused the message.
    EmailRejected => false,
    /// The mailing-list provider refused the member.
    MemberRejected => false,
    /// The workflow service could not be reached.
    WorkflowUnavailable => true,
    /// The workflow service refused the start.
    WorkflowRejected => false,
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A function's failure: its [`ErrorType`], a message written for operators (never secrets),
/// and the source chain, for the logs only.
#[derive(Debug)]
pub struct FunctionError {
    error_type: ErrorType,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl FunctionError {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps the underlying error for the logs.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn error_type(&self) -> ErrorType {
        self.error_type
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn is_retryable(&self) -> bool {
        self.error_type.is_retryable()
    }

    /// The message followed by each source, for a log line: `message: cause: cause`.
    pub fn chain(&self) -> String {
        match self.source() {
            Some(source) => format!("{}: {}", self.message, chain(source)),
            None => self.message.clone(),
        }
    }
}

/// An error and each of its sources, for a log line: `error: cause: cause`. A source that says
/// what the one before it said (the AWS SDK's errors wrap their modelled error that way) is
/// left out.
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut last = out.clone();
    let mut next = error.source();
    while let Some(e) = next {
        let message = e.to_string();
        if message != last {
            out.push_str(": ");
            out.push_str(&message);
            last = message;
        }
        next = e.source();
    }
    out
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

    /// Says what its source says, as the AWS SDK's operation errors do.
    #[derive(Debug)]
    struct Repeating(Inner);
    impl fmt::Display for Repeating {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fmt(f)
        }
    }
    impl StdError for Repeating {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_chain_says_each_cause_once() {
        let e = FunctionError::new(ErrorType::ProviderUnavailable, "SendGrid did not answer")
            .with_source(Repeating(Inner));
        assert_eq!(e.chain(), "SendGrid did not answer: connection refused");
    }

    #[test]
    fn keeps_type_retryability_and_chain() {
        let e = FunctionError::new(ErrorType::ProviderUnavailable, "SendGrid did not answer")
            .with_source(Inner);
        assert_eq!(e.error_type().name(), "ProviderUnavailable");
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "ProviderUnavailable: SendGrid did not answer"
        );
        assert_eq!(e.chain(), "SendGrid did not answer: connection refused");
        assert!(!FunctionError::new(ErrorType::InvalidInput, "bad").is_retryable());
    }

    #[test]
    fn names_are_unique() {
        let names: std::collections::BTreeSet<_> =
            ErrorType::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), ErrorType::ALL.len());
    }
}
