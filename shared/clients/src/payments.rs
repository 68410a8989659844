//! The payment gateway port: charge a card once per request id.

use async_trait::async_trait;
use domain::{BillingAddress, Card, Money, OrderId};

/// One charge. The order id makes it idempotent: the same order is never charged twice, and a
/// retry returns the first outcome (the order id is PayPal's `PayPal-Request-Id`).
#[derive(Debug)]
pub struct ChargeRequest<'a> {
    pub order_id: OrderId,
    /// How long the charge may take, retries included: what is left of the caller's deadline.
    /// The gateway's own limit applies too, whichever is shorter.
    pub budget: std::time::Duration,
    pub amount: Money,
    pub description: String,
    pub card: &'a Card,
    pub billing_address: &'a BillingAddress,
}

/// A completed capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub capture_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The card was refused; `reason` is written for the attendee, `code` is the provider's issue.
    #[error("card declined ({code}): {reason}")]
    Declined { code: String, reason: String },
    /// The provider could not be reached or is failing; nothing may have been charged, and a retry
    /// with the same request id is safe.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request itself: a bug on our side.
    #[error("payment request rejected by the provider: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait PaymentGateway: Send + Sync {
    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Capture, PaymentError>;
}
