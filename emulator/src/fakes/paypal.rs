//! A local PayPal that speaks its REST API: the OAuth2 token endpoint and Orders v2 create and
//! capture, as PayPal's authentication guide and `checkout_orders_v2.json` describe them.
//!
//! Why: the payment function's real PayPal client runs unchanged on a laptop, pointed here. The
//! fake rejects what PayPal rejects, with PayPal's status and error body: `401
//! AUTHENTICATION_FAILURE` without a live token, `400 INVALID_REQUEST` for schema violations (every
//! one listed in `details`), `415` for a body not sent as `application/json`, `422
//! UNPROCESSABLE_ENTITY` for business rules such as `DECIMAL_PRECISION`. So a client bug (a card
//! sent without `PayPal-Request-Id`, `"10.001"` USD, a number where a string belongs, a token that
//! is not refreshed) fails here first.
//!
//! Cards behave as in the sandbox: an order created with `payment_source.card` and intent
//! `CAPTURE` is captured at once (status `COMPLETED`); a sandbox rejection trigger as the card name
//! (`CCREJECT-REFUSED`, `CCREJECT-IF`, ...) gives a `DECLINED` capture with the processor's
//! response code. An order without a card waits for a payer approval that never comes here: its
//! capture answers `ORDER_NOT_APPROVED`, unless the capture request brings a card. A replayed
//! `PayPal-Request-Id` answers `200` with the same order and never charges twice; the ledger
//! (orders, request ids, captures) is kept in the emulator's database, so replays hold across
//! restarts (PayPal keeps them at least 6 hours).
//!
//! Limits, on purpose: this merchant account cannot authorize (`intent: AUTHORIZE` answers
//! `AUTH_CAPTURE_NOT_ENABLED`), there are no other payment sources than cards, tokens live until
//! [`PayPalFake::revoke_tokens`], and `Prefer: return=representation` is needed for the full order
//! (as at PayPal, the default is `return=minimal`).
//!
//! Card data: the number and security code are checked and dropped. Only the brand and the last
//! four digits are kept and shown; error details never echo them.

use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{basic_credentials, bearer_token, has_media_type, lock, random_hex, with_faults};
use crate::faults::Faults;
use crate::records::{PayPalOperation as Operation, Records, Stored};

/// Where PayPal's links point (the sandbox: the fake stands in for it).
const API: &str = "https://api-m.sandbox.paypal.com";

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

/// The sandbox's card-name rejection triggers and the processor response code each one gives.
const REJECTION_TRIGGERS: [(&str, &str); 9] = [
    ("CCREJECT-REFUSED", "0500"),
    ("CCREJECT-SF", "9500"),
    ("CCREJECT-EC", "5400"),
    ("CCREJECT-IRC", "5180"),
    ("CCREJECT-IF", "5120"),
    ("CCREJECT-LS", "9520"),
    ("CCREJECT-IA", "1330"),
    ("CCREJECT-BANK_ERROR", "5100"),
    ("CCREJECT-CVV_F", "00N7"),
];

const INTENTS: [&str; 2] = ["CAPTURE", "AUTHORIZE"];

/// Request fields whose values never appear in an error detail.
const SECRET_FIELDS: [&str; 2] = [
    "/payment_source/card/number",
    "/payment_source/card/security_code",
];

/// How long a token is said to live, in seconds (what the sandbox answers).
const TOKEN_LIFETIME: u64 = 32_400;

/// A capture, as the inspector shows it: completed or declined. For "charged" checks keep only
/// [`CaptureStatus::Completed`] ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRecord {
    pub capture_id: String,
    /// The `PayPal-Request-Id` (derived from the registration's `Idempotency-Key`).
    pub request_id: String,
    /// The purchase unit's `reference_id` (`default` when the request gave none).
    pub order_id: String,
    pub amount: Amount,
    /// The purchase unit's `description` (empty when the request gave none).
    pub description: String,
    pub card: CardSummary,
    pub status: CaptureStatus,
    pub captured_at: DateTime<Utc>,
}

/// An amount as PayPal received it: `{"value": "250.00", "currency": "USD"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub value: String,
    pub currency: String,
}

/// All that is kept of a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardSummary {
    pub brand: String,
    pub last_digits: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaptureStatus {
    Completed,
    Declined,
}

impl CaptureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "COMPLETED",
            Self::Declined => "DECLINED",
        }
    }
}

/// The REST app's credentials, as issued in PayPal's developer dashboard.
#[derive(Clone)]
pub struct PayPalCredentials {
    pub client_id: String,
    pub client_secret: String,
}

pub struct PayPalFake {
    credentials: PayPalCredentials,
    faults: Arc<Faults>,
    /// Live access tokens (they die with the process, as a restarted client fetches a new one).
    tokens: Mutex<HashSet<String>>,
    /// Orders, request ids and captures.
    records: Records,
}

/// What a handler answers when the ledger cannot be read or written.
fn ledger_unavailable(e: &durable::DbError) -> Response {
    tracing::error!("the local PayPal's ledger is unavailable: {e}");
    paypal_error(StatusCode::SERVICE_UNAVAILABLE, &[])
}

impl PayPalFake {
    pub fn new(credentials: PayPalCredentials, faults: Arc<Faults>, records: Records) -> Arc<Self> {
        Arc::new(Self {
            credentials,
            faults,
            tokens: Mutex::default(),
            records,
        })
    }

    /// The routes, at PayPal's own paths (`/v1/oauth2/token`, `/v2/checkout/orders`, ...).
    pub fn router(self: &Arc<Self>) -> Router {
        let routes = Router::new()
            .route("/v1/oauth2/token", post(issue_token))
            .route("/v2/checkout/orders", post(create_order))
            .route("/v2/checkout/orders/{id}/capture", post(capture_order))
            .with_state(self.clone());
        with_faults(routes, self.faults.clone(), "paypal", |status| {
            paypal_error(status, &[])
        })
    }

    /// Expires every access token issued so far, as if their lifetime had passed: API calls with
    /// them answer 401 until the client fetches a new one.
    pub fn revoke_tokens(&self) {
        lock(&self.tokens).clear();
    }

    /// Whether the request carries a live access token.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        bearer_token(headers).is_some_and(|token| lock(&self.tokens).contains(token))
    }

    /// The order an earlier request with this request id made, if any.
    async fn replay(
        &self,
        operation: Operation,
        request_id: Option<&str>,
    ) -> Result<Option<Value>, durable::DbError> {
        match request_id {
            Some(request_id) => self.records.paypal_replay(operation, request_id).await,
            None => Ok(None),
        }
    }

    /// Every capture so far, oldest first.
    #[cfg(test)]
    async fn captures(&self) -> Vec<CaptureRecord> {
        let request = durable::PageRequest {
            limit: Some(durable::page::MAX_LIMIT),
            cursor: None,
        };
        self.records
            .page(crate::records::Listing::Captures, &request)
            .await
            .expect("captures readable")
            .items
            .into_iter()
            .rev()
            .collect()
    }
}

