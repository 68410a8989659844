//! `Retry` and `Catch` of Task and Parallel states: parsing and validating retriers and
//! catchers, matching an error name against `ErrorEquals` (with the `States.ALL` and
//! `States.TaskFailed` wildcards, and `States.Runtime` never matched), and computing the
//! backoff delay of a retry.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::DefinitionError;
use crate::failure::names;
use crate::path::ResultPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Jitter {
    None,
    Full,
}

/// One entry of `Retry`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retrier {
    errors: Vec<String>,
    interval: Duration,
    pub(crate) max_attempts: u32,
    backoff_rate: f64,
    max_delay: Option<Duration>,
    jitter: Jitter,
}

/// One entry of `Catch`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catcher {
    errors: Vec<String>,
    pub(crate) next: String,
    /// Where `{"Error", "Cause"}` goes in the state's raw input; `None` for `ResultPath: null`.
    pub(crate) result_path: Option<ResultPath>,
}

/// The `Retry` and `Catch` lists of a state.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ErrorHandling {
    pub(crate) retriers: Vec<Retrier>,
    pub(crate) catchers: Vec<Catcher>,
}

fn error_matches(error_equals: &[String], error: &str) -> bool {
    error != names::RUNTIME
        && error_equals.iter().any(|name| {
            name == error
                || name == names::ALL
                || (name == names::TASK_FAILED && error != names::TIMEOUT)
        })
}

impl ErrorHandling {
    /// The first retrier whose `ErrorEquals` matches `error`, with its index.
    pub(crate) fn retrier_for(&self, error: &str) -> Option<(usize, &Retrier)> {
        self.retriers
            .iter()
            .enumerate()
            .find(|(_, retrier)| error_matches(&retrier.errors, error))
    }

    /// The first catcher whose `ErrorEquals` matches `error`.
    pub(crate) fn catcher_for(&self, error: &str) -> Option<&Catcher> {
        self.catchers
            .iter()
            .find(|catcher| error_matches(&catcher.errors, error))
    }

    pub(crate) fn parse(state: &Map<String, Value>, at: &str) -> Result<Self, DefinitionError> {
        let retriers = entries(state, at, "Retry")?
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let at = format!("{at}/Retry/{i}");
                parse_retrier(entry).map_err(|reason| DefinitionError::BadRetry { at, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_all_is_last(retriers.iter().map(|r| &r.errors), at, "Retry")
            .map_err(|(at, reason)| DefinitionError::BadRetry { at, reason })?;
        let catchers = entries(state, at, "Catch")?
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let at = format!("{at}/Catch/{i}");
                parse_catcher(entry, &at)
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_all_is_last(catchers.iter().map(|c| &c.errors), at, "Catch")
            .map_err(|(at, reason)| DefinitionError::BadCatch { at, reason })?;
        Ok(Self { retriers, catchers })
    }

    /// The states that the catchers can go to, with the field naming each.
    pub(crate) fn targets(&self) -> impl Iterator<Item = (String, &str)> {
        self.catchers
            .iter()
            .enumerate()
            .map(|(i, catcher)| (format!("Catch[{i}].Next"), catcher.next.as_str()))
    }
}

impl Retrier {
    /// The delay before the retry that follows `retries_so_far` earlier retries by this retrier:
    /// `IntervalSeconds * BackoffRate^retries_so_far`, capped at `MaxDelaySeconds`, and with
    /// `JitterStrategy: FULL` a random duration between zero and that.
    pub(crate) fn delay(&self, retries_so_far: u32) -> Duration {
        let exponent = i32::try_from(retries_so_far).unwrap_or(i32::MAX);
        let seconds = self.interval.as_secs_f64() * self.backoff_rate.powi(exponent);
        let mut delay = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        if let Some(max) = self.max_delay {
            delay = delay.min(max);
        }
        match self.jitter {
            Jitter::None => delay,
            Jitter::Full => delay.mul_f64(random_fraction()),
        }
    }
}

/// A uniformly distributed number in `[0, 1]`, from the random bits of a v4 UUID.
fn random_fraction() -> f64 {
    const MANTISSA: u32 = 53;
    let bits = uuid::Uuid::new_v4().as_u64_pair().0 >> (64 - MANTISSA);
    bits as f64 / ((1u64 << MANTISSA) - 1) as f64
}

fn entries<'v>(
    state: &'v Map<String, Value>,
    at: &str,
    field: &str,
) -> Result<&'v [Value], DefinitionError> {
    match state.get(field) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(DefinitionError::InvalidField {
            at: at.into(),
            field: field.into(),
            reason: "must be an array".into(),
        }),
    }
}

