//! PayPal's JSON: the create-order body the client sends, and the parts of PayPal's answers it
//! reads (orders, captures, error documents, access tokens). Everything else PayPal sends is
//! ignored, so new fields in its answers break nothing.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::payments::ChargeRequest;

/// PayPal's limit on a purchase unit's `description`.
const DESCRIPTION_MAX_CHARS: usize = 127;

/// The body of `POST /v2/checkout/orders`: one purchase unit, paid by card and captured at once.
///
/// It holds the card number and security code, so neither it nor its parts implement `Debug`:
/// it cannot be logged by accident.
#[derive(Serialize)]
pub(super) struct CreateOrder<'a> {
    intent: &'static str,
    purchase_units: [PurchaseUnit<'a>; 1],
    payment_source: PaymentSource<'a>,
}

#[derive(Serialize)]
struct PurchaseUnit<'a> {
    reference_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// Shows in PayPal's reports, to reconcile a transaction with its order.
    custom_id: String,
    amount: Amount,
}

#[derive(Serialize)]
struct Amount {
    currency_code: &'static str,
    value: String,
}

#[derive(Serialize)]
struct PaymentSource<'a> {
    card: CardSource<'a>,
}

#[derive(Serialize)]
struct CardSource<'a> {
    name: &'a str,
    number: &'a str,
    expiry: String,
    security_code: &'a str,
    billing_address: BillingAddress<'a>,
}

#[derive(Serialize)]
struct BillingAddress<'a> {
    address_line_1: &'a str,
    /// The city.
    admin_area_2: &'a str,
    postal_code: &'a str,
    country_code: &'a str,
}

impl<'a> CreateOrder<'a> {
    pub(super) fn new(request: &'a ChargeRequest<'a>) -> Self {
        let (card, address) = (request.card, request.billing_address);
        let description = request.description.trim();
        let description = match description.char_indices().nth(DESCRIPTION_MAX_CHARS) {
            Some((end, _)) => &description[..end],
            None => description,
        };
        Self {
            intent: "CAPTURE",
            purchase_units: [PurchaseUnit {
                reference_id: request.order_id.to_string(),
                description: Some(description).filter(|d| !d.is_empty()),
                custom_id: request.order_id.to_string(),
                amount: Amount {
                    currency_code: request.amount.currency().code(),
                    value: request.amount.value(),
                },
            }],
            payment_source: PaymentSource {
                card: CardSource {
                    name: card.name(),
                    number: card.number(),
                    expiry: card.expiry().as_year_month(),
                    security_code: card.security_code(),
                    billing_address: BillingAddress {
                        address_line_1: &address.line1,
                        admin_area_2: &address.city,
                        postal_code: &address.postal_code,
                        country_code: address.country_code.as_str(),
                    },
                },
            },
        }
    }
}

/// An order, as `Prefer: return=representation` returns it from create and capture.
#[derive(Debug, Deserialize)]
pub(super) struct Order {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub purchase_units: Vec<PurchaseUnitReply>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PurchaseUnitReply {
    pub payments: Option<Payments>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Payments {
    #[serde(default)]
    pub captures: Vec<CaptureReply>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CaptureReply {
    pub id: String,
    pub status: String,
    pub status_details: Option<StatusDetails>,
    pub processor_response: Option<ProcessorResponse>,
}

#[derive(Debug, Deserialize)]
pub(super) struct StatusDetails {
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ProcessorResponse {
    pub response_code: Option<String>,
}

impl Order {
    /// The capture of the (only) purchase unit, once there is one.
    pub(super) fn capture(&self) -> Option<&CaptureReply> {
        self.purchase_units
            .first()?
            .payments
            .as_ref()?
            .captures
            .first()
    }
}

/// PayPal's error document, `{name, message, debug_id, details: [{issue, field, value, ...}]}`, or
/// the OAuth one, `{error, error_description}`. Every field is optional, so any JSON object reads.
///
/// `details[].value` is not read: it can echo what was sent, the card number included.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorDocument {
    #[serde(alias = "error")]
    pub name: Option<String>,
    pub debug_id: Option<String>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorDetail {
    pub issue: Option<String>,
    pub field: Option<String>,
}

impl ErrorDocument {
    pub(super) fn first_issue(&self) -> Option<&str> {
        self.details
            .iter()
            .find_map(|detail| detail.issue.as_deref())
    }
}

/// `UNPROCESSABLE_ENTITY (debug_id 8f3c): INSTRUMENT_DECLINED, INVALID_PARAMETER_VALUE at /x`.
impl fmt::Display for ErrorDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name.as_deref().unwrap_or("no error name"))?;
        if let Some(debug_id) = &self.debug_id {
            write!(f, " (debug_id {debug_id})")?;
        }
        let issues = self.details.iter().filter_map(|detail| {
            let issue = detail.issue.as_deref()?;
            Some(match &detail.field {
                Some(field) => format!("{issue} at {field}"),
                None => issue.to_owned(),
            })
        });
        let issues: Vec<String> = issues.collect();
        if !issues.is_empty() {
            write!(f, ": {}", issues.join(", "))?;
        }
        Ok(())
    }
}

/// The answer of `POST /v1/oauth2/token`. No `Debug`: it holds the token.
#[derive(Deserialize)]
pub(super) struct AccessToken {
    pub access_token: String,
    /// Seconds.
    pub expires_in: u64,
}
