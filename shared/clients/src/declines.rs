//! The declined-payments port: who was declined, and when, so that the payment function can stop
//! a card tester before the payment provider sees the next try.
//!
//! A card tester runs many stolen numbers through a form, from one address or one email, or one
//! number through many expiry dates and security codes. Each decline is recorded under a few
//! *subjects* (opaque keyed fingerprints of the client's address, the email and the card, made by
//! the payment function: never the values themselves), and a subject with as many declines as its
//! limit within the window is refused until the oldest of them leaves the window. Only declines
//! count, so a paying attendee is never held back by someone else's, nor by their own successes.
//!
//! The rule is [`blocked_for`], a pure function; the store is SQL (`durable::SqlDeclineLedger`, on
//! the idempotency records' database, so that every instance sees every decline).

use std::time::Duration;

use async_trait::async_trait;

/// A subject and how many declines it may have within the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// An opaque fingerprint, e.g. `card:` and a keyed hash.
    pub subject: String,
    pub max_declines: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("the declined-payments ledger is unavailable")]
pub struct DeclineLedgerError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

#[async_trait]
pub trait DeclineLedger: Send + Sync {
    /// How long until every subject of `limits` is under its limit again, counting the declines
    /// of the last `window`: `None` when all already are.
    async fn blocked_for(
        &self,
        limits: &[Limit],
        window: Duration,
    ) -> Result<Option<Duration>, DeclineLedgerError>;

    /// Records one decline, now, for each of `subjects`; declines older than `window` are
    /// forgotten on the way.
    async fn record(&self, subjects: &[String], window: Duration)
    -> Result<(), DeclineLedgerError>;
}

/// The rule: given the declines (subject, when, in milliseconds since the epoch) at `now_ms`, how
/// long until every subject has fewer than its `max_declines` within `window`. A subject with `n`
/// declines against a limit of `m` waits for its `n - m + 1` oldest to leave the window.
pub fn blocked_for(
    limits: &[Limit],
    declines: &[(String, i64)],
    now_ms: i64,
    window: Duration,
) -> Option<Duration> {
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let since = now_ms.saturating_sub(window_ms);
    limits
        .iter()
        .filter_map(|limit| {
            let mut times: Vec<i64> = declines
                .iter()
                .filter(|(subject, at)| *subject == limit.subject && *at > since)
                .map(|(_, at)| *at)
                .collect();
            let limit = usize::try_from(limit.max_declines).unwrap_or(usize::MAX);
            if times.len() < limit {
                return None;
            }
            times.sort_unstable();
            // Once this one leaves the window, `limit - 1` remain.
            let leaves_at = times[times.len() - limit].saturating_add(window_ms);
            let wait_ms = leaves_at.saturating_sub(now_ms).max(1);
            Some(Duration::from_millis(
                u64::try_from(wait_ms).unwrap_or(u64::MAX),
            ))
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const HOUR_MS: i64 = 3_600_000;

    fn limit(subject: &str, max_declines: u32) -> Limit {
        Limit {
            subject: subject.to_owned(),
            max_declines,
        }
    }

    fn declines(subject: &str, at: &[i64]) -> Vec<(String, i64)> {
        at.iter().map(|at| (subject.to_owned(), *at)).collect()
    }

    #[test]
    fn under_the_limit_nothing_waits() {
        let seen = declines("card:a", &[1_000, 2_000]);
        assert_eq!(
            blocked_for(&[limit("card:a", 3)], &seen, 10_000, HOUR),
            None
        );
        assert_eq!(
            blocked_for(&[limit("card:b", 1)], &seen, 10_000, HOUR),
            None
        );
    }

    #[test]
    fn at_the_limit_it_waits_until_the_oldest_counted_decline_leaves_the_window() {
        let now = 10 * HOUR_MS;
        let seen = declines(
            "card:a",
            &[now - 50 * 60_000, now - 20 * 60_000, now - 60_000],
        );
        assert_eq!(
            blocked_for(&[limit("card:a", 3)], &seen, now, HOUR),
            Some(Duration::from_secs(10 * 60)),
            "the oldest, 50 minutes old, leaves in 10"
        );
        // Over the limit (declines recorded at once by concurrent tries), it waits for enough of
        // them to leave: with a limit of 2, the second oldest.
        assert_eq!(
            blocked_for(&[limit("card:a", 2)], &seen, now, HOUR),
            Some(Duration::from_secs(40 * 60))
        );
    }

    #[test]
    fn declines_older_than_the_window_do_not_count_and_the_longest_wait_wins() {
        let now = 10 * HOUR_MS;
        let mut seen = declines("card:a", &[now - 2 * HOUR_MS, now - HOUR_MS, now - 1_000]);
        assert_eq!(blocked_for(&[limit("card:a", 2)], &seen, now, HOUR), None);
        seen.extend(declines("email:b", &[now - 30 * 60_000]));
        let limits = [limit("card:a", 1), limit("email:b", 1)];
        assert_eq!(
            blocked_for(&limits, &seen, now, HOUR),
            Some(Duration::from_secs(60 * 60 - 1)),
            "the card's decline a second ago waits longest"
        );
    }
}
