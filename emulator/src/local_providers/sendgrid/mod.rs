//! A local SendGrid that speaks v3 Mail Send (`POST /v3/mail/send`), as `tsg_mail_v3.json`
//! describes it.
//!
//! Why: the email function's real SendGrid client runs unchanged on a laptop, pointed here, and
//! what it sends lands in the inspector's outbox. The fake rejects what SendGrid rejects, with its
//! status and error body (`{"errors": [{"message", "field", "help"}]}`, one entry per problem):
//! a wrong API key, a body not sent as `application/json`, a missing `from`, an invalid
//! recipient, no subject, no content, HTML before plain text, a custom argument that is not a
//! string. So a client bug fails here first.
//!
//! As at SendGrid, an accepted email answers `202` with an empty body, and
//! `mail_settings.sandbox_mode.enable: true` only validates: `200`, nothing kept.
//!
//! Limits: templates are not rendered (a `template_id` only lifts the subject and content
//! requirements), and attachments, scheduling and settings other than sandbox mode are accepted
//! without being checked.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::wire::{bearer_token, has_media_type, is_email, json_kind, random_hex, with_faults};
use crate::local_providers::faults::Faults;
use crate::local_providers::records::Records;

const MAX_PERSONALIZATIONS: usize = 1000;

/// An email as the inspector shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEmail {
    /// Every `to` address of every personalization.
    pub to: Vec<String>,
    /// The first personalization's subject, else the message's.
    pub subject: String,
    /// The `text/html` content (empty without one).
    pub html: String,
    /// The `text/plain` content (empty without one).
    pub text: String,
    /// `custom_args.order_id`, from the first personalization or the message (empty without one).
    pub order_id: String,
    pub sent_at: DateTime<Utc>,
}

pub struct SendGridFake {
    api_key: String,
    faults: Arc<Faults>,
    /// The outbox.
    records: Records,
}

impl SendGridFake {
    pub fn new(api_key: String, faults: Arc<Faults>, records: Records) -> Arc<Self> {
        Arc::new(Self {
            api_key,
            faults,
            records,
        })
    }

    /// The route, at SendGrid's own path (`/v3/mail/send`).
    pub fn router(self: &Arc<Self>) -> Router {
        let routes = Router::new()
            .route("/v3/mail/send", post(send_mail))
            .with_state(self.clone());
        with_faults(routes, self.faults.clone(), "sendgrid", |status| {
            let message = status.canonical_reason().unwrap_or("error").to_lowercase();
            sendgrid_error(status, &[Problem::general(message)])
        })
    }

    /// Every email accepted outside sandbox mode, oldest first.
    #[cfg(test)]
    async fn outbox(&self) -> Vec<SentEmail> {
        let request = durable::PageRequest {
            limit: Some(durable::page::MAX_LIMIT),
            cursor: None,
        };
        let page = self
            .records
            .page(crate::local_providers::records::Listing::Emails, &request);
        page.await
            .expect("outbox readable")
            .items
            .into_iter()
            .rev()
            .collect()
    }
}

/// One entry of SendGrid's `errors`.
struct Problem {
    field: Option<String>,
    message: String,
}

impl Problem {
    fn general(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }

    fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

fn sendgrid_error(status: StatusCode, problems: &[Problem]) -> Response {
    let errors: Vec<Value> = problems
        .iter()
        .map(|problem| json!({ "message": problem.message, "field": problem.field, "help": null }))
        .collect();
    (status, Json(json!({ "errors": errors }))).into_response()
}

/// `POST /v3/mail/send`.
async fn send_mail(
    State(fake): State<Arc<SendGridFake>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let unauthorized = match bearer_token(&headers) {
        None => Some("authorization required"),
        Some(key) if key != fake.api_key => {
            Some("The provided authorization grant is invalid, expired, or revoked")
        }
        Some(_) => None,
    };
    if let Some(message) = unauthorized {
        return sendgrid_error(StatusCode::UNAUTHORIZED, &[Problem::general(message)]);
    }
    if !has_media_type(&headers, "application/json") {
        return sendgrid_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &[Problem::general("Content-Type should be application/json.")],
        );
    }
    let mail = match serde_json::from_slice::<Value>(&body) {
        Ok(mail @ Value::Object(_)) => mail,
        _ => return sendgrid_error(StatusCode::BAD_REQUEST, &[Problem::general("Bad Request")]),
    };
    let problems = check_mail(&mail);
    if !problems.is_empty() {
        return sendgrid_error(StatusCode::BAD_REQUEST, &problems);
    }
    if mail["mail_settings"]["sandbox_mode"]["enable"] == true {
        return StatusCode::OK.into_response();
    }
    if let Err(e) = fake.records.add_email(&sent_email(&mail, Utc::now())).await {
        tracing::error!("the local SendGrid's outbox is unavailable: {e}");
        return sendgrid_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &[Problem::general("service unavailable")],
        );
    }
    (StatusCode::ACCEPTED, [("x-message-id", random_hex(22))]).into_response()
}

