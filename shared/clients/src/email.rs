//! The email sender port.

use async_trait::async_trait;
use domain::{EmailAddress, OrderId};

/// A rendered email: both an HTML and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: EmailAddress,
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Travels with the email (SendGrid `custom_args`) so a send can be traced to its order.
    pub order_id: OrderId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("email provider unavailable: {0}")]
    Unavailable(String),
    #[error("email rejected by the provider: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait EmailSender: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), SendError>;
}
