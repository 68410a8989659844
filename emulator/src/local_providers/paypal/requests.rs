//! What PayPal checks in a request before it does anything: the schema (`order_request` in
//! `checkout_orders_v2.json`, derived into `shared/clients/schemas` and walked by
//! [`crate::local_providers::schema`]: `400 INVALID_REQUEST`, every violation listed) and the business
//! rules (`422 UNPROCESSABLE_ENTITY`: currency, decimals, card brand, expiry).

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use super::errors::{Detail, Issue, malformed_json};
use crate::local_providers::schema::{Rule, Schema, Violation};

/// The currencies PayPal's REST API takes, with the decimals it allows (HUF, JPY and TWD take
/// none).
const CURRENCIES: [(&str, usize); 25] = [
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 0),
    ("ILS", 2),
    ("JPY", 0),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("RUB", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TWD", 0),
    ("USD", 2),
];

/// Request fields whose values never appear in an error detail, nor do the values of the fields
/// that hold them (a `payment_source` sent as a string).
const SECRET_FIELDS: [&str; 2] = [
    "/payment_source/card/number",
    "/payment_source/card/security_code",
];

/// PayPal's schemas: of a create-order request, and of the `payment_source` a capture may bring.
struct Schemas {
    order: Schema,
    payment_source: Schema,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
    let order: Value = serde_json::from_str(include_str!(
        "../../../../shared/clients/schemas/paypal-order-request.schema.json"
    ))
    .expect("the derived schema is JSON");
    let order = Schema::new(order).expect("the derived schema uses the keywords the walker knows");
    let payment_source = order
        .part("/properties/payment_source")
        .expect("the schema describes payment_source");
    Schemas {
        order,
        payment_source,
    }
});

/// An order request that passed PayPal's schema.
pub(super) struct OrderRequest<'a> {
    pub(super) intent: &'a str,
    pub(super) units: Vec<UnitRequest<'a>>,
    pub(super) card: Option<CardRequest<'a>>,
}

pub(super) struct UnitRequest<'a> {
    pub(super) reference_id: &'a str,
    pub(super) description: Option<&'a str>,
    pub(super) custom_id: Option<&'a str>,
    pub(super) invoice_id: Option<&'a str>,
    pub(super) currency: &'a str,
    pub(super) value: &'a str,
}

/// A card, well formed, with the `PayPal-Request-Id` it must come with.
pub(super) struct CardRequest<'a> {
    pub(super) name: Option<&'a str>,
    pub(super) number: &'a str,
    pub(super) expiry: &'a str,
    pub(super) request_id: &'a str,
}

/// A card PayPal will charge: what is kept of it, and the request id of the charge.
pub(super) struct Payment<'a> {
    pub(super) name: Option<&'a str>,
    pub(super) brand: &'static str,
    pub(super) last_digits: &'a str,
    pub(super) expiry: &'a str,
    pub(super) request_id: &'a str,
}

/// Checks an order request against PayPal's schema (`order_request`): every violation, as `400
/// INVALID_REQUEST` details.
pub(super) fn check_order<'a>(
    body: &'a Value,
    request_id: Option<&'a str>,
) -> Result<OrderRequest<'a>, Vec<Detail>> {
    if !body.is_object() {
        return Err(vec![malformed_json()]);
    }
    let mut details = violations("", SCHEMAS.order.violations(body));
    let card = body
        .pointer("/payment_source/card")
        .and_then(|card| card_request(card, request_id, &mut details));
    if !details.is_empty() {
        return Err(details);
    }
    // The schema held: the intent and each unit's amount are there, as strings.
    let text = |value: &'a Value| value.as_str().unwrap_or_default();
    let units = body["purchase_units"].as_array().into_iter().flatten();
    Ok(OrderRequest {
        intent: text(&body["intent"]),
        units: units
            .map(|unit| UnitRequest {
                reference_id: unit["reference_id"].as_str().unwrap_or("default"),
                description: unit["description"].as_str(),
                custom_id: unit["custom_id"].as_str(),
                invoice_id: unit["invoice_id"].as_str(),
                currency: text(&unit["amount"]["currency_code"]),
                value: text(&unit["amount"]["value"]),
            })
            .collect(),
        card,
    })
}

/// Checks a capture request's body (nothing, or a `payment_source`) against PayPal's schema.
pub(super) fn check_capture<'a>(
    body: &'a Value,
    request_id: Option<&'a str>,
) -> Result<Option<CardRequest<'a>>, Vec<Detail>> {
    let Some(source) = body
        .get("payment_source")
        .filter(|source| !source.is_null())
    else {
        return Ok(None);
    };
    let mut details = violations("/payment_source", SCHEMAS.payment_source.violations(source));
    let card = source
        .get("card")
        .and_then(|card| card_request(card, request_id, &mut details));
    if details.is_empty() {
        Ok(card)
    } else {
        Err(details)
    }
}

/// What PayPal needs of a card beyond its schema: a number and an expiry to charge, and a
/// `PayPal-Request-Id` with it (mandatory when a request carries a card).
fn card_request<'a>(
    card: &'a Value,
    request_id: Option<&'a str>,
    details: &mut Vec<Detail>,
) -> Option<CardRequest<'a>> {
    let card = card.as_object()?;
    for field in ["number", "expiry"] {
        if card.get(field).is_none_or(Value::is_null) {
            details.push(Detail::new(
                Issue::MissingRequiredParameter,
                Some(format!("/payment_source/card/{field}")),
                None,
                Some("body"),
            ));
        }
    }
    let Some(request_id) = request_id else {
        details.push(Detail::new(
            Issue::PayPalRequestIdRequired,
            Some("PayPal-Request-Id".into()),
            None,
            None,
        ));
        return None;
    };
    Some(CardRequest {
        name: card.get("name").and_then(Value::as_str),
        number: card.get("number")?.as_str()?,
        expiry: card.get("expiry")?.as_str()?,
        request_id,
    })
}