/// Every way `mail` breaks SendGrid's rules, as SendGrid words them.
fn check_mail(mail: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let personalizations = match mail.get("personalizations") {
        Some(Value::Array(list)) if !list.is_empty() => list.as_slice(),
        _ => {
            problems.push(Problem::at(
                "personalizations",
                "The personalizations field is required and must have at least one personalization.",
            ));
            &[]
        }
    };
    if personalizations.len() > MAX_PERSONALIZATIONS {
        problems.push(Problem::at(
            "personalizations",
            format!(
                "You may not have more than {MAX_PERSONALIZATIONS} personalizations per request."
            ),
        ));
    }
    let mut every_one_has_a_subject = !personalizations.is_empty();
    for (index, personalization) in personalizations.iter().enumerate() {
        let at = format!("personalizations.{index}");
        if !matches!(personalization.get("to"), Some(Value::Array(to)) if !to.is_empty()) {
            problems.push(Problem::at(
                format!("{at}.to"),
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
            ));
        }
        for key in ["to", "cc", "bcc"] {
            if let Some(Value::Array(recipients)) = personalization.get(key) {
                for (position, recipient) in recipients.iter().enumerate() {
                    check_address(&mut problems, recipient, &format!("{at}.{key}.{position}"));
                }
            }
        }
        match personalization.get("subject") {
            None => every_one_has_a_subject = false,
            Some(subject) => {
                if !is_text(subject) {
                    every_one_has_a_subject = false;
                    problems.push(Problem::at(
                        format!("{at}.subject"),
                        "The subject must be a string at least one character in length.",
                    ));
                }
            }
        }
        if let Some(args) = personalization.get("custom_args") {
            check_custom_args(&mut problems, args, &format!("{at}.custom_args"));
        }
    }
    match mail.get("from") {
        Some(from @ Value::Object(_)) => check_address(&mut problems, from, "from"),
        _ => problems.push(Problem::at(
            "from",
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.  e.g. {\"email\" : \"example@example.com\"}  or {\"email\" : \"example@example.com\", \"name\" : \"Example Recipient\"}.",
        )),
    }
    if let Some(reply_to) = mail.get("reply_to") {
        check_address(&mut problems, reply_to, "reply_to");
    }
    let has_template = mail.get("template_id").is_some_and(is_text);
    match mail.get("subject") {
        Some(subject) if !is_text(subject) => problems.push(Problem::at(
            "subject",
            "The subject must be a string at least one character in length.",
        )),
        None if !has_template && !every_one_has_a_subject => problems.push(Problem::at(
            "subject",
            "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
        )),
        _ => {}
    }
    match mail.get("content") {
        Some(Value::Array(blocks)) if !blocks.is_empty() => check_content(&mut problems, blocks),
        None if has_template => {}
        _ => problems.push(Problem::at(
            "content",
            "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.",
        )),
    }
    if let Some(args) = mail.get("custom_args") {
        check_custom_args(&mut problems, args, "custom_args");
    }
    if let Some(enable) = mail.pointer("/mail_settings/sandbox_mode/enable")
        && !enable.is_boolean()
    {
        problems.push(Problem::at(
            "mail_settings.sandbox_mode.enable",
            format!(
                "Invalid type. Expected: boolean, given: {}.",
                json_kind(enable)
            ),
        ));
    }
    problems
}

/// A non-empty string.
fn is_text(value: &Value) -> bool {
    value.as_str().is_some_and(|text| !text.is_empty())
}

/// `{email, name?}` with a valid address.
fn check_address(problems: &mut Vec<Problem>, address: &Value, at: &str) {
    if !address
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(is_email)
    {
        problems.push(Problem::at(
            format!("{at}.email"),
            "Does not contain a valid address.",
        ));
    }
    if let Some(name) = address.get("name")
        && !name.is_string()
    {
        problems.push(Problem::at(
            format!("{at}.name"),
            format!(
                "Invalid type. Expected: string, given: {}.",
                json_kind(name)
            ),
        ));
    }
}

/// Content blocks: a non-empty MIME type and value each; `text/plain` first, then `text/html`,
/// then any other type.
fn check_content(problems: &mut Vec<Problem>, blocks: &[Value]) {
    let rank = |kind: &str| match kind {
        "text/plain" => 0,
        "text/html" => 1,
        _ => 2,
    };
    let mut previous_rank = 0;
    for (index, block) in blocks.iter().enumerate() {
        let at = format!("content.{index}");
        match block.get("type").and_then(Value::as_str) {
            Some(kind) if !kind.is_empty() && !kind.contains([';', '\r', '\n']) => {
                if rank(kind) < previous_rank {
                    problems.push(Problem::at(
                        format!("{at}.type"),
                        "If present, text/plain must be first, followed by text/html, followed by any other content.",
                    ));
                }
                previous_rank = previous_rank.max(rank(kind));
            }
            _ => problems.push(Problem::at(
                format!("{at}.type"),
                "The content type must be a string at least one character in length.",
            )),
        }
        if !block.get("value").is_some_and(is_text) {
            problems.push(Problem::at(
                format!("{at}.value"),
                "The content value must be a string at least one character in length.",
            ));
        }
    }
}

/// `custom_args`: an object whose values are strings.
fn check_custom_args(problems: &mut Vec<Problem>, args: &Value, at: &str) {
    let Some(args) = args.as_object() else {
        problems.push(Problem::at(
            at,
            format!(
                "Invalid type. Expected: object, given: {}.",
                json_kind(args)
            ),
        ));
        return;
    };
    for (name, value) in args {
        if !value.is_string() {
            problems.push(Problem::at(
                format!("{at}.{name}"),
                format!(
                    "Invalid type. Expected: string, given: {}.",
                    json_kind(value)
                ),
            ));
        }
    }
}

/// What the inspector keeps of an accepted email.
fn sent_email(mail: &Value, sent_at: DateTime<Utc>) -> SentEmail {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let first = &mail["personalizations"][0];
    let content = |kind: &str| {
        mail["content"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|block| block["type"] == kind)
            .map_or_else(String::new, |block| text(&block["value"]))
    };
    // A personalization's value wins over the message's.
    let either = |personal: &Value, message: &Value| {
        personal
            .as_str()
            .or(message.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    SentEmail {
        to: mail["personalizations"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|personalization| personalization["to"].as_array().into_iter().flatten())
            .map(|recipient| text(&recipient["email"]))
            .collect(),
        subject: either(&first["subject"], &mail["subject"]),
        html: content("text/html"),
        text: content("text/plain"),
        order_id: either(
            &first["custom_args"]["order_id"],
            &mail["custom_args"]["order_id"],
        ),
        sent_at,
    }
}

#[cfg(test)]
mod tests;
