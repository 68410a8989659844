//! What stands between a client and a function on AWS besides the route: API Gateway's
//! throttling of a route (a token bucket for all clients together: past it, `429 {"message":"Too
//! Many Requests"}`) and Lambda's reserved concurrency (at most so many invocations of a function
//! at once: past it, Lambda throttles, which API Gateway answers as `500 {"message":"Internal
//! Server Error"}`). The gateway enforces both as the template declares them; the parameters that
//! size them can be overridden like any other (`--parameter-overrides`).

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::aws::template::Throttle;

/// A route's throttle: `burst` tokens, refilled at `rate` a second; a request takes one.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    throttle: Throttle,
    /// The tokens left, and when they were counted.
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(throttle: Throttle) -> Self {
        Self {
            throttle,
            state: Mutex::new((f64::from(throttle.burst), Instant::now())),
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let (tokens, counted) = *state;
        let refilled = tokens
            + now.saturating_duration_since(counted).as_secs_f64() * f64::from(self.throttle.rate);
        let tokens = refilled.min(f64::from(self.throttle.burst));
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            true
        } else {
            *state = (tokens, now);
            false
        }
    }
}

/// A function's reserved concurrency, shared by every route to it.
#[derive(Debug, Clone)]
pub(crate) struct ReservedConcurrency(Arc<Semaphore>);

impl ReservedConcurrency {
    pub fn new(limit: u32) -> Self {
        Self(Arc::new(Semaphore::new(limit as usize)))
    }

    /// One invocation's place, held until it is dropped; none when all are taken.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_takes_its_burst_at_once_then_its_rate() {
        let bucket = TokenBucket::new(Throttle { rate: 2, burst: 3 });
        assert_eq!((0..5).filter(|_| bucket.try_take()).count(), 3);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(
            bucket.try_take(),
            "one token back after half a second at 2/s"
        );
        assert!(!bucket.try_take());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            (0..5).filter(|_| bucket.try_take()).count(),
            3,
            "never more than the burst"
        );
    }

    #[test]
    fn reserved_concurrency_admits_its_limit_and_frees_a_place_when_one_ends() {
        let reserved = ReservedConcurrency::new(2);
        let first = reserved.try_enter().expect("a place");
        let _second = reserved.try_enter().expect("a place");
        assert!(reserved.try_enter().is_none());
        drop(first);
        assert!(reserved.try_enter().is_some());
        assert!(
            ReservedConcurrency::new(0).try_enter().is_none(),
            "0 stops it"
        );
    }
}
