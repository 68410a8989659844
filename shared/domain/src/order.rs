//! The order: what a paid registration becomes, and the `OrderPlaced` message that carries it from
//! the payment function, through the queue, to the registration workflow.
//!
//! `OrderPlaced` is versioned JSON holding no card data (it has no field that could hold a
//! [`crate::Card`]). Consumers parse it with [`OrderPlaced::from_json`], which checks every field
//! through the same domain types as the request did.

use crate::money::Money;
use crate::text::Attendee;
use crate::ticket::TicketId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Identifies one paid registration; it is also the registration id shown to the attendee, the
/// workflow execution's name and the order row's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(Uuid);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not an order id")]
pub struct OrderIdError;

impl OrderId {
    /// A fresh id, for a registration sent without an idempotency key.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The id for a registration sent with `key`: the same key always names the same order, so a
    /// retried request (even after a crash between charging and answering) cannot make a second one.
    pub fn for_idempotency_key(key: &str) -> Self {
        const NAMESPACE: Uuid = Uuid::from_u128(0x5f0c_7a1e_2b7d_4c57_9a43_6c1d_8e0b_3f21);
        Self(Uuid::new_v5(&NAMESPACE, key.as_bytes()))
    }

    pub fn parse(raw: &str) -> Result<Self, OrderIdError> {
        Uuid::try_parse(raw).map(Self).map_err(|_| OrderIdError)
    }
}

impl TryFrom<String> for OrderId {
    type Error = OrderIdError;
    fn try_from(raw: String) -> Result<Self, OrderIdError> {
        Self::parse(&raw)
    }
}

impl From<OrderId> for String {
    fn from(id: OrderId) -> String {
        id.to_string()
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The ticket as the order records it: its id and the name it was sold under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRef {
    pub id: TicketId,
    pub name: String,
}

/// Proof of payment: the provider and its capture id. No card data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentReceipt {
    pub provider: String,
    pub capture_id: String,
}

/// A paid registration, as published on the queue. Version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderPlaced {
    pub version: u32,
    pub order_id: OrderId,
    pub placed_at: DateTime<Utc>,
    pub ticket: TicketRef,
    pub amount: Money,
    pub attendee: Attendee,
    pub newsletter: bool,
    pub payment: PaymentReceipt,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderPlacedError {
    #[error("not a valid OrderPlaced message: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("OrderPlaced version {0} is not supported (expected {expected})", expected = OrderPlaced::VERSION)]
    UnsupportedVersion(u32),
}

impl OrderPlaced {
    pub const VERSION: u32 = 1;

    /// Parses and checks a message; every field goes through its domain type.
    pub fn from_json(json: &str) -> Result<Self, OrderPlacedError> {
        Self::from_value(serde_json::from_str(json)?)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Self, OrderPlacedError> {
        let order: OrderPlaced = serde_json::from_value(value)?;
        if order.version != Self::VERSION {
            return Err(OrderPlacedError::UnsupportedVersion(order.version));
        }
        Ok(order)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("OrderPlaced serializes: plain fields only")
    }
}

/// What a workflow task receives: the order, checked as [`OrderPlaced::from_value`] does.
impl TryFrom<serde_json::Value> for OrderPlaced {
    type Error = OrderPlacedError;

    fn try_from(value: serde_json::Value) -> Result<Self, OrderPlacedError> {
        Self::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The documented example message (`data/order-placed.example.json`).
    fn sample() -> serde_json::Value {
        serde_json::from_str(include_str!("../data/order-placed.example.json"))
            .expect("the example is JSON")
    }

    #[test]
    fn parses_and_round_trips() {
        let order = OrderPlaced::from_value(sample()).expect("valid");
        assert_eq!(order.attendee.email.as_str(), "ada@example.org");
        assert_eq!(serde_json::to_value(&order).expect("serializes"), sample());
        assert_eq!(
            OrderPlaced::from_json(&order.to_json()).expect("round trip"),
            order
        );
    }

    #[test]
    fn rejects_bad_fields_versions_and_extra_fields() {
        let mut bad_email = sample();
        bad_email["attendee"]["email"] = json!("nope");
        assert!(OrderPlaced::from_value(bad_email).is_err());
        let mut v2 = sample();
        v2["version"] = json!(2);
        assert!(matches!(
            OrderPlaced::from_value(v2),
            Err(OrderPlacedError::UnsupportedVersion(2))
        ));
        let mut with_card = sample();
        with_card["card"] = json!({"number": "4012888888881881"});
        assert!(
            OrderPlaced::from_value(with_card).is_err(),
            "no field may carry card data"
        );
        assert!(OrderPlaced::from_json("not json").is_err());
    }

    #[test]
    fn idempotency_keys_name_orders_stably() {
        let a = OrderId::for_idempotency_key("key-1");
        assert_eq!(a, OrderId::for_idempotency_key("key-1"));
        assert_ne!(a, OrderId::for_idempotency_key("key-2"));
        assert_eq!(OrderId::parse(&a.to_string()), Ok(a));
        assert_eq!(OrderId::parse("nope"), Err(OrderIdError));
    }
}