/// `POST /v1/oauth2/token`: client credentials in HTTP Basic, `grant_type=client_credentials` as
/// a form.
async fn issue_token(
    State(fake): State<Arc<PayPalFake>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let known = basic_credentials(&headers).is_some_and(|(id, secret)| {
        id == fake.credentials.client_id && secret == fake.credentials.client_secret
    });
    if !known {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client Authentication failed",
        );
    }
    let grant_type = has_media_type(&headers, "application/x-www-form-urlencoded")
        .then(|| std::str::from_utf8(&body).ok())
        .flatten()
        .and_then(|form| {
            form.split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| *name == "grant_type")
                .map(|(_, value)| value)
        });
    match grant_type {
        Some("client_credentials") => {}
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Grant Type is NULL",
            );
        }
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Grant Type {other} is not supported"),
            );
        }
    }
    let token = format!("A21AA{}", random_hex(92));
    lock(&fake.tokens).insert(token.clone());
    Json(json!({
        "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund https://uri.paypal.com/services/payments/orders/client_sdk_orders_api",
        "access_token": token,
        "token_type": "Bearer",
        "app_id": "APP-80W284485P519543T",
        "expires_in": TOKEN_LIFETIME,
        "nonce": format!("{}{}", timestamp(Utc::now()), random_hex(43)),
    }))
    .into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// `POST /v2/checkout/orders`. A replayed `PayPal-Request-Id` answers `200` with the order it
/// created: found when the new order loses on the unique request id, or, for a request that would
/// be rejected, looked up first; so the usual request costs one statement.
async fn create_order(
    State(fake): State<Arc<PayPalFake>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !fake.authorized(&headers) {
        return paypal_error(StatusCode::UNAUTHORIZED, &[]);
    }
    let request_id = match request_id(&headers) {
        Ok(request_id) => request_id,
        Err(invalid) => return reject(vec![invalid]),
    };
    let replay = || async {
        match fake.replay(Operation::Create, request_id).await {
            Ok(Some(order)) => Some(view(&order, StatusCode::OK, &headers)),
            Ok(None) => None,
            Err(e) => Some(ledger_unavailable(&e)),
        }
    };
    let parsed = if has_media_type(&headers, "application/json") {
        serde_json::from_slice::<Value>(&body).map_err(|_| Box::new(reject(vec![malformed_json()])))
    } else {
        Err(Box::new(paypal_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &[],
        )))
    };
    let now = Utc::now();
    // The order, charged at once when the request brings a card (the sandbox's behaviour).
    let checked = parsed.and_then(|body| {
        let (mut order, payment) = new_order_request(&body, request_id, now)?;
        let captures = payment.map(|payment| charge(&mut order, &payment, now));
        Ok((order, captures))
    });
    let (order, captures) = match checked {
        Ok(checked) => checked,
        Err(rejection) => return replay().await.unwrap_or(*rejection),
    };
    let charged = captures
        .as_ref()
        .and_then(|captures| Some((captures.first()?.status.as_str(), captures)));
    match fake
        .records
        .paypal_create(&order, request_id, charged)
        .await
    {
        Ok(Stored::Stored) => view(&order, StatusCode::CREATED, &headers),
        // An earlier (or concurrent) request with the same request id stored its order first.
        Ok(Stored::LostRace) => replay()
            .await
            .unwrap_or_else(|| paypal_error(StatusCode::CONFLICT, &[])),
        Err(e) => ledger_unavailable(&e),
    }
}

/// A checked create request: the new order and, when it brings a card, the payment to charge; or
/// the rejection PayPal would answer.
fn new_order_request<'b>(
    body: &'b Value,
    request_id: Option<&'b str>,
    now: DateTime<Utc>,
) -> Result<(Value, Option<Payment<'b>>), Box<Response>> {
    let rejected = |details| Box::new(reject(details));
    let request = check_order(body, request_id).map_err(rejected)?;
    let payment = check_order_rules(&request, now).map_err(rejected)?;
    Ok((new_order(&request, now), payment))
}

/// `POST /v2/checkout/orders/{id}/capture`, with an optional `payment_source.card` in the body.
async fn capture_order(
    State(fake): State<Arc<PayPalFake>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !fake.authorized(&headers) {
        return paypal_error(StatusCode::UNAUTHORIZED, &[]);
    }
    let request_id = match request_id(&headers) {
        Ok(request_id) => request_id,
        Err(invalid) => return reject(vec![invalid]),
    };
    match fake.replay(Operation::Capture, request_id).await {
        Ok(Some(order)) => return view(&order, StatusCode::OK, &headers),
        Ok(None) => {}
        Err(e) => return ledger_unavailable(&e),
    }
    let order = match fake.records.paypal_order(&id).await {
        Ok(order) => order,
        Err(e) => return ledger_unavailable(&e),
    };
    let Some(mut order) = order else {
        return reject(vec![Detail::new(
            Issue::InvalidResourceId,
            Some("order_id".into()),
            Some(id),
            Some("path"),
        )]);
    };
    let body = if body.is_empty() {
        json!({})
    } else if !has_media_type(&headers, "application/json") {
        return paypal_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &[]);
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(body) => body,
            Err(_) => return reject(vec![malformed_json()]),
        }
    };
    let mut checker = Checker::default();
    let card = checker.card(&body, request_id);
    if !checker.details.is_empty() {
        return reject(checker.details);
    }
    let now = Utc::now();
    let payment = match card.map(|card| check_card(&card, now)).transpose() {
        Ok(payment) => payment,
        Err(details) => return reject(details),
    };
    if order["status"] == "COMPLETED" {
        return reject(vec![Detail::new(
            Issue::OrderAlreadyCaptured,
            None,
            None,
            None,
        )]);
    }
    let Some(payment) = payment else {
        return reject(vec![Detail::new(Issue::OrderNotApproved, None, None, None)]);
    };
    let captures = charge(&mut order, &payment, now);
    let status = captures
        .first()
        .map_or(CaptureStatus::Completed, |capture| capture.status);
    let stored = fake
        .records
        .paypal_capture(&order, request_id, status.as_str(), &captures)
        .await;
    match stored {
        Ok(Stored::Stored) => view(&order, StatusCode::CREATED, &headers),
        // Captured meanwhile by a concurrent request: a replay of it, or a second capture.
        Ok(Stored::LostRace) => match fake.replay(Operation::Capture, request_id).await {
            Ok(Some(order)) => view(&order, StatusCode::OK, &headers),
            Ok(None) => reject(vec![Detail::new(
                Issue::OrderAlreadyCaptured,
                None,
                None,
                None,
            )]),
            Err(e) => ledger_unavailable(&e),
        },
        Err(e) => ledger_unavailable(&e),
    }
}

/// The `PayPal-Request-Id` header, if any: 1 to 108 characters.
fn request_id(headers: &HeaderMap) -> Result<Option<&str>, Detail> {
    let Some(value) = headers.get("paypal-request-id") else {
        return Ok(None);
    };
    let invalid = |issue| Detail::new(issue, Some("PayPal-Request-Id".into()), None, None);
    let value = value
        .to_str()
        .map_err(|_| invalid(Issue::InvalidParameterSyntax))?;
    if (1..=108).contains(&value.len()) {
        Ok(Some(value))
    } else {
        Err(invalid(Issue::InvalidStringLength))
    }
}

