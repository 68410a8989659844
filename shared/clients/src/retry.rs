//! Retrying a call that can fail for a while (a provider answering 429 or 5xx, a timeout) within
//! a time budget.
//!
//! A function has a deadline of its own (the API gateway gives up after about 29 s), so a client
//! retries within a total budget rather than a number of attempts: [`retry_within`] waits between
//! attempts with exponential backoff and full jitter (a random wait between zero and the backoff,
//! so that many clients failing together do not come back together), gives up when the next wait
//! would pass the deadline, and cuts short an attempt still running at the deadline.
//!
//! Waiting uses `tokio::time`, so tests can run it on a paused clock.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::{Instant, sleep, timeout_at};

/// Exponential backoff: the wait before retry `n` (0 for the first) is at most
/// `initial × multiplier^n`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
}

impl Backoff {
    /// The longest wait before retry `retry` (0 for the first).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = self
            .multiplier
            .powi(i32::try_from(retry).unwrap_or(i32::MAX));
        Duration::try_from_secs_f64(self.initial.as_secs_f64() * factor)
            .map_or(self.max, |wait| wait.min(self.max))
    }

    /// The wait before retry `retry`, with full jitter: uniformly random in `[0, ceiling]`.
    pub fn delay(&self, retry: u32) -> Duration {
        rand::rng().random_range(Duration::ZERO..=self.ceiling(retry))
    }
}

/// An attempt was still running when the time budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no answer before the deadline")]
pub struct DeadlineExceeded;

/// Runs `attempt(1)`, `attempt(2)`, ... until one succeeds, fails with an error that
/// `is_retryable` refuses, or the time runs out: `deadline` after the call, an attempt still
/// running is dropped and `DeadlineExceeded` returned, and when the next wait would end past it the
/// last error is returned. Each retry is logged (warn) with the error, which must therefore carry
/// nothing secret.
pub async fn retry_within<T, E, Fut>(
    deadline: Duration,
    backoff: &Backoff,
    mut attempt: impl FnMut(u32) -> Fut,
    is_retryable: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
    E: From<DeadlineExceeded> + fmt::Display,
{
    let give_up_at = Instant::now() + deadline;
    let mut number = 1;
    loop {
        let error = match timeout_at(give_up_at, attempt(number)).await {
            Err(_elapsed) => return Err(DeadlineExceeded.into()),
            Ok(Err(error)) if is_retryable(&error) => error,
            Ok(outcome) => return outcome,
        };
        let wait = backoff.delay(number - 1);
        if Instant::now() + wait >= give_up_at {
            return Err(error);
        }
        let wait_ms = wait.as_millis();
        tracing::warn!(attempt = number, wait_ms, %error, "attempt failed; retrying");
        sleep(wait).await;
        number += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const BACKOFF: Backoff = Backoff {
        initial: Duration::from_millis(200),
        max: Duration::from_secs(2),
        multiplier: 2.0,
    };

    #[derive(Debug, PartialEq)]
    enum Failure {
        Busy(u32),
        Refused,
        Deadline,
    }

    impl From<DeadlineExceeded> for Failure {
        fn from(_: DeadlineExceeded) -> Self {
            Failure::Deadline
        }
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(self, f)
        }
    }

    fn busy(error: &Failure) -> bool {
        matches!(error, Failure::Busy(_))
    }

    #[test]
    fn ceilings_grow_exponentially_up_to_the_cap() {
        let ms = |retry| BACKOFF.ceiling(retry).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(3), ms(4), ms(5)],
            [200, 400, 800, 1600, 2000, 2000]
        );
        assert_eq!(BACKOFF.ceiling(u32::MAX), BACKOFF.max, "overflow is capped");
        for retry in 0..8 {
            assert!(BACKOFF.delay(retry) <= BACKOFF.ceiling(retry));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success() {
        let started = Instant::now();
        let outcome = retry_within(
            Duration::from_secs(25),
            &BACKOFF,
            |n| async move { if n < 3 { Err(Failure::Busy(n)) } else { Ok(n) } },
            busy,
        )
        .await;
        assert_eq!(outcome, Ok(3));
        assert!(
            started.elapsed() <= Duration::from_millis(600),
            "waits at most 200 + 400 ms"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_what_cannot_succeed() {
        let calls = Cell::new(0);
        let outcome: Result<(), _> = retry_within(
            Duration::from_secs(25),
            &BACKOFF,
            |_| {
                calls.set(calls.get() + 1);
                async { Err(Failure::Refused) }
            },
            busy,
        )
        .await;
        assert_eq!((outcome, calls.get()), (Err(Failure::Refused), 1));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_before_a_wait_would_pass_the_deadline_with_the_last_error() {
        let deadline = Duration::from_secs(3);
        let started = Instant::now();
        let calls = Cell::new(0);
        let outcome: Result<(), _> = retry_within(
            deadline,
            &BACKOFF,
            |n| {
                calls.set(n);
                async move { Err(Failure::Busy(n)) }
            },
            busy,
        )
        .await;
        assert_eq!(outcome, Err(Failure::Busy(calls.get())));
        assert!(
            calls.get() >= 2,
            "waits are at most 200, 400, 800, 1600 ms: at least one retry fits"
        );
        assert!(started.elapsed() < deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn cuts_short_an_attempt_running_at_the_deadline() {
        let started = Instant::now();
        let outcome: Result<(), _> = retry_within(
            Duration::from_secs(1),
            &BACKOFF,
            |_| async {
                sleep(Duration::from_secs(10)).await;
                Ok(())
            },
            busy,
        )
        .await;
        assert_eq!(outcome, Err(Failure::Deadline));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
