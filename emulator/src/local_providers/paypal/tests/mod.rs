use reqwest::{Client, RequestBuilder};

use super::*;
use crate::local_providers::faults::FaultMode;
use crate::local_providers::wire::testing::{
    self, inject, rate_limited, serve, slow_then_timeout, with, without,
};

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
            crate::local_providers::records::testing::records().await,
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

mod requests;
