//! Fault injection: make a named function or provider fail, time out or be slow, N times or until
//! cleared, so that retries, timeouts and dead-letter queues can be exercised on a laptop.
//!
//! Targets are the function names (`payment`, `orchestrator`, `save-order`, `email`,
//! `mailing-list`) and the providers (`paypal`, `sendgrid`, `mailchimp`). Each place that runs a
//! target asks [`Faults::next`] before running it; what a fault means there is decided by that
//! place (a failed function invocation, a provider answering 503, ...).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The longest delay a `slow` fault may add: an hour, longer than any timeout it may be meant to
/// trip.
pub const MAX_DELAY_MS: u64 = 3_600_000;

/// Every name a fault may target.
pub const TARGETS: [&str; 8] = [
    "payment",
    "orchestrator",
    "save-order",
    "email",
    "mailing-list",
    "paypal",
    "sendgrid",
    "mailchimp",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultMode {
    /// The invocation or request fails (a retryable failure).
    Fail,
    /// It never answers; the caller's timeout decides what happens.
    Timeout,
    /// It answers normally after `delayMs`.
    Slow,
}

/// A fault as posted to `/_emulator/api/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    pub target: String,
    pub mode: FaultMode,
    /// How many invocations it affects; absent means every one until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// For `slow`: the added latency (default 1000 ms, at most [`MAX_DELAY_MS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// For `fail` on a provider: the HTTP status it answers with (default 503; 429, 500, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// What one invocation must suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fail; a provider answers with this HTTP status.
    Fail {
        status: u16,
    },
    Timeout,
    Slow(Duration),
}

impl Fault {
    /// What the fault does to a workflow task.
    pub fn for_task(self) -> durable::tasks::TaskFault {
        match self {
            Fault::Fail { .. } => durable::tasks::TaskFault::Fail,
            Fault::Timeout => durable::tasks::TaskFault::Timeout,
            Fault::Slow(delay) => durable::tasks::TaskFault::Slow(delay),
        }
    }

    /// The fault as the Azure handler reads it from the emulator (`/_emulator/api/faults/next`).
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Fault::Fail { status } => serde_json::json!({ "mode": "fail", "status": status }),
            Fault::Timeout => serde_json::json!({ "mode": "timeout" }),
            Fault::Slow(delay) => {
                serde_json::json!({ "mode": "slow", "delayMs": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX) })
            }
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultError {
    #[error("unknown fault target {0:?}; expected one of: {targets}", targets = TARGETS.join(", "))]
    UnknownTarget(String),
    #[error("times must be at least 1 (omit it for a fault that lasts until cleared)")]
    ZeroTimes,
    #[error("status must be an HTTP error status (400 to 599)")]
    InvalidStatus,
    #[error("delayMs must be at most {MAX_DELAY_MS} (an hour)")]
    DelayTooLong,
}

/// The active faults, by target.
#[derive(Debug, Default)]
pub struct Faults {
    active: Mutex<BTreeMap<String, FaultSpec>>,
}

impl Faults {
    pub fn inject(&self, spec: FaultSpec) -> Result<(), FaultError> {
        if !TARGETS.contains(&spec.target.as_str()) {
            return Err(FaultError::UnknownTarget(spec.target));
        }
        if spec.times == Some(0) {
            return Err(FaultError::ZeroTimes);
        }
        if spec.status.is_some_and(|s| !(400..=599).contains(&s)) {
            return Err(FaultError::InvalidStatus);
        }
        if spec.delay_ms.is_some_and(|ms| ms > MAX_DELAY_MS) {
            return Err(FaultError::DelayTooLong);
        }
        self.lock().insert(spec.target.clone(), spec);
        Ok(())
    }

    /// Clears one target's fault, or all of them.
    pub fn clear(&self, target: Option<&str>) {
        match target {
            Some(target) => {
                self.lock().remove(target);
            }
            None => self.lock().clear(),
        }
    }

    pub fn list(&self) -> Vec<FaultSpec> {
        self.lock().values().cloned().collect()
    }

    /// The fault the next invocation of `target` suffers, counting it down.
    pub fn next(&self, target: &str) -> Option<Fault> {
        let mut active = self.lock();
        let spec = active.get_mut(target)?;
        let fault = match spec.mode {
            FaultMode::Fail => Fault::Fail {
                status: spec.status.unwrap_or(503),
            },
            FaultMode::Timeout => Fault::Timeout,
            FaultMode::Slow => Fault::Slow(Duration::from_millis(spec.delay_ms.unwrap_or(1000))),
        };
        match &mut spec.times {
            Some(1) => {
                active.remove(target);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        tracing::warn!(target, ?fault, "injected fault");
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, FaultSpec>> {
        self.active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: &str, mode: FaultMode, times: Option<u32>) -> FaultSpec {
        FaultSpec {
            target: target.into(),
            mode,
            times,
            delay_ms: None,
            status: None,
        }
    }

    #[test]
    fn counts_down_then_disappears() {
        let faults = Faults::default();
        faults
            .inject(spec("email", FaultMode::Fail, Some(2)))
            .expect("valid");
        assert_eq!(faults.next("email"), Some(Fault::Fail { status: 503 }));
        assert_eq!(faults.next("email"), Some(Fault::Fail { status: 503 }));
        assert_eq!(faults.next("email"), None);
        assert_eq!(faults.next("paypal"), None);
    }

    #[test]
    fn lasts_until_cleared_without_times() {
        let faults = Faults::default();
        faults
            .inject(FaultSpec {
                delay_ms: Some(5),
                ..spec("paypal", FaultMode::Slow, None)
            })
            .expect("valid");
        for _ in 0..5 {
            assert_eq!(
                faults.next("paypal"),
                Some(Fault::Slow(Duration::from_millis(5)))
            );
        }
        faults.clear(Some("paypal"));
        assert_eq!(faults.next("paypal"), None);
    }

    #[test]
    fn rejects_unknown_targets_and_zero_times() {
        let faults = Faults::default();
        assert!(matches!(
            faults.inject(spec("nope", FaultMode::Fail, None)),
            Err(FaultError::UnknownTarget(_))
        ));
        assert_eq!(
            faults.inject(spec("email", FaultMode::Fail, Some(0))),
            Err(FaultError::ZeroTimes)
        );
    }

    #[test]
    fn rejects_delays_over_an_hour() {
        let faults = Faults::default();
        for delay_ms in [MAX_DELAY_MS + 1, u64::MAX] {
            let slow = FaultSpec {
                delay_ms: Some(delay_ms),
                ..spec("payment", FaultMode::Slow, None)
            };
            assert_eq!(faults.inject(slow), Err(FaultError::DelayTooLong));
        }
        assert!(faults.list().is_empty());
        let an_hour = FaultSpec {
            delay_ms: Some(MAX_DELAY_MS),
            ..spec("payment", FaultMode::Slow, None)
        };
        assert_eq!(faults.inject(an_hour), Ok(()));
    }
}
