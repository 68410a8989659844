//! PayPal's error answers: the issues this fake raises (codes, descriptions, statuses) and the
//! error body, `{name, message, debug_id, details, links}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::local_providers::wire::random_hex;

/// The issues this fake raises, with PayPal's codes, descriptions and statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Issue {
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
pub(super) struct Detail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) location: Option<&'static str>,
    pub(super) issue: &'static str,
    pub(super) description: &'static str,
    #[serde(skip)]
    pub(super) status: StatusCode,
}

impl Detail {
    pub(super) fn new(
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

pub(super) fn malformed_json() -> Detail {
    Detail::new(
        Issue::MalformedRequestJson,
        Some("/".into()),
        None,
        Some("body"),
    )
}

/// Answers with the status of the details' issues (they share one).
pub(super) fn reject(details: Vec<Detail>) -> Response {
    let status = details
        .first()
        .map_or(StatusCode::BAD_REQUEST, |detail| detail.status);
    paypal_error(status, &details)
}

/// PayPal's error body: `{name, message, debug_id, details, links}`.
pub(super) fn paypal_error(status: StatusCode, details: &[Detail]) -> Response {
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
