//! The idempotency-record port: the same `Idempotency-Key` with the same request gets the first
//! answer again; with another request it is a conflict; while its first request runs it is a
//! conflict too.
//!
//! A record is claimed with one atomic statement, so that two instances sharing the store (two
//! Lambda instances, two emulator processes on one PostgreSQL database) agree on who handles a
//! key. The store is SQL (`durable::SqlIdempotencyStore`); a DynamoDB or Table Storage store would
//! implement the same port.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A client-chosen key: 1 to 255 printable ASCII characters (space included, as in a UUID or
/// `order 42`) other than a comma. Anything else is refused rather than ignored: a key the server
/// dropped would let a retry charge twice. The comma is refused because API Gateway joins a
/// header sent twice into one value with commas: a key sent twice must stay an error on AWS too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// Parses a header's raw bytes (a key in another encoding is an error, never "no key").
    pub fn parse(raw: &[u8]) -> Result<Self, &'static str> {
        if (1..=Self::MAX_LEN).contains(&raw.len())
            && raw.iter().all(|b| (b' '..=b'~').contains(b) && *b != b',')
        {
            Ok(Self(String::from_utf8_lossy(raw).into_owned()))
        } else {
            Err("must be sent once, as 1 to 255 printable ASCII characters other than a comma")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The final answer recorded for a key, replayed to later requests with the same key and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The `OrderPlaced` (JSON) the answer was given with, published again with each replay: where
    /// publishing is an output binding (Azure), it is sent after the answer is recorded, and a
    /// retry after it was lost must not find the registration paid but never queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use, or a claim whose holder died (see [`IdempotencyStore::claim`]): go ahead, then
    /// `complete` or `release`.
    New,
    /// Completed before with the same body: answer this again.
    Replay(RecordedAnswer),
    /// Used before with a different body.
    Mismatch,
    /// Claimed by a request that has not finished.
    InProgress,
}

#[derive(Debug, thiserror::Error)]
#[error("the idempotency store is unavailable")]
pub struct IdempotencyError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request whose body hashes to `fingerprint`. An unfinished claim older
    /// than `abandoned_after` (the function's timeout: its holder cannot still be running) is
    /// taken over, once, and answers [`Claim::New`].
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: [u8; 32],
        abandoned_after: Duration,
    ) -> Result<Claim, IdempotencyError>;
    /// Records the final answer for the key.
    async fn complete(
        &self,
        key: &IdempotencyKey,
        answer: &RecordedAnswer,
    ) -> Result<(), IdempotencyError>;
    /// Forgets an unfinished claim, so that the same key may try again.
    async fn release(&self, key: &IdempotencyKey) -> Result<(), IdempotencyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        for good in ["a", "order 42", "~!@#$%^&*()_+", &"k".repeat(255)] {
            assert_eq!(
                IdempotencyKey::parse(good.as_bytes()).map(|k| k.0),
                Ok(good.to_owned())
            );
        }
        let too_long = "k".repeat(256);
        for bad in [
            "".as_bytes(),
            too_long.as_bytes(),
            "ключ-dup".as_bytes(),
            "café".as_bytes(),
            "🔑".as_bytes(),
            b"caf\xe9",
            b"tab\there",
            b"nul\0",
            b"del\x7f",
            // Two keys, as API Gateway joins a header sent twice.
            b"key-1,key-2",
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