/// The order as `Prefer` asks: `return=representation` for all of it, else (PayPal's default,
/// `return=minimal`) only its id, status and links.
fn view(order: &Value, status: StatusCode, headers: &HeaderMap) -> Response {
    let representation = headers
        .get("prefer")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|prefer| prefer.contains("return=representation"));
    let body = if representation {
        order.clone()
    } else {
        json!({ "id": order["id"], "status": order["status"], "links": order["links"] })
    };
    (status, Json(body)).into_response()
}

/// An order request that passed PayPal's schema.
struct OrderRequest<'a> {
    intent: &'a str,
    units: Vec<UnitRequest<'a>>,
    card: Option<CardRequest<'a>>,
}

struct UnitRequest<'a> {
    reference_id: &'a str,
    description: Option<&'a str>,
    custom_id: Option<&'a str>,
    invoice_id: Option<&'a str>,
    currency: &'a str,
    value: &'a str,
}

/// A card, well formed, with the `PayPal-Request-Id` it must come with.
struct CardRequest<'a> {
    name: Option<&'a str>,
    number: &'a str,
    expiry: &'a str,
    request_id: &'a str,
}

/// A card PayPal will charge: what is kept of it, and the request id of the charge.
struct Payment<'a> {
    name: Option<&'a str>,
    brand: &'static str,
    last_digits: &'a str,
    expiry: &'a str,
    request_id: &'a str,
}

/// Checks an order request against PayPal's schema (`order_request`): every violation, as `400
/// INVALID_REQUEST` details.
fn check_order<'a>(
    body: &'a Value,
    request_id: Option<&'a str>,
) -> Result<OrderRequest<'a>, Vec<Detail>> {
    if !body.is_object() {
        return Err(vec![malformed_json()]);
    }
    let mut checker = Checker::default();
    let intent = checker.string(body, "", "intent", true, 1..=255);
    if let Some(intent) = intent
        && !INTENTS.contains(&intent)
    {
        checker.note(Issue::InvalidParameterValue, "/intent", Some(intent));
    }
    let units = checker.purchase_units(body);
    let card = checker.card(body, request_id);
    match intent {
        Some(intent) if checker.details.is_empty() => Ok(OrderRequest {
            intent,
            units,
            card,
        }),
        _ => Err(checker.details),
    }
}

/// PayPal's business rules on a well-formed order (`422 UNPROCESSABLE_ENTITY`), and the card to
/// charge, if any.
fn check_order_rules<'a>(
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
fn check_card<'a>(card: &CardRequest<'a>, now: DateTime<Utc>) -> Result<Payment<'a>, Vec<Detail>> {
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

/// Whether `value` matches `money.value`'s pattern, `^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$`.
fn is_decimal(value: &str) -> bool {
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    match unsigned.split_once('.') {
        None => is_digits(unsigned),
        Some((units, fraction)) => (units.is_empty() || is_digits(units)) && is_digits(fraction),
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn fraction_digits(value: &str) -> usize {
    value
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len())
}

fn is_positive(value: &str) -> bool {
    !value.starts_with('-') && value.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// `YYYY-MM`, as `date_year_month`'s pattern `^[0-9]{4}-(0[1-9]|1[0-2])$` has it.
fn is_year_month(text: &str) -> bool {
    text.split_once('-').is_some_and(|(year, month)| {
        year.len() == 4
            && is_digits(year)
            && month.len() == 2
            && matches!(month.parse(), Ok(1..=12))
    })
}

/// `country_code`'s pattern, `^([A-Z]{2}|C2)$`.
fn is_country_code(text: &str) -> bool {
    text == "C2" || (text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase()))
}

/// A new order, as PayPal stores it before any payment.
fn new_order(request: &OrderRequest<'_>, now: DateTime<Utc>) -> Value {
    let id = random_hex(17).to_uppercase();
    let units: Vec<Value> = request
        .units
        .iter()
        .map(|unit| {
            let mut json = json!({
                "reference_id": unit.reference_id,
                "amount": { "currency_code": unit.currency, "value": unit.value },
            });
            for (key, value) in [
                ("description", unit.description),
                ("custom_id", unit.custom_id),
                ("invoice_id", unit.invoice_id),
            ] {
                if let Some(value) = value {
                    json[key] = value.into();
                }
            }
            json
        })
        .collect();
    json!({
        "id": id,
        "intent": request.intent,
        "status": "CREATED",
        "purchase_units": units,
        "create_time": timestamp(now),
        "links": order_links(&id, "CREATED"),
    })
}

fn order_links(id: &str, status: &str) -> Value {
    let href = format!("{API}/v2/checkout/orders/{id}");
    if status == "CREATED" {
        json!([
            { "href": href, "rel": "self", "method": "GET" },
            { "href": format!("https://www.sandbox.paypal.com/checkoutnow?token={id}"), "rel": "approve", "method": "GET" },
            { "href": href, "rel": "update", "method": "PATCH" },
            { "href": format!("{href}/capture"), "rel": "capture", "method": "POST" },
        ])
    } else {
        json!([{ "href": href, "rel": "self", "method": "GET" }])
    }
}

/// Captures every purchase unit of `order` with the card, as the sandbox does: declined when the
/// card name is a rejection trigger. Completes the order and returns what the inspector keeps.
fn charge(order: &mut Value, payment: &Payment<'_>, now: DateTime<Utc>) -> Vec<CaptureRecord> {
    let rejection = REJECTION_TRIGGERS
        .iter()
        .find(|(trigger, _)| payment.name == Some(*trigger));
    let (status, response_code, avs_code, cvv_code) = match rejection {
        Some((_, code)) => (CaptureStatus::Declined, *code, "G", "P"),
        None => (CaptureStatus::Completed, "0000", "A", "M"),
    };
    let time = timestamp(now);
    let mut records = Vec::new();
    for unit in order["purchase_units"].as_array_mut().into_iter().flatten() {
        let capture_id = random_hex(17).to_uppercase();
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        records.push(CaptureRecord {
            capture_id: capture_id.clone(),
            request_id: payment.request_id.to_owned(),
            order_id: text(&unit["reference_id"]),
            amount: Amount {
                value: text(&unit["amount"]["value"]),
                currency: text(&unit["amount"]["currency_code"]),
            },
            description: text(&unit["description"]),
            card: CardSummary {
                brand: payment.brand.to_owned(),
                last_digits: payment.last_digits.to_owned(),
            },
            status,
            captured_at: now,
        });
        unit["payments"] = json!({ "captures": [{
            "id": capture_id,
            "status": status,
            "amount": unit["amount"].clone(),
            "final_capture": true,
            "seller_protection": { "status": "NOT_ELIGIBLE" },
            "processor_response": {
                "avs_code": avs_code,
                "cvv_code": cvv_code,
                "response_code": response_code,
            },
            "create_time": time,
            "update_time": time,
            "links": [{ "href": format!("{API}/v2/payments/captures/{capture_id}"), "rel": "self", "method": "GET" }],
        }]});
    }
    let mut card = json!({
        "last_digits": payment.last_digits,
        "brand": payment.brand,
        "type": "CREDIT",
        "expiry": payment.expiry,
    });
    if let Some(name) = payment.name {
        card["name"] = name.into();
    }
    order["payment_source"] = json!({ "card": card });
    order["status"] = "COMPLETED".into();
    order["update_time"] = time.into();
    order["links"] = order_links(order["id"].as_str().unwrap_or_default(), "COMPLETED");
    records
}

/// PayPal's timestamps: RFC 3339 in UTC, to the second.
fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The issues this fake raises, with PayPal's codes, descriptions and statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Issue {
    MalformedRequestJson,
    MissingRequiredParameter,
    InvalidParameterValue,
    InvalidParameterSyntax,
    InvalidStringLength,
    InvalidArrayMinItems,
    InvalidArrayMaxItems,
    PayPalRequestIdRequired,
    InvalidResourceId,
    AuthCaptureNotEnabled,
    InvalidCurrencyCode,
    DecimalPrecision,
    CannotBeZeroOrNegative,
    CardBrandNotSupported,
    CardExpired,
    OrderNotApproved,
    OrderAlreadyCaptured,
}

