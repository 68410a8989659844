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

mod errors;
mod requests;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::wire::{basic_credentials, bearer_token, has_media_type, lock, random_hex, with_faults};
use crate::local_providers::faults::Faults;
use crate::local_providers::records::{PayPalOperation as Operation, Records, Stored};
use errors::{Detail, Issue, malformed_json, paypal_error, reject};
use requests::{OrderRequest, Payment, check_capture, check_card, check_order, check_order_rules};

/// Where PayPal's links point (the sandbox: the fake stands in for it).
const API: &str = "https://api-m.sandbox.paypal.com";

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

    /// What every Orders call checks first: a live access token (else `401`), then a
    /// well-formed `PayPal-Request-Id`, if any (else `400`).
    fn authorized_request_id<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<&'h str>, Box<Response>> {
        if !self.authorized(headers) {
            return Err(Box::new(paypal_error(StatusCode::UNAUTHORIZED, &[])));
        }
        request_id(headers).map_err(|invalid| Box::new(reject(vec![invalid])))
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
            .page(crate::local_providers::records::Listing::Captures, &request)
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
    let request_id = match fake.authorized_request_id(&headers) {
        Ok(request_id) => request_id,
        Err(refused) => return *refused,
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
    let request_id = match fake.authorized_request_id(&headers) {
        Ok(request_id) => request_id,
        Err(refused) => return *refused,
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
    let card = match check_capture(&body, request_id) {
        Ok(card) => card,
        Err(details) => return reject(details),
    };
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