/// Schema violations as PayPal's `400` details, at `prefix` + the violation's place. Values are
/// echoed when they are text or numbers and hold no card data.
fn violations(prefix: &str, violations: Vec<Violation<'_>>) -> Vec<Detail> {
    violations
        .into_iter()
        .map(|violation| {
            let field = format!("{prefix}{}", violation.at);
            let issue = match violation.rule {
                Rule::Missing => Issue::MissingRequiredParameter,
                Rule::Type | Rule::Pattern => Issue::InvalidParameterSyntax,
                Rule::Length => Issue::InvalidStringLength,
                Rule::Enum => Issue::InvalidParameterValue,
                Rule::TooFewItems => Issue::InvalidArrayMinItems,
                Rule::TooManyItems => Issue::InvalidArrayMaxItems,
            };
            let secret = SECRET_FIELDS.iter().any(|secret| {
                secret
                    .strip_prefix(field.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            });
            let value = match violation.value {
                _ if secret || matches!(violation.rule, Rule::TooFewItems | Rule::TooManyItems) => {
                    None
                }
                Some(Value::String(text)) => Some(text.clone()),
                Some(scalar @ (Value::Number(_) | Value::Bool(_))) => Some(scalar.to_string()),
                _ => None,
            };
            Detail::new(issue, Some(field), value, Some("body"))
        })
        .collect()
}

/// PayPal's business rules on a well-formed order (`422 UNPROCESSABLE_ENTITY`), and the card to
/// charge, if any.
pub(super) fn check_order_rules<'a>(
    request: &OrderRequest<'a>,
    now: DateTime<Utc>,
) -> Result<Option<Payment<'a>>, Vec<Detail>> {
    let mut details = Vec::new();
    if request.intent == "AUTHORIZE" {
        details.push(Detail::new(
            Issue::AuthCaptureNotEnabled,
            Some("/intent".into()),
            Some(request.intent.into()),
            Some("body"),
        ));
    }
    for unit in &request.units {
        let at = format!(
            "/purchase_units/@reference_id=='{}'/amount",
            unit.reference_id
        );
        let rule = |issue, key, value: &str| {
            Detail::new(
                issue,
                Some(format!("{at}/{key}")),
                Some(value.into()),
                Some("body"),
            )
        };
        match CURRENCIES.iter().find(|(code, _)| *code == unit.currency) {
            None => details.push(rule(
                Issue::InvalidCurrencyCode,
                "currency_code",
                unit.currency,
            )),
            Some((_, decimals)) if fraction_digits(unit.value) > *decimals => {
                details.push(rule(Issue::DecimalPrecision, "value", unit.value));
            }
            Some(_) => {}
        }
        if !is_positive(unit.value) {
            details.push(rule(Issue::CannotBeZeroOrNegative, "value", unit.value));
        }
    }
    let payment = match request.card.as_ref().map(|card| check_card(card, now)) {
        Some(Err(card_details)) => {
            details.extend(card_details);
            None
        }
        Some(Ok(payment)) => Some(payment),
        None => None,
    };
    if details.is_empty() {
        Ok(payment)
    } else {
        Err(details)
    }
}

/// The card rules PayPal applies before charging: a brand it processes, not expired.
pub(super) fn check_card<'a>(
    card: &CardRequest<'a>,
    now: DateTime<Utc>,
) -> Result<Payment<'a>, Vec<Detail>> {
    let mut details = Vec::new();
    let brand = card_brand(card.number);
    if brand.is_none() {
        details.push(Detail::new(
            Issue::CardBrandNotSupported,
            Some("/payment_source/card/number".into()),
            None,
            Some("body"),
        ));
    }
    let expired = card
        .expiry
        .split_once('-')
        .and_then(|(year, month)| Some((year.parse::<i32>().ok()?, month.parse::<u32>().ok()?)))
        .is_some_and(|expiry| expiry < (now.year(), now.month()));
    if expired {
        details.push(Detail::new(
            Issue::CardExpired,
            Some("/payment_source/card/expiry".into()),
            Some(card.expiry.into()),
            Some("body"),
        ));
    }
    match brand {
        Some(brand) if details.is_empty() => Ok(Payment {
            name: card.name,
            brand,
            last_digits: &card.number[card.number.len() - 4..],
            expiry: card.expiry,
            request_id: card.request_id,
        }),
        _ => Err(details),
    }
}

/// The card network by its issuer number prefix, as PayPal names it; `None` for a network this
/// merchant account does not process.
fn card_brand(number: &str) -> Option<&'static str> {
    let prefix = |digits: usize| number[..digits].parse::<u32>().unwrap_or(0);
    if number.starts_with('4') {
        Some("VISA")
    } else if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) {
        Some("MASTERCARD")
    } else if matches!(prefix(2), 34 | 37) {
        Some("AMEX")
    } else if number.starts_with("6011") || prefix(2) == 65 || (644..=649).contains(&prefix(3)) {
        Some("DISCOVER")
    } else if (3528..=3589).contains(&prefix(4)) {
        Some("JCB")
    } else {
        None
    }
}

fn fraction_digits(value: &str) -> usize {
    value
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len())
}

fn is_positive(value: &str) -> bool {
    !value.starts_with('-') && value.bytes().any(|b| (b'1'..=b'9').contains(&b))
}