impl Issue {
    fn describe(self) -> (&'static str, &'static str, StatusCode) {
        const BAD: StatusCode = StatusCode::BAD_REQUEST;
        const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
        match self {
            Issue::MalformedRequestJson => (
                "MALFORMED_REQUEST_JSON",
                "The request JSON is not well formed.",
                BAD,
            ),
            Issue::MissingRequiredParameter => (
                "MISSING_REQUIRED_PARAMETER",
                "A required parameter is missing.",
                BAD,
            ),
            Issue::InvalidParameterValue => (
                "INVALID_PARAMETER_VALUE",
                "A parameter value is not valid.",
                BAD,
            ),
            Issue::InvalidParameterSyntax => (
                "INVALID_PARAMETER_SYNTAX",
                "The value of a field does not conform to the expected format.",
                BAD,
            ),
            Issue::InvalidStringLength => (
                "INVALID_STRING_LENGTH",
                "The value of a field is either too short or too long.",
                BAD,
            ),
            Issue::InvalidArrayMinItems => (
                "INVALID_ARRAY_MIN_ITEMS",
                "The number of items in an array parameter is too small.",
                BAD,
            ),
            Issue::InvalidArrayMaxItems => (
                "INVALID_ARRAY_MAX_ITEMS",
                "The number of items in an array parameter is too large.",
                BAD,
            ),
            Issue::PayPalRequestIdRequired => (
                "PAYPAL_REQUEST_ID_REQUIRED",
                "A PayPal-Request-Id is required if you are trying to process payment for an Order. Please specify a PayPal-Request-Id or Create the Order without a 'payment_source' specified.",
                BAD,
            ),
            Issue::InvalidResourceId => (
                "INVALID_RESOURCE_ID",
                "Specified resource ID does not exist. Please check the resource ID and try again.",
                StatusCode::NOT_FOUND,
            ),
            Issue::AuthCaptureNotEnabled => (
                "AUTH_CAPTURE_NOT_ENABLED",
                "Authorization and Capture feature is not enabled for the merchant. Make sure that the recipient of the funds is a verified business account.",
                UNPROCESSABLE,
            ),
            Issue::InvalidCurrencyCode => (
                "INVALID_CURRENCY_CODE",
                "Currency code is invalid or is not currently supported. Please refer https://developer.paypal.com/api/rest/reference/currency-codes/ for list of supported currency codes.",
                UNPROCESSABLE,
            ),
            Issue::DecimalPrecision => (
                "DECIMAL_PRECISION",
                "If the currency supports decimals, only two decimal place precision is supported.",
                UNPROCESSABLE,
            ),
            Issue::CannotBeZeroOrNegative => (
                "CANNOT_BE_ZERO_OR_NEGATIVE",
                "Must be greater than zero. If the currency supports decimals, only two decimal place precision is supported.",
                UNPROCESSABLE,
            ),
            Issue::CardBrandNotSupported => (
                "CARD_BRAND_NOT_SUPPORTED",
                "Processing of this card brand is not supported. Please use another card to continue with this transaction.",
                UNPROCESSABLE,
            ),
            Issue::CardExpired => ("CARD_EXPIRED", "The card is expired", UNPROCESSABLE),
            Issue::OrderNotApproved => (
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment. Please redirect the payer to the 'rel':'approve' url returned as part of the HATEOAS links within the Create Order call or provide a valid payment_source in the request.",
                UNPROCESSABLE,
            ),
            Issue::OrderAlreadyCaptured => (
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
                UNPROCESSABLE,
            ),
        }
    }
}

/// One entry of an error's `details`.
#[derive(Debug, Serialize)]
struct Detail {
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'static str>,
    issue: &'static str,
    description: &'static str,
    #[serde(skip)]
    status: StatusCode,
}

impl Detail {
    fn new(
        issue: Issue,
        field: Option<String>,
        value: Option<String>,
        location: Option<&'static str>,
    ) -> Self {
        let (issue, description, status) = issue.describe();
        Self {
            field,
            value,
            location,
            issue,
            description,
            status,
        }
    }
}

fn malformed_json() -> Detail {
    Detail::new(
        Issue::MalformedRequestJson,
        Some("/".into()),
        None,
        Some("body"),
    )
}

/// Answers with the status of the details' issues (they share one).
fn reject(details: Vec<Detail>) -> Response {
    let status = details
        .first()
        .map_or(StatusCode::BAD_REQUEST, |detail| detail.status);
    paypal_error(status, &details)
}

/// PayPal's error body: `{name, message, debug_id, details, links}`.
fn paypal_error(status: StatusCode, details: &[Detail]) -> Response {
    let (name, message) = match status.as_u16() {
        400 => (
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
        ),
        401 => (
            "AUTHENTICATION_FAILURE",
            "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
        ),
        403 => (
            "NOT_AUTHORIZED",
            "Authorization failed due to insufficient permissions.",
        ),
        404 => (
            "RESOURCE_NOT_FOUND",
            "The specified resource does not exist.",
        ),
        409 => (
            "RESOURCE_CONFLICT",
            "The server has detected a conflict while processing this request.",
        ),
        415 => (
            "UNSUPPORTED_MEDIA_TYPE",
            "The server does not support the request payload's media type.",
        ),
        422 => (
            "UNPROCESSABLE_ENTITY",
            "The requested action could not be performed, semantically incorrect, or failed business validation.",
        ),
        429 => (
            "RATE_LIMIT_REACHED",
            "Too many requests. Blocked due to rate limiting.",
        ),
        503 => ("SERVICE_UNAVAILABLE", "Service Unavailable."),
        _ => (
            "INTERNAL_SERVER_ERROR",
            "An internal server error occurred.",
        ),
    };
    let anchors: Vec<&str> = if details.is_empty() {
        vec![name]
    } else {
        details.iter().map(|detail| detail.issue).collect()
    };
    let links: Vec<Value> = anchors
        .into_iter()
        .map(|anchor| {
            json!({
                "href": format!("https://developer.paypal.com/docs/api/orders/v2/#error-{anchor}"),
                "rel": "information_link",
                "method": "GET",
            })
        })
        .collect();
    let body = json!({
        "name": name,
        "message": message,
        "debug_id": random_hex(13),
        "details": details,
        "links": links,
    });
    (status, Json(body)).into_response()
}

