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
    let response = rate_limited(&server.faults, "sendgrid", || server.send(&confirmation())).await;
    let error: Value = response.json().await.expect("JSON");
    assert_eq!(
        error,
        json!({"errors": [{"message": "too many requests", "field": null, "help": null}]})
    );
    assert!(server.fake.outbox().await.is_empty());
    slow_then_timeout(&server.faults, "sendgrid", || server.send(&sandboxed)).await;
}
