//! The payment function's answers, in the shapes the API contract (and the site) expect:
//! `{"error": ...}` always, plus `fields` for invalid input and `reason` for a decline. Each says
//! what the attendee can do, never an internal detail; those that a retry can fix say when
//! (`Retry-After`).

use domain::{FieldErrors, OrderPlaced};
use function_model::HttpResponse;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

pub(crate) fn error_response(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "error": message }))
}

/// An error that a retry after `seconds` can fix.
fn retry_after(status: StatusCode, message: &str, seconds: &'static str) -> HttpResponse {
    error_response(status, message)
        .with_header(header::RETRY_AFTER, HeaderValue::from_static(seconds))
}

pub(crate) fn field_errors_response(errors: &FieldErrors) -> HttpResponse {
    HttpResponse::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "error": "Some fields need attention.", "fields": errors }),
    )
}

pub(crate) fn too_large(max_bytes: usize) -> HttpResponse {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("The request body is larger than {} KiB.", max_bytes / 1024),
    )
}

pub(crate) fn not_json_media_type() -> HttpResponse {
    error_response(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Send the registration as application/json.",
    )
}

pub(crate) fn invalid_json(error: &serde_json::Error) -> HttpResponse {
    error_response(
        StatusCode::BAD_REQUEST,
        &format!("The request body is not valid JSON ({error})."),
    )
}

pub(crate) fn unusable_key(reason: &str) -> HttpResponse {
    error_response(
        StatusCode::BAD_REQUEST,
        &format!("Idempotency-Key {reason}."),
    )
}

pub(crate) fn key_used_for_another_registration() -> HttpResponse {
    error_response(
        StatusCode::CONFLICT,
        "This Idempotency-Key was already used for a different registration. Submit again with a new key.",
    )
}

pub(crate) fn key_in_progress() -> HttpResponse {
    retry_after(
        StatusCode::CONFLICT,
        "A registration with this Idempotency-Key is still being processed. Try again in a moment.",
        "1",
    )
}

pub(crate) fn declined(reason: &str) -> HttpResponse {
    HttpResponse::json(
        StatusCode::PAYMENT_REQUIRED,
        &json!({
            "error": "Your card was declined. Nothing was charged; please check the details or use another card.",
            "reason": reason,
        }),
    )
}

/// Past a card-testing limit: nothing was charged, and the provider was not asked. When to try
/// again is `Retry-After`, in seconds (the site says it as a time of day).
pub(crate) fn too_many_declines(wait: std::time::Duration) -> HttpResponse {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many payments were declined. Nothing was charged: please wait before trying again, or contact the organisers.",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
}

pub(crate) fn payment_unavailable() -> HttpResponse {
    retry_after(
        StatusCode::SERVICE_UNAVAILABLE,
        "The payment service is temporarily unavailable. You were not charged twice: please try again in a moment.",
        "5",
    )
}

pub(crate) fn payment_rejected() -> HttpResponse {
    error_response(
        StatusCode::BAD_GATEWAY,
        "We could not process this payment. Please try again later or contact the organisers.",
    )
}

/// A paid registration whose order could not be queued: the attendee submits again, and the
/// charge replays.
pub(crate) fn not_published() -> HttpResponse {
    retry_after(
        StatusCode::SERVICE_UNAVAILABLE,
        "Your payment went through but we could not finish your registration. Please submit again: you will not be charged twice.",
        "2",
    )
}

/// The idempotency records could not be read: nothing was charged.
pub(crate) fn records_unavailable() -> HttpResponse {
    retry_after(
        StatusCode::SERVICE_UNAVAILABLE,
        "Registrations are temporarily unavailable. Nothing was charged: please try again in a moment.",
        "5",
    )
}

pub(crate) fn method_not_allowed(allow: &'static str) -> HttpResponse {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Use {allow} on this route."),
    )
    .with_header(header::ALLOW, HeaderValue::from_static(allow))
}

pub(crate) fn no_such_route() -> HttpResponse {
    error_response(StatusCode::NOT_FOUND, "No such API route.")
}

pub(crate) fn registered(order: &OrderPlaced) -> HttpResponse {
    HttpResponse::json(
        StatusCode::CREATED,
        &json!({
            "registrationId": order.order_id,
            "status": "confirmed",
            "amount": order.amount,
            "ticket": order.ticket,
            "email": order.attendee.email,
            "captureId": order.payment.capture_id,
        }),
    )
}
