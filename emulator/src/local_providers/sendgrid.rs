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
mod tests {
    use reqwest::{Client, RequestBuilder};

    use super::*;
    use crate::local_providers::wire::testing::{
        answer, rate_limited, serve, slow_then_timeout, with, without,
    };

    const API_KEY: &str = "SG.local-key";

    struct Server {
        fake: Arc<SendGridFake>,
        faults: Arc<Faults>,
        url: String,
        http: Client,
    }

    impl Server {
        async fn start() -> Self {
            let faults = Arc::new(Faults::default());
            let records = crate::local_providers::records::testing::records().await;
            let fake = SendGridFake::new(API_KEY.into(), faults.clone(), records);
            let url = serve(fake.router()).await;
            Self {
                fake,
                faults,
                url,
                http: Client::new(),
            }
        }

        fn send(&self, mail: &Value) -> RequestBuilder {
            self.http
                .post(format!("{}/v3/mail/send", self.url))
                .bearer_auth(API_KEY)
                .json(mail)
        }

        async fn send_and_read(&self, mail: &Value) -> (u16, Value) {
            answer(self.send(mail)).await
        }
    }

    /// What the email function sends: one recipient, both bodies, the order id as a custom arg.
    fn confirmation() -> Value {
        json!({
            "personalizations": [{
                "to": [{ "email": "ada@example.com", "name": "Ada Lovelace" }],
                "custom_args": { "order_id": "ord_123" },
            }],
            "from": { "email": "tickets@conference.example", "name": "RustConf" },
            "subject": "Your ticket",
            "content": [
                { "type": "text/plain", "value": "See you there." },
                { "type": "text/html", "value": "<p>See you there.</p>" },
            ],
        })
    }

    #[tokio::test]
    async fn accepts_a_valid_email_with_202_and_keeps_it() {
        let server = Server::start().await;
        let response = server
            .send(&confirmation())
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 202);
        assert!(response.headers().contains_key("x-message-id"));
        assert_eq!(response.text().await.expect("a body"), "", "an empty body");