/// `States.ALL` must be the only name of its `ErrorEquals` and appear in the last entry.
fn check_all_is_last<'a>(
    lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
    at: &str,
    field: &str,
) -> Result<(), (String, String)> {
    let count = lists.len();
    for (i, errors) in lists.enumerate() {
        if errors.iter().any(|e| e == names::ALL) && i + 1 != count {
            return Err((
                format!("{at}/{field}/{i}"),
                "\"States.ALL\" must be in the last entry".into(),
            ));
        }
    }
    Ok(())
}

fn parse_error_equals(entry: &Map<String, Value>) -> Result<Vec<String>, String> {
    let errors = entry
        .get("ErrorEquals")
        .ok_or("missing \"ErrorEquals\"")?
        .as_array()
        .filter(|items| !items.is_empty())
        .ok_or("\"ErrorEquals\" must be a non-empty array of error names")?
        .iter()
        .map(|name| {
            name.as_str()
                .map(String::from)
                .ok_or("\"ErrorEquals\" must hold strings")
        })
        .collect::<Result<Vec<_>, _>>()?;
    if errors.len() > 1 && errors.iter().any(|e| e == names::ALL) {
        return Err("\"States.ALL\" must appear alone in \"ErrorEquals\"".into());
    }
    Ok(errors)
}

fn check_keys(entry: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match entry.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(format!("unknown field \"{key}\"")),
        None => Ok(()),
    }
}

fn positive_seconds(entry: &Map<String, Value>, field: &str) -> Result<Option<Duration>, String> {
    entry
        .get(field)
        .map(|value| {
            value
                .as_u64()
                .filter(|&n| n >= 1)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("\"{field}\" must be a positive integer"))
        })
        .transpose()
}

fn parse_retrier(value: &Value) -> Result<Retrier, String> {
    let entry = value.as_object().ok_or("expected a JSON object")?;
    check_keys(
        entry,
        &[
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        ],
    )?;
    let errors = parse_error_equals(entry)?;
    let interval = positive_seconds(entry, "IntervalSeconds")?.unwrap_or(Duration::from_secs(1));
    let max_delay = positive_seconds(entry, "MaxDelaySeconds")?;
    let max_attempts = match entry.get("MaxAttempts") {
        None => 3,
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or("\"MaxAttempts\" must be a non-negative integer")?,
    };
    let backoff_rate = match entry.get("BackoffRate") {
        None => 2.0,
        Some(value) => value
            .as_f64()
            .filter(|&rate| rate >= 1.0)
            .ok_or("\"BackoffRate\" must be a number greater than or equal to 1.0")?,
    };
    let jitter = match entry.get("JitterStrategy") {
        None => Jitter::None,
        Some(value) => match value.as_str() {
            Some("NONE") => Jitter::None,
            Some("FULL") => Jitter::Full,
            _ => return Err("\"JitterStrategy\" must be \"FULL\" or \"NONE\"".into()),
        },
    };
    Ok(Retrier {
        errors,
        interval,
        max_attempts,
        backoff_rate,
        max_delay,
        jitter,
    })
}

