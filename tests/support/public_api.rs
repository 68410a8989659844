//! The requests the site makes to the public API, and what it sends in them: each goes through
//! the [`TestApp`], so that its answer is held to the contract and kept for the card-data scan.

use serde_json::{Value, json};

use crate::app::TestApp;
use crate::card_scan::{CARD_NUMBER, SECURITY_CODE};

/// A valid registration body.
pub fn registration(email: &str, card_name: &str, newsletter: bool) -> Value {
    json!({
        "ticket": "conference",
        "attendee": {"firstName": "Ada", "lastName": "Lovelace", "email": email, "organization": "Analytical Engines"},
        "card": {"name": card_name, "number": CARD_NUMBER, "expiry": "2030-12", "securityCode": SECURITY_CODE},
        "billingAddress": {"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB"},
        "newsletter": newsletter
    })
}

/// A valid card number of the same brand as the tests' card, different for each `n` (so that a
/// test can be a card tester running many numbers).
pub fn card_number(n: u32) -> String {
    let body = format!("4{n:014}");
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, digit)| {
            let digit = u32::from(digit - b'0');
            match (i % 2 == 0, digit * 2) {
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
                (false, _) => digit,
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// A fresh attendee email address.
pub fn unique_email(who: &str) -> String {
    format!("{who}.{}@example.org", uuid::Uuid::new_v4().simple())
}

impl TestApp {
    /// POSTs a registration, with an `Idempotency-Key` if `key` is given; returns the status and
    /// the body as JSON.
    pub async fn register(&self, body: &Value, key: Option<&str>) -> (u16, Value) {
        self.post_raw(body.to_string(), "application/json", key)
            .await
    }

    /// POSTs a registration from another client address (`from`, a loopback address such as
    /// 127.0.0.2: Linux answers on all of 127.0.0.0/8); returns the status, the body as JSON and
    /// the `Retry-After` header.
    pub async fn register_from(
        &self,
        from: std::net::IpAddr,
        body: &Value,
    ) -> (u16, Value, Option<String>) {
        let client = reqwest::Client::builder()
            .local_address(from)
            .build()
            .expect("a client");
        let response = client
            .post(self.at("/api/registrations"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent");
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (status, body) = self.read_answer("post", response).await;
        (status, body, retry_after)
    }

    /// POSTs raw bytes to `/api/registrations`; returns the status and the body as JSON.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: &str,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .client()
            .post(self.at("/api/registrations"))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        self.read_answer("post", request.send().await.expect("request sent"))
            .await
    }
}
