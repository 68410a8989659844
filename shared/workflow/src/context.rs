//! The context object that `$$.` paths read: facts about the execution (`$$.Execution.*`,
//! built once per run) and about the state being run (`$$.State.*`, built per attempt). It is
//! kept in two sections so that each state does not copy the execution input.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// The `Execution` section of the context object.
pub(crate) fn execution_section(name: &str, input: &Value, start_time: DateTime<Utc>) -> Value {
    json!({
        "Id": format!("arn:aws:states:local:000000000000:execution:workflow:{name}"),
        "Name": name,
        "Input": input,
        "StartTime": timestamp(start_time),
    })
}

/// Formats a time the way Step Functions shows it in the context object.
pub(crate) fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The context object seen by one attempt of one state.
#[derive(Debug)]
pub(crate) struct ContextObject<'a> {
    execution: &'a Value,
    state: Value,
}

impl<'a> ContextObject<'a> {
    pub(crate) fn new(
        execution: &'a Value,
        state_name: &str,
        entered: DateTime<Utc>,
        retry_count: u32,
    ) -> Self {
        let state = json!({
            "Name": state_name,
            "EnteredTime": timestamp(entered),
            "RetryCount": retry_count,
        });
        Self { execution, state }
    }

    /// One top-level section (`Execution` or `State`), if it exists.
    pub(crate) fn section(&self, key: &str) -> Option<&Value> {
        match key {
            "Execution" => Some(self.execution),
            "State" => Some(&self.state),
            _ => None,
        }
    }

    /// The whole context object, for the bare path `$$`.
    pub(crate) fn to_value(&self) -> Value {
        json!({ "Execution": self.execution, "State": self.state })
    }
}