        let outbox = server.fake.outbox().await;
        assert_eq!(outbox.len(), 1);
        let sent = serde_json::to_value(&outbox[0]).expect("serializes");
        assert_eq!(sent["to"], json!(["ada@example.com"]));
        assert_eq!(sent["subject"], "Your ticket");
        assert_eq!(sent["text"], "See you there.");
        assert_eq!(sent["html"], "<p>See you there.</p>");
        assert_eq!(sent["orderId"], "ord_123");
        assert!(sent["sentAt"].is_string());
    }

    #[tokio::test]
    async fn needs_the_configured_api_key() {
        let server = Server::start().await;
        let url = format!("{}/v3/mail/send", server.url);
        for (request, message) in [
            (
                server.http.post(&url).json(&confirmation()),
                "authorization required",
            ),
            (
                server
                    .http
                    .post(&url)
                    .bearer_auth("SG.wrong")
                    .json(&confirmation()),
                "The provided authorization grant is invalid, expired, or revoked",
            ),
            (
                server
                    .http
                    .post(&url)
                    .basic_auth("apikey", Some(API_KEY))
                    .json(&confirmation()),
                "authorization required",
            ),
        ] {
            let (status, body) = answer(request).await;
            assert_eq!(status, 401);
            assert_eq!(
                body,
                json!({"errors": [{"message": message, "field": null, "help": null}]})
            );
        }
        assert!(server.fake.outbox().await.is_empty());
    }

    #[tokio::test]
    async fn rejects_what_sendgrid_rejects_naming_each_field() {
        let server = Server::start().await;
        let mail = confirmation();
        let many = Value::Array(vec![mail["personalizations"][0].clone(); 1001]);
        let cases = [
            (
                without(mail.clone(), "/personalizations"),
                "personalizations",
            ),
            (
                with(mail.clone(), "/personalizations", json!([])),
                "personalizations",
            ),
            (
                with(mail.clone(), "/personalizations", many),
                "personalizations",
            ),
            (
                without(mail.clone(), "/personalizations/0/to"),
                "personalizations.0.to",
            ),
            (
                with(mail.clone(), "/personalizations/0/to", json!([])),
                "personalizations.0.to",
            ),
            (
                with(
                    mail.clone(),
                    "/personalizations/0/to/0/email",
                    json!("ada.example.com"),
                ),
                "personalizations.0.to.0.email",
            ),
            (
                with(
                    mail.clone(),
                    "/personalizations/0/cc",
                    json!([{"email": "not an address"}]),
                ),
                "personalizations.0.cc.0.email",
            ),
            (without(mail.clone(), "/from"), "from"),
            (
                with(mail.clone(), "/from/email", json!("tickets")),
                "from.email",
            ),
            (without(mail.clone(), "/subject"), "subject"),
            (with(mail.clone(), "/subject", json!("")), "subject"),
            (without(mail.clone(), "/content"), "content"),
            (with(mail.clone(), "/content", json!([])), "content"),
            (
                with(
                    mail.clone(),
                    "/content",
                    json!([
                        { "type": "text/html", "value": "<p>See you there.</p>" },
                        { "type": "text/plain", "value": "See you there." },
                    ]),
                ),
                "content.1.type",
            ),
            (
                with(mail.clone(), "/content/0/value", json!("")),
                "content.0.value",
            ),
            (
                with(mail.clone(), "/content/0/type", json!("")),
                "content.0.type",
            ),
            (
                with(
                    mail.clone(),
                    "/personalizations/0/custom_args/order_id",
                    json!(123),
                ),
                "personalizations.0.custom_args.order_id",
            ),
            (
                with(mail.clone(), "/custom_args", json!("ord_123")),
                "custom_args",
            ),
            (
                with(
                    mail.clone(),
                    "/mail_settings",
                    json!({"sandbox_mode": {"enable": "true"}}),
                ),
                "mail_settings.sandbox_mode.enable",
            ),
        ];
        for (body, field) in cases {
            let (status, error) = server.send_and_read(&body).await;
            assert_eq!(status, 400, "{field}: {error}");
            let errors = error["errors"].as_array().expect("errors");
            assert_eq!(errors.len(), 1, "{error}");
            assert_eq!(errors[0]["field"], field, "{error}");
            assert!(errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(errors[0]["help"].is_null());
        }

        let (status, error) = server
            .send_and_read(&without(without(mail.clone(), "/from"), "/subject"))
            .await;
        assert_eq!(status, 400);
        let fields: Vec<&Value> = error["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| &e["field"])
            .collect();
        assert_eq!(fields, [&json!("from"), &json!("subject")], "every problem");

        let (status, error) = answer(
            server
                .http
                .post(format!("{}/v3/mail/send", server.url))
                .bearer_auth(API_KEY)
                .body(mail.to_string()),
        )
        .await;
        assert_eq!(status, 415);
        assert_eq!(
            error,
            json!({"errors": [{"message": "Content-Type should be application/json.", "field": null, "help": null}]})
        );

        for body in ["not json", "[]"] {
            let (status, error) = answer(
                server
                    .http
                    .post(format!("{}/v3/mail/send", server.url))
                    .bearer_auth(API_KEY)
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
            assert_eq!(status, 400);
            assert_eq!(error["errors"][0]["field"], Value::Null);
        }
        assert!(server.fake.outbox().await.is_empty());
    }

    #[tokio::test]
    async fn subject_and_content_may_come_from_personalizations_or_a_template() {
        let server = Server::start().await;
        let per_personalization = with(
            without(confirmation(), "/subject"),
            "/personalizations/0/subject",
            json!("Your ticket, Ada"),
        );
        assert_eq!(server.send_and_read(&per_personalization).await.0, 202);
        let templated = with(
            without(without(confirmation(), "/subject"), "/content"),
            "/template_id",
            json!("d-0123456789abcdef"),
        );
        assert_eq!(server.send_and_read(&templated).await.0, 202);
        let outbox = server.fake.outbox().await;
        assert_eq!(outbox[0].subject, "Your ticket, Ada");
        assert_eq!((outbox[1].html.as_str(), outbox[1].text.as_str()), ("", ""));
    }

    #[tokio::test]
    async fn sandbox_mode_validates_without_sending() {
        let server = Server::start().await;
        let sandboxed = with(
            confirmation(),
            "/mail_settings",
            json!({"sandbox_mode": {"enable": true}}),
        );
        let (status, body) = server.send_and_read(&sandboxed).await;
        assert_eq!((status, body), (200, Value::Null));
        let invalid = without(sandboxed, "/from");
        assert_eq!(
            server.send_and_read(&invalid).await.0,
            400,
            "still validated"
        );
        assert!(server.fake.outbox().await.is_empty(), "nothing kept");
    }

    #[tokio::test]
    async fn faults_answer_in_sendgrids_shape() {
        let server = Server::start().await;
        let sandboxed = with(
            confirmation(),
            "/mail_settings",
            json!({"sandbox_mode": {"enable": true}}),
        );
        let response =
            rate_limited(&server.faults, "sendgrid", || server.send(&confirmation())).await;
        let error: Value = response.json().await.expect("JSON");
        assert_eq!(
            error,
            json!({"errors": [{"message": "too many requests", "field": null, "help": null}]})
        );
        assert!(server.fake.outbox().await.is_empty());
        slow_then_timeout(&server.faults, "sendgrid", || server.send(&sandboxed)).await;
    }
}
