//! The charge: a valid registration's card charged through the payment provider, into the paid
//! order that is published. Kept apart from the flow because it is the one step that costs the
//! attendee money: its request id is the order id, itself derived from the `Idempotency-Key`, so
//! a retry replays the charge instead of repeating it; it keeps within the invocation's
//! deadline, leaving time to answer; and it is where the card-testing limits stand: checked
//! before the provider is called, and counted when it declines.

use std::time::Duration;

use chrono::Utc;
use clients::declines::Limit;
use clients::payments::{ChargeRequest, PaymentError};
use domain::{OrderId, OrderPlaced, PaymentReceipt, Registration, TicketRef};
use function_model::{HttpResponse, Invocation};

use crate::Payment;
use crate::responses;

/// The payment provider recorded on each order.
const PAYMENT_PROVIDER: &str = "paypal";

/// Time kept back from the invocation's deadline for answering after a charge gives up.
const ANSWER_MARGIN: Duration = Duration::from_secs(2);

impl Payment {
    /// Charges the card (PayPal's request id is the order id, itself derived from the
    /// `Idempotency-Key`, so a retry never charges twice) unless one of `limits`' subjects has had
    /// its declines: the paid order, or the answer to give. A decline counts for each subject.
    pub(crate) async fn charge(
        &self,
        invocation: &Invocation,
        order_id: OrderId,
        registration: Registration,
        limits: &[Limit],
    ) -> Result<OrderPlaced, HttpResponse> {
        let window = self.card_testing.limits.window;
        match self.declines.blocked_for(limits, window).await {
            Ok(None) => {}
            Ok(Some(wait)) => {
                tracing::warn!(
                    retry_after_s = wait.as_secs(),
                    "too many declines: refused before the payment provider"
                );
                return Err(responses::too_many_declines(wait));
            }
            Err(e) => {
                tracing::error!("{}", function_model::chain(&e));
                return Err(responses::records_unavailable());
            }
        }
        let Registration {
            ticket,
            attendee,
            card,
            billing_address,
            newsletter,
        } = registration;
        let charge = ChargeRequest {
            order_id,
            budget: invocation.remaining().saturating_sub(ANSWER_MARGIN),
            amount: ticket.price,
            description: ticket.name.clone(),
            card: &card,
            billing_address: &billing_address,
        };
        let capture = match self.gateway.charge(charge).await {
            Ok(capture) => capture,
            Err(PaymentError::Declined { code, reason }) => {
                tracing::info!(code, "card declined");
                let subjects: Vec<String> = limits.iter().map(|l| l.subject.clone()).collect();
                if let Err(e) = self.declines.record(&subjects, window).await {
                    tracing::warn!("the decline was not counted: {}", function_model::chain(&e));
                }
                return Err(responses::declined(&reason));
            }
            Err(e @ PaymentError::Unavailable(_)) => {
                tracing::warn!("{e}");
                return Err(responses::payment_unavailable());
            }
            Err(e @ PaymentError::Rejected(_)) => {
                tracing::error!("{e}");
                return Err(responses::payment_rejected());
            }
        };
        Ok(OrderPlaced {
            version: OrderPlaced::VERSION,
            order_id,
            placed_at: Utc::now(),
            ticket: TicketRef {
                id: ticket.id.clone(),
                name: ticket.name.clone(),
            },
            amount: ticket.price,
            attendee,
            newsletter,
            payment: PaymentReceipt {
                provider: PAYMENT_PROVIDER.to_owned(),
                capture_id: capture.capture_id,
            },
        })
    }
}