/// Walks a request body as PayPal's schema validation does, noting every violation.
#[derive(Default)]
struct Checker {
    details: Vec<Detail>,
}

impl Checker {
    fn note(&mut self, issue: Issue, field: &str, value: Option<&str>) {
        let secret = SECRET_FIELDS.contains(&field);
        self.details.push(Detail::new(
            issue,
            Some(field.to_owned()),
            value.filter(|_| !secret).map(str::to_owned),
            Some("body"),
        ));
    }

    /// Notes `INVALID_PARAMETER_SYNTAX` unless `well_formed`.
    fn syntax(&mut self, well_formed: bool, field: &str, value: &str) {
        if !well_formed {
            self.note(Issue::InvalidParameterSyntax, field, Some(value));
        }
    }

    /// `parent[key]` if it is an object; notes why not when it is present, or missing but
    /// `required`.
    fn object<'a>(
        &mut self,
        parent: &'a Value,
        at: &str,
        key: &str,
        required: bool,
    ) -> Option<&'a Value> {
        let field = format!("{at}/{key}");
        match parent.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.note(Issue::MissingRequiredParameter, &field, None);
                }
                None
            }
            Some(object @ Value::Object(_)) => Some(object),
            Some(other) => {
                self.note(
                    Issue::InvalidParameterSyntax,
                    &field,
                    Some(&other.to_string()),
                );
                None
            }
        }
    }

    /// `parent[key]` if it is a string of `length` characters; notes why not when it is
    /// present, or missing but `required`.
    fn string<'a>(
        &mut self,
        parent: &'a Value,
        at: &str,
        key: &str,
        required: bool,
        length: RangeInclusive<usize>,
    ) -> Option<&'a str> {
        let field = format!("{at}/{key}");
        match parent.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.note(Issue::MissingRequiredParameter, &field, None);
                }
                None
            }
            Some(Value::String(text)) if length.contains(&text.chars().count()) => Some(text),
            Some(Value::String(text)) => {
                self.note(Issue::InvalidStringLength, &field, Some(text));
                None
            }
            Some(other) => {
                self.note(
                    Issue::InvalidParameterSyntax,
                    &field,
                    Some(&other.to_string()),
                );
                None
            }
        }
    }

    /// `purchase_units`: 1 to 10 units, each with an `amount` in a 3-letter currency.
    fn purchase_units<'a>(&mut self, body: &'a Value) -> Vec<UnitRequest<'a>> {
        let units = match body.get("purchase_units") {
            None | Some(Value::Null) => {
                self.note(Issue::MissingRequiredParameter, "/purchase_units", None);
                return Vec::new();
            }
            Some(Value::Array(units)) => units,
            Some(other) => {
                self.note(
                    Issue::InvalidParameterSyntax,
                    "/purchase_units",
                    Some(&other.to_string()),
                );
                return Vec::new();
            }
        };
        if units.is_empty() {
            self.note(Issue::InvalidArrayMinItems, "/purchase_units", None);
        } else if units.len() > 10 {
            self.note(Issue::InvalidArrayMaxItems, "/purchase_units", None);
        }
        units
            .iter()
            .enumerate()
            .filter_map(|(index, unit)| {
                self.purchase_unit(&format!("/purchase_units/{index}"), unit)
            })
            .collect()
    }

    fn purchase_unit<'a>(&mut self, at: &str, unit: &'a Value) -> Option<UnitRequest<'a>> {
        if !unit.is_object() {
            self.note(Issue::InvalidParameterSyntax, at, Some(&unit.to_string()));
            return None;
        }
        let reference_id = self.string(unit, at, "reference_id", false, 1..=256);
        let description = self.string(unit, at, "description", false, 1..=127);
        let custom_id = self.string(unit, at, "custom_id", false, 1..=127);
        let invoice_id = self.string(unit, at, "invoice_id", false, 1..=127);
        let amount = self.object(unit, at, "amount", true)?;
        let at = format!("{at}/amount");
        let currency = self.string(amount, &at, "currency_code", true, 3..=3);
        let value = self.string(amount, &at, "value", true, 1..=32);
        if let Some(value) = value {
            self.syntax(is_decimal(value), &format!("{at}/value"), value);
        }
        Some(UnitRequest {
            reference_id: reference_id.unwrap_or("default"),
            description,
            custom_id,
            invoice_id,
            currency: currency?,
            value: value?,
        })
    }

    /// `payment_source.card`, if present: its number, expiry and security code well formed, and
    /// a `PayPal-Request-Id` with it (mandatory when an order carries a card).
    fn card<'a>(
        &mut self,
        body: &'a Value,
        request_id: Option<&'a str>,
    ) -> Option<CardRequest<'a>> {
        let source = self.object(body, "", "payment_source", false)?;
        let card = self.object(source, "/payment_source", "card", false)?;
        let at = "/payment_source/card";
        let name = self.string(card, at, "name", false, 1..=300);
        let number = self.string(card, at, "number", true, 13..=19);
        if let Some(number) = number {
            self.syntax(is_digits(number), &format!("{at}/number"), number);
        }
        let expiry = self.string(card, at, "expiry", true, 7..=7);
        if let Some(expiry) = expiry {
            self.syntax(is_year_month(expiry), &format!("{at}/expiry"), expiry);
        }
        if let Some(code) = self.string(card, at, "security_code", false, 3..=4) {
            self.syntax(is_digits(code), &format!("{at}/security_code"), code);
        }
        if let Some(address) = self.object(card, at, "billing_address", false) {
            let at = format!("{at}/billing_address");
            if let Some(country) = self.string(address, &at, "country_code", true, 2..=2) {
                self.syntax(
                    is_country_code(country),
                    &format!("{at}/country_code"),
                    country,
                );
            }
        }
        let Some(request_id) = request_id else {
            self.details.push(Detail::new(
                Issue::PayPalRequestIdRequired,
                Some("PayPal-Request-Id".into()),
                None,
                None,
            ));
            return None;
        };
        Some(CardRequest {
            name,
            number: number?,
            expiry: expiry?,
            request_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use reqwest::{Client, RequestBuilder};

    use super::*;
    use crate::fakes::testing::{
        self, inject, rate_limited, serve, slow_then_timeout, with, without,
    };
    use crate::faults::FaultMode;

    const CLIENT_ID: &str = "local-client-id";
    const CLIENT_SECRET: &str = "local-client-secret";
    const NUMBER: &str = "4012888888881881";

    struct Sandbox {
        fake: Arc<PayPalFake>,
        faults: Arc<Faults>,
        url: String,
        http: Client,
        token: String,
    }

    impl Sandbox {
        async fn start() -> Self {
            let faults = Arc::new(Faults::default());
            let fake = PayPalFake::new(
                PayPalCredentials {
                    client_id: CLIENT_ID.into(),
                    client_secret: CLIENT_SECRET.into(),
                },
                faults.clone(),
                crate::records::testing::records().await,
            );
            let url = serve(fake.router()).await;
            let mut sandbox = Self {
                fake,
                faults,
                url,
                http: Client::new(),
                token: String::new(),
            };
            sandbox.token = sandbox.new_token().await;
            sandbox
        }

        fn token_request(&self) -> RequestBuilder {
            self.http
                .post(format!("{}/v1/oauth2/token", self.url))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
        }

        async fn new_token(&self) -> String {
            let response = self.token_request().send().await.expect("a token");
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.expect("JSON");
            body["access_token"].as_str().expect("a token").to_owned()
        }

        /// A POST with the sandbox's token and `Prefer: return=representation`.
        fn post(&self, path: &str, request_id: Option<&str>) -> RequestBuilder {
            let request = self
                .http
                .post(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .header("prefer", "return=representation");
            match request_id {
                Some(id) => request.header("paypal-request-id", id),
                None => request,
            }
        }

        async fn create(&self, order: &Value, request_id: Option<&str>) -> (u16, Value) {
            answer(self.post("/v2/checkout/orders", request_id).json(order)).await
        }

        async fn capture(
            &self,
            id: &str,
            body: Option<&Value>,
            request_id: Option<&str>,
        ) -> (u16, Value) {
            let request = self.post(&format!("/v2/checkout/orders/{id}/capture"), request_id);
            answer(match body {
                Some(body) => request.json(body),
                None => request.header("content-type", "application/json"),
            })
            .await
        }
    }

    /// Sends `request`, checking that the answer never echoes the card number.
    async fn answer(request: RequestBuilder) -> (u16, Value) {
        let (status, body) = testing::answer(request).await;
        let text = body.to_string();
        assert!(
            !text.contains(NUMBER) && !text.contains("4012 8888"),
            "never echoes the card number: {text}"
        );
        (status, body)
    }

    fn card(name: &str) -> Value {
        json!({
            "name": name,
            "number": NUMBER,
            "expiry": "2030-12",
            "security_code": "123",
            "billing_address": {
                "address_line_1": "1 Main Street",
                "admin_area_2": "Springfield",
                "postal_code": "12345",
                "country_code": "US",
            },
        })
    }

    /// What the payment function sends: one unit, a card, intent CAPTURE.
    fn card_order(name: &str) -> Value {
        json!({
            "intent": "CAPTURE",
            "purchase_units": [{
                "reference_id": "ord_123",
                "custom_id": "ord_123",
                "description": "Conference ticket",
                "amount": { "currency_code": "USD", "value": "250.00" },
            }],
            "payment_source": { "card": card(name) },
        })
    }

    fn assert_error(body: &Value, name: &str, issue: &str) {
        assert_eq!(body["name"], name, "{body}");
        assert_eq!(body["details"][0]["issue"], issue, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(body["debug_id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(body["links"][0]["rel"], "information_link", "{body}");
    }

    #[tokio::test]
    async fn issues_tokens_to_its_own_client_only() {
        let sandbox = Sandbox::start().await;
        let response = sandbox.token_request().send().await.expect("an answer");
        assert_eq!(response.status(), 200);
        let token: Value = response.json().await.expect("JSON");
        assert_eq!(token["token_type"], "Bearer");
        assert_eq!(token["expires_in"], 32_400);
        for field in ["scope", "access_token", "app_id", "nonce"] {
            assert!(
                token[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field}"
            );
        }

        let token_url = format!("{}/v1/oauth2/token", sandbox.url);
        let form = |request: RequestBuilder| {
            request
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
        };
        for request in [
            form(
                sandbox
                    .http
                    .post(&token_url)
                    .basic_auth(CLIENT_ID, Some("wrong")),
            ),
            form(sandbox.http.post(&token_url)),
        ] {
            let (status, body) = answer(request).await;
            assert_eq!(status, 401);
            assert_eq!(
                body,
                json!({"error": "invalid_client", "error_description": "Client Authentication failed"})
            );
        }
        for request in [
            sandbox
                .http
                .post(&token_url)
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .json(&json!({"grant_type": "client_credentials"})),
            sandbox
                .http
                .post(&token_url)
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=password"),
        ] {
            let (status, body) = answer(request).await;
            assert_eq!(status, 400);
            assert_eq!(body["error"], "unsupported_grant_type");
        }
    }

    #[tokio::test]
    async fn api_calls_need_a_live_token() {
        let mut sandbox = Sandbox::start().await;
        let orders = format!("{}/v2/checkout/orders", sandbox.url);
        let order = without(card_order("Ada Lovelace"), "/payment_source");
        for request in [
            sandbox.http.post(&orders).json(&order),
            sandbox
                .http
                .post(&orders)
                .bearer_auth("made-up")
                .json(&order),
            sandbox
                .http
                .post(&orders)
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .json(&order),
        ] {
            let (status, body) = answer(request).await;
            assert_eq!(status, 401);
            assert_eq!(body["name"], "AUTHENTICATION_FAILURE");
            assert_eq!(
                body["message"],
                "Authentication failed due to invalid authentication credentials or a missing Authorization header."
            );
        }
        assert_eq!(sandbox.create(&order, None).await.0, 201);

        sandbox.fake.revoke_tokens();
        let (status, body) = sandbox.create(&order, None).await;
        assert_eq!(
            (status, &body["name"]),
            (401, &json!("AUTHENTICATION_FAILURE"))
        );
        sandbox.token = sandbox.new_token().await;
        assert_eq!(
            sandbox.create(&order, None).await.0,
            201,
            "a new token works"
        );
    }

    #[tokio::test]
    async fn a_card_order_is_captured_at_once_as_in_the_sandbox() {
        let sandbox = Sandbox::start().await;
        let (status, order) = sandbox
            .create(&card_order("Ada Lovelace"), Some("reg-key-1"))
            .await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["status"], "COMPLETED");
        assert_eq!(order["intent"], "CAPTURE");
        assert!(order["id"].as_str().is_some_and(|id| id.len() == 17));
        assert!(
            order["create_time"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        assert_eq!(
            order["payment_source"]["card"],
            json!({"name": "Ada Lovelace", "last_digits": "1881", "brand": "VISA", "type": "CREDIT", "expiry": "2030-12"})
        );
        let unit = &order["purchase_units"][0];
        assert_eq!(unit["reference_id"], "ord_123");
        assert_eq!(unit["custom_id"], "ord_123");
        assert_eq!(unit["description"], "Conference ticket");
        let capture = &unit["payments"]["captures"][0];
        assert_eq!(capture["status"], "COMPLETED");
        assert_eq!(capture["final_capture"], true);
        assert_eq!(
            capture["amount"],
            json!({"currency_code": "USD", "value": "250.00"})
        );
        assert_eq!(
            capture["processor_response"],
            json!({"avs_code": "A", "cvv_code": "M", "response_code": "0000"})
        );
        assert!(!order.to_string().contains("security_code"));

        let captures = sandbox.fake.captures().await;
        assert_eq!(captures.len(), 1);
        let record = &captures[0];
        assert_eq!(record.capture_id, capture["id"].as_str().expect("an id"));
        assert_eq!(record.request_id, "reg-key-1");
        assert_eq!(record.order_id, "ord_123");
        assert_eq!(record.description, "Conference ticket");
        assert_eq!(record.status, CaptureStatus::Completed);
        assert_eq!(
            serde_json::to_value(record).expect("serializes")["card"],
            json!({"brand": "VISA", "lastDigits": "1881"})
        );
        assert_eq!(
            serde_json::to_value(record).expect("serializes")["amount"],
            json!({"value": "250.00", "currency": "USD"})
        );
    }

    #[tokio::test]
    async fn answers_minimal_unless_asked_for_the_representation() {
        let sandbox = Sandbox::start().await;
        let request = sandbox
            .http
            .post(format!("{}/v2/checkout/orders", sandbox.url))
            .bearer_auth(&sandbox.token)
            .header("paypal-request-id", "minimal-1")
            .json(&card_order("Ada Lovelace"));
        let (status, order) = answer(request).await;
        assert_eq!(status, 201);
        let keys: Vec<&String> = order.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["id", "links", "status"]);
        assert_eq!(order["status"], "COMPLETED");
    }

    #[tokio::test]
    async fn schema_violations_are_invalid_requests_with_every_detail() {
        let sandbox = Sandbox::start().await;
        let order = card_order("Ada Lovelace");
        let eleven_units = Value::Array(vec![order["purchase_units"][0].clone(); 11]);
        let cases = [
            (
                without(order.clone(), "/intent"),
                "MISSING_REQUIRED_PARAMETER",
                "/intent",
            ),
            (
                with(order.clone(), "/intent", json!("SALE")),
                "INVALID_PARAMETER_VALUE",
                "/intent",
            ),
            (
                without(order.clone(), "/purchase_units"),
                "MISSING_REQUIRED_PARAMETER",
                "/purchase_units",
            ),
            (
                with(order.clone(), "/purchase_units", json!([])),
                "INVALID_ARRAY_MIN_ITEMS",
                "/purchase_units",
            ),
            (
                with(order.clone(), "/purchase_units", eleven_units),
                "INVALID_ARRAY_MAX_ITEMS",
                "/purchase_units",
            ),
            (
                without(order.clone(), "/purchase_units/0/amount"),
                "MISSING_REQUIRED_PARAMETER",
                "/purchase_units/0/amount",
            ),
            (
                with(
                    order.clone(),
                    "/purchase_units/0/amount/currency_code",
                    json!("US"),
                ),
                "INVALID_STRING_LENGTH",
                "/purchase_units/0/amount/currency_code",
            ),
            (
                with(
                    order.clone(),
                    "/purchase_units/0/amount/value",
                    json!(250.0),
                ),
                "INVALID_PARAMETER_SYNTAX",
                "/purchase_units/0/amount/value",
            ),
            (
                with(
                    order.clone(),
                    "/purchase_units/0/amount/value",
                    json!("250,00"),
                ),
                "INVALID_PARAMETER_SYNTAX",
                "/purchase_units/0/amount/value",
            ),
            (
                with(
                    order.clone(),
                    "/purchase_units/0/description",
                    json!("x".repeat(128)),
                ),
                "INVALID_STRING_LENGTH",
                "/purchase_units/0/description",
            ),
            (
                with(
                    order.clone(),
                    "/payment_source/card/number",
                    json!("4012 8888 8888 1881"),
                ),
                "INVALID_PARAMETER_SYNTAX",
                "/payment_source/card/number",
            ),
            (
                with(
                    order.clone(),
                    "/payment_source/card/number",
                    json!("401288888888"),
                ),
                "INVALID_STRING_LENGTH",
                "/payment_source/card/number",
            ),
            (
                without(order.clone(), "/payment_source/card/expiry"),
                "MISSING_REQUIRED_PARAMETER",
                "/payment_source/card/expiry",
            ),
            (
                with(
                    order.clone(),
                    "/payment_source/card/expiry",
                    json!("2030-13"),
                ),
                "INVALID_PARAMETER_SYNTAX",
                "/payment_source/card/expiry",
            ),
            (
                with(
                    order.clone(),
                    "/payment_source/card/security_code",
                    json!("12"),
                ),
                "INVALID_STRING_LENGTH",
                "/payment_source/card/security_code",
            ),
            (
                with(
                    order.clone(),
                    "/payment_source/card/security_code",
                    json!("12a"),
                ),
                "INVALID_PARAMETER_SYNTAX",
                "/payment_source/card/security_code",
            ),
            (
                with(
                    order.clone(),
                    "/payment_source/card/billing_address/country_code",
                    json!("us"),
                ),
                "INVALID_PARAMETER_SYNTAX",
                "/payment_source/card/billing_address/country_code",
            ),
        ];
        for (index, (body, issue, field)) in cases.into_iter().enumerate() {
            let (status, error) = sandbox
                .create(&body, Some(&format!("schema-{index}")))
                .await;
            assert_eq!(status, 400, "{field}: {error}");
            assert_error(&error, "INVALID_REQUEST", issue);
            assert_eq!(
                error["message"],
                "Request is not well-formed, syntactically incorrect, or violates schema."
            );
            assert_eq!(error["details"][0]["field"], field);
            assert_eq!(error["details"][0]["location"], "body");
            if field.ends_with("/number") || field.ends_with("/security_code") {
                assert!(error["details"][0].get("value").is_none(), "{error}");
            }
        }

        let both = with(
            without(order.clone(), "/intent"),
            "/purchase_units/0/amount/value",
            json!(1),
        );
        let (status, error) = sandbox.create(&both, Some("schema-both")).await;
        assert_eq!(status, 400);
        assert_eq!(
            error["details"].as_array().map(Vec::len),
            Some(2),
            "every problem: {error}"
        );

        let (status, error) = answer(
            sandbox
                .post("/v2/checkout/orders", Some("not-json"))
                .header("content-type", "application/json")
                .body("{intent: CAPTURE"),
        )
        .await;
        assert_eq!(status, 400);
        assert_error(&error, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON");

        let (status, error) = answer(
            sandbox
                .post("/v2/checkout/orders", Some("no-content-type"))
                .body(order.to_string()),
        )
        .await;
        assert_eq!(
            (status, &error["name"]),
            (415, &json!("UNSUPPORTED_MEDIA_TYPE"))
        );
        assert!(sandbox.fake.captures().await.is_empty());
    }

    #[tokio::test]
    async fn business_rules_are_unprocessable_entities() {
        let sandbox = Sandbox::start().await;
        let order = card_order("Ada Lovelace");
        let amount = |currency: &str, value: &str| {
            with(
                order.clone(),
                "/purchase_units/0/amount",
                json!({"currency_code": currency, "value": value}),
            )
        };
        let cases = [
            (
                amount("USD", "10.001"),
                "DECIMAL_PRECISION",
                "/purchase_units/@reference_id=='ord_123'/amount/value",
            ),
            (
                amount("JPY", "25000.00"),
                "DECIMAL_PRECISION",
                "/purchase_units/@reference_id=='ord_123'/amount/value",
            ),
            (
                amount("USD", "0.00"),
                "CANNOT_BE_ZERO_OR_NEGATIVE",
                "/purchase_units/@reference_id=='ord_123'/amount/value",
            ),
            (
                amount("USD", "-5.00"),
                "CANNOT_BE_ZERO_OR_NEGATIVE",
                "/purchase_units/@reference_id=='ord_123'/amount/value",
            ),
            (
                amount("XYZ", "5.00"),
                "INVALID_CURRENCY_CODE",
                "/purchase_units/@reference_id=='ord_123'/amount/currency_code",
            ),
            (
                with(
                    order.clone(),
                    "/payment_source/card/expiry",
                    json!("2020-01"),
                ),
                "CARD_EXPIRED",
                "/payment_source/card/expiry",
            ),
            (
                with(
                    order.clone(),
                    "/payment_source/card/number",
                    json!("9999999999999995"),
                ),
                "CARD_BRAND_NOT_SUPPORTED",
                "/payment_source/card/number",
            ),
            (
                with(order.clone(), "/intent", json!("AUTHORIZE")),
                "AUTH_CAPTURE_NOT_ENABLED",
                "/intent",
            ),
        ];
        for (index, (body, issue, field)) in cases.into_iter().enumerate() {
            let (status, error) = sandbox.create(&body, Some(&format!("rules-{index}"))).await;
            assert_eq!(status, 422, "{issue}: {error}");
            assert_error(&error, "UNPROCESSABLE_ENTITY", issue);
            assert_eq!(error["details"][0]["field"], field);
        }
        assert!(sandbox.fake.captures().await.is_empty(), "nothing charged");

        let (status, order) = sandbox.create(&amount("JPY", "25000"), Some("yen")).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(sandbox.fake.captures().await[0].amount.value, "25000");
    }

    #[tokio::test]
    async fn a_card_needs_a_paypal_request_id() {
        let sandbox = Sandbox::start().await;
        let (status, error) = sandbox.create(&card_order("Ada Lovelace"), None).await;
        assert_eq!(status, 400);
        assert_error(&error, "INVALID_REQUEST", "PAYPAL_REQUEST_ID_REQUIRED");

        let too_long = "k".repeat(109);
        let (status, error) = sandbox
            .create(&card_order("Ada Lovelace"), Some(&too_long))
            .await;
        assert_eq!(status, 400);
        assert_error(&error, "INVALID_REQUEST", "INVALID_STRING_LENGTH");
        assert_eq!(error["details"][0]["field"], "PayPal-Request-Id");
        assert!(sandbox.fake.captures().await.is_empty());
    }

    #[tokio::test]
    async fn a_replayed_request_id_answers_200_with_the_same_order_and_charges_once() {
        let sandbox = Sandbox::start().await;
        let (first_status, first) = sandbox
            .create(&card_order("Ada Lovelace"), Some("same-key"))
            .await;
        let (second_status, second) = sandbox
            .create(&card_order("Ada Lovelace"), Some("same-key"))
            .await;
        assert_eq!((first_status, second_status), (201, 200));
        assert_eq!(first, second, "the stored order");
        assert_eq!(sandbox.fake.captures().await.len(), 1, "charged once");

        let (status, other) = sandbox
            .create(&card_order("Ada Lovelace"), Some("other-key"))
            .await;
        assert_eq!(status, 201);
        assert_ne!(other["id"], first["id"]);
        assert_eq!(sandbox.fake.captures().await.len(), 2);
    }

    #[tokio::test]
    async fn rejection_triggers_decline_the_capture_with_the_sandbox_code() {
        let sandbox = Sandbox::start().await;
        for (trigger, code) in REJECTION_TRIGGERS {
            let (status, order) = sandbox.create(&card_order(trigger), Some(trigger)).await;
            assert_eq!(status, 201, "{order}");
            assert_eq!(order["status"], "COMPLETED");
            let capture = &order["purchase_units"][0]["payments"]["captures"][0];
            assert_eq!(capture["status"], "DECLINED", "{trigger}");
            assert_eq!(
                capture["processor_response"],
                json!({"avs_code": "G", "cvv_code": "P", "response_code": code})
            );
        }
        let captures = sandbox.fake.captures().await;
        assert_eq!(
            captures.len(),
            REJECTION_TRIGGERS.len(),
            "declines are recorded"
        );
        assert!(captures.iter().all(|c| c.status == CaptureStatus::Declined));
        assert_eq!(
            serde_json::to_value(&captures[0]).expect("serializes")["status"],
            "DECLINED"
        );

        let (_, order) = sandbox
            .create(&card_order("CCREJECT-IF"), Some("CCREJECT-IF"))
            .await;
        let id = order["id"].as_str().expect("an id");
        let (status, error) = sandbox.capture(id, None, Some("capture-declined")).await;
        assert_eq!(status, 422);
        assert_error(&error, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED");
    }

    #[tokio::test]
    async fn an_order_without_a_card_waits_for_approval() {
        let sandbox = Sandbox::start().await;
        let order = without(card_order("Ada Lovelace"), "/payment_source");
        let (status, created) = sandbox.create(&order, None).await;
        assert_eq!(status, 201);
        assert_eq!(created["status"], "CREATED");
        assert!(
            created["links"]
                .as_array()
                .is_some_and(|links| links.iter().any(|l| l["rel"] == "approve"))
        );
        let id = created["id"].as_str().expect("an id");

        let (status, error) = sandbox.capture(id, None, None).await;
        assert_eq!(status, 422);
        assert_error(&error, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED");

        let (status, error) = sandbox.capture("5O190127TN364715T", None, None).await;
        assert_eq!(status, 404);
        assert_error(&error, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID");
        assert_eq!(error["details"][0]["location"], "path");

        let with_card = json!({ "payment_source": { "card": card("Ada Lovelace") } });
        let (status, error) = sandbox.capture(id, Some(&with_card), None).await;
        assert_eq!(status, 400);
        assert_error(&error, "INVALID_REQUEST", "PAYPAL_REQUEST_ID_REQUIRED");

        let (first_status, first) = sandbox
            .capture(id, Some(&with_card), Some("capture-1"))
            .await;
        let (second_status, second) = sandbox
            .capture(id, Some(&with_card), Some("capture-1"))
            .await;
        assert_eq!((first_status, second_status), (201, 200));
        assert_eq!(first["status"], "COMPLETED");
        assert_eq!(first, second);
        assert_eq!(sandbox.fake.captures().await.len(), 1, "captured once");
        assert_eq!(sandbox.fake.captures().await[0].request_id, "capture-1");

        let (status, error) = sandbox
            .capture(id, Some(&with_card), Some("capture-2"))
            .await;
        assert_eq!(status, 422);
        assert_error(&error, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED");
    }

    #[tokio::test]
    async fn faults_hit_every_call_the_token_included() {
        let sandbox = Sandbox::start().await;
        let response = rate_limited(&sandbox.faults, "paypal", || sandbox.token_request()).await;
        let error: Value = response.json().await.expect("JSON");
        assert_eq!(error["name"], "RATE_LIMIT_REACHED");
        assert!(
            error["debug_id"].is_string() && error["details"] == json!([]),
            "{error}"
        );
        assert_eq!(error["links"][0]["rel"], "information_link");

        inject(&sandbox.faults, "paypal", FaultMode::Fail, None);
        let (status, error) = sandbox
            .create(&card_order("Ada Lovelace"), Some("down"))
            .await;
        assert_eq!(
            (status, &error["name"]),
            (503, &json!("SERVICE_UNAVAILABLE"))
        );
        assert!(sandbox.fake.captures().await.is_empty());

        slow_then_timeout(&sandbox.faults, "paypal", || sandbox.token_request()).await;
    }
}
