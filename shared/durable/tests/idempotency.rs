//! The SQL idempotency records (`durable::SqlIdempotencyStore`, the port of
//! `clients::idempotency`), each scenario on SQLite and on PostgreSQL.
//!
//! Covered, because the payment function relies on it to charge once per `Idempotency-Key`: a
//! first claim is New; the same request while it runs is InProgress, another request with the key
//! is a Mismatch; a completed key replays its exact answer; a released key can be claimed again
//! (a completed one cannot be released); a claim abandoned for longer than `abandoned_after` is
//! taken over by exactly one of two concurrent retries; and of many concurrent claims from two
//! processes (two pools on one database) exactly one is New.

mod support;

use std::time::Duration;

use clients::idempotency::{Claim, IdempotencyKey, IdempotencyStore, RecordedAnswer};
use durable::{Db, SqlIdempotencyStore};
use tokio::task::JoinSet;

/// The payment function's timeout: a claim older than this is abandoned.
const ABANDONED_AFTER: Duration = Duration::from_secs(60);
const REQUEST: [u8; 32] = [1; 32];
const OTHER_REQUEST: [u8; 32] = [2; 32];

support::on_both_databases!(
    claims_replays_and_detects_mismatches,
    a_released_claim_can_be_claimed_again,
    an_abandoned_claim_is_taken_over_once,
    concurrent_claims_from_two_processes_admit_exactly_one,
);

fn key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(raw.as_bytes()).expect("a valid key")
}

async fn claim(store: &SqlIdempotencyStore, key: &IdempotencyKey, fingerprint: [u8; 32]) -> Claim {
    store
        .claim(key, fingerprint, ABANDONED_AFTER)
        .await
        .expect("claims")
}

fn answer() -> RecordedAnswer {
    RecordedAnswer {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("location".into(), "/payments/p-1".into()),
        ],
        body: "{\"paymentId\":\"p-1\",\"note\":\"é ✓\"}".into(),
        // Kept with the answer, so that a replay publishes the order again.
        published: Some("{\"orderId\":\"o-1\"}".into()),
    }
}

/// Claims `key` `times` at once, through the stores in turn: how many claims were New and how
/// many InProgress (no other answer is expected).
async fn claim_at_once(
    stores: &[SqlIdempotencyStore],
    key: &IdempotencyKey,
    times: usize,
) -> (usize, usize) {
    let mut claims = JoinSet::new();
    for i in 0..times {
        let (store, key) = (stores[i % stores.len()].clone(), key.clone());
        claims.spawn(async move { claim(&store, &key, REQUEST).await });
    }
    let outcomes = claims.join_all().await;
    let count = |wanted: Claim| outcomes.iter().filter(|c| **c == wanted).count();
    let counted = (count(Claim::New), count(Claim::InProgress));
    assert_eq!(counted.0 + counted.1, times, "{outcomes:?}");
    counted
}

mod scenarios {
    use super::*;
    use crate::support::{connect, skip};

    pub async fn claims_replays_and_detects_mismatches(db: Db, _url: String) {
        let store = SqlIdempotencyStore::new(db);
        let key = key("order-1:pay");
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::New);
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::InProgress);
        assert_eq!(claim(&store, &key, OTHER_REQUEST).await, Claim::Mismatch);

        store.complete(&key, &answer()).await.expect("completes");
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::Replay(answer()));
        assert_eq!(claim(&store, &key, OTHER_REQUEST).await, Claim::Mismatch);
        // A completed record is never abandoned, nor released.
        skip(ABANDONED_AFTER * 2).await;
        store.release(&key).await.expect("releases nothing");
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::Replay(answer()));
        // Other keys are independent.
        assert_eq!(
            claim(&store, &super::key("order-2:pay"), REQUEST).await,
            Claim::New
        );
    }

    pub async fn a_released_claim_can_be_claimed_again(db: Db, _url: String) {
        let store = SqlIdempotencyStore::new(db);
        let key = key("order-1:pay");
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::New);
        store.release(&key).await.expect("releases");
        // Released: free for any request, the same or another.
        assert_eq!(claim(&store, &key, OTHER_REQUEST).await, Claim::New);
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::Mismatch);
        store.release(&key).await.expect("releases");
        store.release(&key).await.expect("releasing twice is fine");
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::New);
    }

    pub async fn an_abandoned_claim_is_taken_over_once(db: Db, url: String) {
        let other_db = connect(&url).await;
        let (store, other) = (
            SqlIdempotencyStore::new(db),
            SqlIdempotencyStore::new(other_db.clone()),
        );
        let key = key("order-1:pay");
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::New);
        skip(ABANDONED_AFTER - Duration::from_secs(1)).await;
        assert_eq!(
            claim(&other, &key, REQUEST).await,
            Claim::InProgress,
            "not yet abandoned"
        );

        // The holder died: of twenty retries at once, from both processes, exactly one takes the
        // claim over.
        skip(Duration::from_secs(2)).await;
        assert_eq!(claim(&other, &key, OTHER_REQUEST).await, Claim::Mismatch);
        let stores = [store.clone(), other.clone()];
        assert_eq!(claim_at_once(&stores, &key, 20).await, (1, 19));
        // The new holder's claim is fresh, and then completes as usual.
        assert_eq!(claim(&store, &key, REQUEST).await, Claim::InProgress);
        store.complete(&key, &answer()).await.expect("completes");
        assert_eq!(claim(&other, &key, REQUEST).await, Claim::Replay(answer()));
        other_db.close().await;
    }

    pub async fn concurrent_claims_from_two_processes_admit_exactly_one(db: Db, url: String) {
        let other_db = connect(&url).await;
        let stores = [
            SqlIdempotencyStore::new(db),
            SqlIdempotencyStore::new(other_db.clone()),
        ];
        let key = key("order-1:pay");
        assert_eq!(claim_at_once(&stores, &key, 20).await, (1, 19));
        other_db.close().await;
    }
}
