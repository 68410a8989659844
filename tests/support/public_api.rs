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
