//! The payment function's answers, in the shapes the API contract (and the site) expect:
//! `{"error": ...}` always, plus `fields` for invalid input and `reason` for a decline.

use domain::{FieldErrors, OrderPlaced};
use function_model::HttpResponse;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

pub(crate) fn error_response(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "error": message }))
}

pub(crate) fn field_errors_response(errors: &FieldErrors) -> HttpResponse {
    HttpResponse::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "error": "Some fields need attention.", "fields": errors }),
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

pub(crate) fn method_not_allowed(allow: &'static str) -> HttpResponse {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Use {allow} on this route."),
    )
    .with_header(header::ALLOW, HeaderValue::from_static(allow))
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
