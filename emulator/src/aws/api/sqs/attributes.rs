//! Message attributes as SQS keeps and digests them: string attributes and the trace header kept
//! with a message, their MD5 digests computed as SQS computes them (so that the SDKs' checks of
//! `MD5OfMessageAttributes` pass), and which of them a receive asks for.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use serde::Deserialize;

use super::errors::invalid_parameter;
use crate::aws::api::protocol::AwsError;

/// The system attribute kept with a message besides its timestamps and counts.
pub(super) const TRACE_HEADER: &str = "AWSTraceHeader";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeValue {
    /// Required by SQS; absent, `limits` refuses it as SQS does.
    pub(super) data_type: Option<String>,
    pub(super) string_value: Option<String>,
    /// Base64, as the JSON protocol carries blobs.
    pub(super) binary_value: Option<String>,
}

pub(super) fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", Md5::digest(bytes))
}

/// SQS's digest of message attributes: over the attributes sorted by name, each as its name, its
/// data type, a transport byte (1 for a string) and its value, the three texts each preceded by
/// its length as 4 bytes, big-endian.
pub(super) fn md5_of_attributes(attributes: &BTreeMap<String, String>) -> String {
    fn text(bytes: &mut Vec<u8>, value: &str) {
        bytes.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
        bytes.extend_from_slice(value.as_bytes());
    }
    let mut bytes = Vec::new();
    for (name, value) in attributes {
        text(&mut bytes, name);
        text(&mut bytes, "String");
        bytes.push(1);
        text(&mut bytes, value);
    }
    md5_hex(&bytes)
}

/// A message's attributes as the queue keeps them: its message attributes (strings) and its
/// trace header. The message attributes have passed SQS's checks (`limits`) first; what is
/// refused here is what the emulator does not keep (a `Number` or `Binary` attribute, or one named
/// as the trace header, which shares their map).
pub(super) fn stored_attributes(
    message_attributes: BTreeMap<String, AttributeValue>,
    system_attributes: BTreeMap<String, AttributeValue>,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut stored = BTreeMap::new();
    for (name, attribute) in message_attributes {
        if name == TRACE_HEADER {
            return Err(invalid_parameter(format!(
                "The emulator keeps {TRACE_HEADER} as a message system attribute only, not as a message attribute."
            )));
        }
        stored.insert(name, string_value(attribute)?);
    }
    for (name, attribute) in system_attributes {
        if name != TRACE_HEADER {
            return Err(invalid_parameter(format!(
                "The message system attribute {name:?} is not supported; only {TRACE_HEADER} is."
            )));
        }
        stored.insert(name, string_value(attribute)?);
    }
    Ok(stored)
}

pub(super) fn string_value(attribute: AttributeValue) -> Result<String, AwsError> {
    match (attribute.data_type.as_deref(), attribute.string_value) {
        (Some("String"), Some(value)) => Ok(value),
        (data_type, _) => Err(invalid_parameter(format!(
            "The emulator keeps message attributes of DataType String with a StringValue only (got {:?}).",
            data_type.unwrap_or_default()
        ))),
    }
}

/// The message attributes among those kept (all but the trace header).
pub(super) fn message_attributes(stored: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    stored
        .iter()
        .filter(|(name, _)| name.as_str() != TRACE_HEADER)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Whether a message attribute is asked for: `All`, `.*`, a `prefix.*`, or its name.
pub(super) fn asked(names: &[String], name: &str) -> bool {
    names.iter().any(|asked| {
        asked == "All"
            || asked == ".*"
            || asked == name
            || asked.strip_suffix(".*").is_some_and(|prefix| {
                name.starts_with(prefix) && name[prefix.len()..].starts_with('.')
            })
    })
}
