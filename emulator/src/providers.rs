//! Local stand-ins for PayPal, SendGrid and Mailchimp, behind the functions' ports, so the whole
//! flow runs on a laptop. They behave as the sandboxes do where it matters to the flow:
//! - PayPal: replays by request id (`PayPal-Request-Id`), and declines on the sandbox's
//!   documented rejection triggers in the card name (`CCREJECT-REFUSED`, `CCREJECT-IF`, ...);
//! - SendGrid: accepts and keeps each email (the inspector's outbox);
//! - Mailchimp: upserts members by lower-cased email (the inspector's audience).
//!
//! Each consults the fault injector first, so a provider can be made to fail, hang or be slow.
//! What they keep is what the inspector shows: never a card number (only brand and last digits).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clients::audience::{Audience, AudienceError, Member};
use clients::email::{EmailSender, OutgoingEmail, SendError};
use clients::payments::{Capture, ChargeRequest, PaymentError, PaymentGateway};
use domain::Money;
use serde::Serialize;

use crate::faults::{Fault, Faults};

/// How long a provider's client waits before giving up (what a `timeout` fault ends in).
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Applies the provider's fault, if any: `Err` with the failure description when it must fail.
async fn suffer(faults: &Faults, provider: &str) -> Result<(), String> {
    match faults.next(provider) {
        None => Ok(()),
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(())
        }
        Some(Fault::Fail { .. }) => Err(format!(
            "{provider} answered 503 Service Unavailable (injected fault)"
        )),
        Some(Fault::Timeout) => {
            tokio::time::sleep(PROVIDER_TIMEOUT).await;
            Err(format!(
                "{provider} did not answer within {PROVIDER_TIMEOUT:?} (injected fault)"
            ))
        }
    }
}

/// The card-name rejection triggers of PayPal's sandbox, with the processor response code and
/// what the attendee is told.
const REJECTION_TRIGGERS: [(&str, &str, &str); 9] = [
    (
        "CCREJECT-REFUSED",
        "0500 DO_NOT_HONOR",
        "Your bank refused the payment. Please use another card or contact your bank.",
    ),
    (
        "CCREJECT-SF",
        "9500 SUSPECTED_FRAUD",
        "The payment was refused. Please use another card.",
    ),
    (
        "CCREJECT-EC",
        "5400 EXPIRED_CARD",
        "The card has expired. Please use another card.",
    ),
    (
        "CCREJECT-IRC",
        "5180 INVALID_OR_RESTRICTED_CARD",
        "This card cannot be used. Please use another card.",
    ),
    (
        "CCREJECT-IF",
        "5120 INSUFFICIENT_FUNDS",
        "The card has insufficient funds. Please use another card.",
    ),
    (
        "CCREJECT-LS",
        "9520 LOST_OR_STOLEN",
        "This card cannot be used. Please use another card.",
    ),
    (
        "CCREJECT-IA",
        "1330 INVALID_ACCOUNT",
        "The card is not valid. Please check the number or use another card.",
    ),
    (
        "CCREJECT-BANK_ERROR",
        "5100 GENERIC_DECLINE",
        "Your bank declined the payment. Please use another card or contact your bank.",
    ),
    (
        "CCREJECT-CVV_F",
        "00N7 CVV2_FAILURE_POSSIBLE_RETRY_WITH_CVV",
        "The security code did not match. Please check it and try again.",
    ),
];

/// A completed capture, as the inspector shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRecord {
    pub capture_id: String,
    /// The `PayPal-Request-Id` (derived from the registration's `Idempotency-Key`).
    pub request_id: String,
    pub order_id: String,
    pub amount: Money,
    pub description: String,
    pub card: CardSummary,
    pub captured_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardSummary {
    pub brand: &'static str,
    pub last_digits: String,
}

#[derive(Debug, Default)]
pub struct LocalPayPal {
    faults: Arc<Faults>,
    outcomes: Mutex<HashMap<String, Result<Capture, PaymentError>>>,
    captures: Mutex<Vec<CaptureRecord>>,
}

impl LocalPayPal {
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }

    pub fn captures(&self) -> Vec<CaptureRecord> {
        lock(&self.captures).clone()
    }
}

#[async_trait]
impl PaymentGateway for LocalPayPal {
    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Capture, PaymentError> {
        suffer(&self.faults, "paypal")
            .await
            .map_err(PaymentError::Unavailable)?;
        let mut outcomes = lock(&self.outcomes);
        if let Some(outcome) = outcomes.get(&request.request_id) {
            return outcome.clone();
        }
        let outcome = match REJECTION_TRIGGERS
            .iter()
            .find(|(trigger, ..)| request.card.name() == *trigger)
        {
            Some((_, code, reason)) => Err(PaymentError::Declined {
                code: (*code).to_owned(),
                reason: (*reason).to_owned(),
            }),
            None => {
                let capture_id = uuid::Uuid::new_v4().simple().to_string()[..17].to_uppercase();
                lock(&self.captures).push(CaptureRecord {
                    capture_id: capture_id.clone(),
                    request_id: request.request_id.clone(),
                    order_id: request.order_id.to_string(),
                    amount: request.amount,
                    description: request.description.clone(),
                    card: CardSummary {
                        brand: request.card.brand(),
                        last_digits: request.card.last_digits().to_owned(),
                    },
                    captured_at: Utc::now(),
                });
                Ok(Capture { capture_id })
            }
        };
        outcomes.insert(request.request_id, outcome.clone());
        outcome
    }
}

/// An email as the inspector shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub order_id: String,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct LocalSendGrid {
    faults: Arc<Faults>,
    outbox: Mutex<Vec<SentEmail>>,
}

impl LocalSendGrid {
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }

    pub fn outbox(&self) -> Vec<SentEmail> {
        lock(&self.outbox).clone()
    }
}

#[async_trait]
impl EmailSender for LocalSendGrid {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), SendError> {
        suffer(&self.faults, "sendgrid")
            .await
            .map_err(SendError::Unavailable)?;
        lock(&self.outbox).push(SentEmail {
            to: vec![email.to.to_string()],
            subject: email.subject.clone(),
            html: email.html.clone(),
            text: email.text.clone(),
            order_id: email.order_id.to_string(),
            sent_at: Utc::now(),
        });
        Ok(())
    }
}

/// An audience member as the inspector shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AudienceMember {
    pub email_address: String,
    pub first_name: String,
    pub last_name: String,
    pub status: &'static str,
    pub last_changed: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct LocalMailchimp {
    faults: Arc<Faults>,
    members: Mutex<BTreeMap<String, AudienceMember>>,
}

impl LocalMailchimp {
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }

    pub fn members(&self) -> Vec<AudienceMember> {
        lock(&self.members).values().cloned().collect()
    }
}

#[async_trait]
impl Audience for LocalMailchimp {
    async fn upsert_member(&self, member: &Member) -> Result<(), AudienceError> {
        suffer(&self.faults, "mailchimp")
            .await
            .map_err(AudienceError::Unavailable)?;
        lock(&self.members).insert(
            member.email.normalized(),
            AudienceMember {
                email_address: member.email.to_string(),
                first_name: member.first_name.to_string(),
                last_name: member.last_name.to_string(),
                status: "subscribed",
                last_changed: Utc::now(),
            },
        );
        Ok(())
    }
}