fn parse_catcher(value: &Value, at: &str) -> Result<Catcher, DefinitionError> {
    let bad = |reason: String| DefinitionError::BadCatch {
        at: at.into(),
        reason,
    };
    let entry = value
        .as_object()
        .ok_or_else(|| bad("expected a JSON object".into()))?;
    check_keys(entry, &["ErrorEquals", "Next", "ResultPath", "Comment"]).map_err(bad)?;
    let errors = parse_error_equals(entry).map_err(bad)?;
    let next = match entry.get("Next") {
        Some(Value::String(next)) => next.clone(),
        Some(_) => return Err(bad("\"Next\" must be a string".into())),
        None => return Err(bad("missing \"Next\"".into())),
    };
    let result_path = match entry.get("ResultPath") {
        None => Some(ResultPath::whole()),
        Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(
                ResultPath::parse(text).map_err(|source| DefinitionError::BadPath {
                    at: at.into(),
                    field: "ResultPath".into(),
                    source,
                })?,
            )
        }
        Some(_) => return Err(bad("\"ResultPath\" must be a path string or null".into())),
    };
    Ok(Catcher {
        errors,
        next,
        result_path,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(state: Value) -> Result<ErrorHandling, DefinitionError> {
        ErrorHandling::parse(state.as_object().unwrap(), "/States/T")
    }

    #[test]
    fn matches_error_names_like_step_functions() {
        let handling = parse(json!({
            "Retry": [
                {"ErrorEquals": ["Custom"]},
                {"ErrorEquals": ["States.TaskFailed"]},
                {"ErrorEquals": ["States.ALL"]}
            ]
        }))
        .unwrap();
        let index = |error: &str| handling.retrier_for(error).map(|(i, _)| i);
        assert_eq!(index("Custom"), Some(0));
        assert_eq!(index("Lambda.ServiceException"), Some(1));
        assert_eq!(index(names::TIMEOUT), Some(2));
        assert_eq!(index(names::RUNTIME), None);
        let exact =
            parse(json!({"Catch": [{"ErrorEquals": ["States.Runtime", "A"], "Next": "X"}]}))
                .unwrap();
        assert!(exact.catcher_for(names::RUNTIME).is_none());
        assert!(exact.catcher_for("B").is_none());
        assert_eq!(exact.catcher_for("A").unwrap().next, "X");
    }

    #[test]
    fn backoff_delays() {
        let handling = parse(json!({"Retry": [
            {"ErrorEquals": ["A"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxDelaySeconds": 30},
            {"ErrorEquals": ["B"]},
            {"ErrorEquals": ["C"], "IntervalSeconds": 10, "JitterStrategy": "FULL"}
        ]}))
        .unwrap();
        let delays: Vec<_> = (0..4)
            .map(|n| handling.retriers[0].delay(n).as_secs())
            .collect();
        assert_eq!(delays, [2, 6, 18, 30]);
        let defaults = &handling.retriers[1];
        assert_eq!(defaults.max_attempts, 3);
        let delays: Vec<_> = (0..3).map(|n| defaults.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4]);
        for _ in 0..20 {
            assert!(handling.retriers[2].delay(0) <= Duration::from_secs(10));
        }
    }

    #[test]
    fn rejects_bad_entries() {
        let retry = |entry: Value| match parse(json!({"Retry": [entry]})) {
            Err(DefinitionError::BadRetry { reason, .. }) => reason,
            other => panic!("unexpected {other:?}"),
        };
        assert!(retry(json!({})).contains("ErrorEquals"));
        assert!(retry(json!({"ErrorEquals": []})).contains("non-empty"));
        assert!(retry(json!({"ErrorEquals": ["States.ALL", "A"]})).contains("alone"));
        assert!(
            retry(json!({"ErrorEquals": ["A"], "IntervalSeconds": 0})).contains("IntervalSeconds")
        );
        assert!(retry(json!({"ErrorEquals": ["A"], "MaxAttempts": -1})).contains("MaxAttempts"));
        assert!(retry(json!({"ErrorEquals": ["A"], "BackoffRate": 0.5})).contains("BackoffRate"));
        assert!(
            retry(json!({"ErrorEquals": ["A"], "MaxDelaySeconds": 1.5}))
                .contains("MaxDelaySeconds")
        );
        assert!(
            retry(json!({"ErrorEquals": ["A"], "JitterStrategy": "HALF"}))
                .contains("JitterStrategy")
        );
        assert!(
            retry(json!({"ErrorEquals": ["A"], "Retries": 2}))
                .contains("unknown field \"Retries\"")
        );

        let err =
            parse(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["A"]}]}))
                .unwrap_err();
        assert!(
            matches!(&err, DefinitionError::BadRetry { at, .. } if at == "/States/T/Retry/0"),
            "{err}"
        );

        let catch = |entry: Value| match parse(json!({"Catch": [entry]})) {
            Err(DefinitionError::BadCatch { reason, .. }) => reason,
            other => panic!("unexpected {other:?}"),
        };
        assert!(catch(json!({"ErrorEquals": ["A"]})).contains("missing \"Next\""));
        assert!(
            catch(json!({"ErrorEquals": ["A"], "Next": "X", "ResultPath": 1}))
                .contains("ResultPath")
        );
        assert!(catch(json!({"ErrorEquals": "A", "Next": "X"})).contains("ErrorEquals"));
        assert!(matches!(
            parse(json!({"Catch": [{"ErrorEquals": ["A"], "Next": "X", "ResultPath": "$$.x"}]})),
            Err(DefinitionError::BadPath { .. })
        ));
        assert!(matches!(
            parse(json!({"Catch": {"ErrorEquals": ["A"], "Next": "X"}})),
            Err(DefinitionError::InvalidField { .. })
        ));
    }
}
