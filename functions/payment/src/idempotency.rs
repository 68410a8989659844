//! Idempotency keys: the same key with the same body gets the first answer again; the same key
//! with another body is a conflict; a key whose request is still running is a conflict too.
//!
//! The store is a port because a production deployment with several instances needs a shared one
//! (DynamoDB, Table Storage); [`InMemoryIdempotencyStore`] serves one process (the emulator, a
//! single warm instance). Even without a shared store a retry cannot charge twice: the provider's
//! request id and the order id are derived from the key.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use function_model::HttpResponse;

/// A client-chosen key: 1 to 100 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if (1..=100).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be 1 to 100 visible ASCII characters")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// First use: go ahead, then `complete` or `release`.
    New,
    /// Completed before with the same body: answer this again.
    Replay(HttpResponse),
    /// Used before with a different body.
    Mismatch,
    /// Claimed by a request that has not finished.
    InProgress,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request whose body hashes to `fingerprint`.
    async fn claim(&self, key: &IdempotencyKey, fingerprint: [u8; 32]) -> Claim;
    /// Records the final answer for the key.
    async fn complete(&self, key: &IdempotencyKey, response: HttpResponse);
    /// Forgets an unfinished claim, so that the same key may try again.
    async fn release(&self, key: &IdempotencyKey);
}

#[derive(Debug)]
struct Entry {
    fingerprint: [u8; 32],
    response: Option<HttpResponse>,
}

/// Keys kept in this process's memory.
#[derive(Debug, Default)]
pub struct InMemoryIdempotencyStore {
    entries: Mutex<HashMap<IdempotencyKey, Entry>>,
}

impl InMemoryIdempotencyStore {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<IdempotencyKey, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn claim(&self, key: &IdempotencyKey, fingerprint: [u8; 32]) -> Claim {
        let mut entries = self.entries();
        match entries.get(key) {
            None => {
                entries.insert(
                    key.clone(),
                    Entry {
                        fingerprint,
                        response: None,
                    },
                );
                Claim::New
            }
            Some(entry) if entry.fingerprint != fingerprint => Claim::Mismatch,
            Some(Entry {
                response: Some(response),
                ..
            }) => Claim::Replay(response.clone()),
            Some(Entry { response: None, .. }) => Claim::InProgress,
        }
    }

    async fn complete(&self, key: &IdempotencyKey, response: HttpResponse) {
        if let Some(entry) = self.entries().get_mut(key) {
            entry.response = Some(response);
        }
    }

    async fn release(&self, key: &IdempotencyKey) {
        self.entries().remove(key);
    }
}
