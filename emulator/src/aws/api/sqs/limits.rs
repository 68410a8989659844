//! SQS's documented limits on what a call sends, checked as SQS checks them and refused with the
//! code, status and (where AWS's own answer is known) the words SQS answers: the message body
//! (not empty, SQS's character set, at most [`MAX_MESSAGE_SIZE`] bytes with its attributes), the
//! message attributes (at most 10, their names, data types and values), a batch (1 to 10 entries,
//! their ids, at most [`MAX_MESSAGE_SIZE`] bytes in all) and the ranges of the numbers
//! (`DelaySeconds`, `MaxNumberOfMessages`, `WaitTimeSeconds`, `VisibilityTimeout`).
//!
//! Sources: <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>,
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html>
//! and the operations' pages of the API reference. `docs/limits.md` lists each limit with its
//! test, and says which words are AWS's.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use base64::Engine;
use durable::queue::MAX_BATCH_SIZE;

use super::attributes::AttributeValue;
use super::errors::{invalid_parameter, missing_parameter};
use crate::aws::api::protocol::AwsError;

/// The largest message, body and message attributes together: 1 MiB, SQS's default and maximum
/// `MaximumMessageSize` (the queues of `template.yaml` set no smaller one), and the largest batch.
pub(super) const MAX_MESSAGE_SIZE: usize = 1_048_576;

/// The most message attributes a message may have.
const MAX_ATTRIBUTES: usize = 10;

/// The longest message attribute name, and the longest data type.
const MAX_NAME_LENGTH: usize = 256;

/// Whether SQS takes a character in a message: `#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to
/// #xFFFD | #x10000 to #x10FFFF` (XML 1.0's characters).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character SQS refuses in `text`, as SQS writes it (`#x1F`).
fn refused_character(text: &str) -> Option<String> {
    text.chars()
        .find(|c| !allowed(*c))
        .map(|c| format!("#x{:X}", u32::from(c)))
}

const ALLOWED_CHARACTERS: &str =
    "#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]";

/// A message as `SendMessage` or a batch entry sends it: a body, then its size with its
/// attributes, then the body's characters, then the attributes themselves (SQS's order).
pub(super) fn check_message(
    body: &str,
    attributes: &BTreeMap<String, AttributeValue>,
) -> Result<(), AwsError> {
    if body.is_empty() {
        return Err(missing_parameter("MessageBody"));
    }
    if message_size(body, attributes) > MAX_MESSAGE_SIZE {
        return Err(invalid_parameter(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_SIZE} bytes."
        )));
    }
    if let Some(refused) = refused_character(body) {
        return Err(AwsError::sqs(
            "InvalidMessageContents",
            "InvalidMessageContents",
            format!(
                "Invalid binary character '{refused}' was found in the message body, the set of allowed characters is {ALLOWED_CHARACTERS}."
            ),
        ));
    }
    check_attributes(attributes)
}

/// A message's size as SQS counts it against `MaximumMessageSize`: the body's UTF-8 bytes, and
/// each message attribute's name, data type and value (a binary value decoded). Message system
/// attributes (the trace header) do not count.
pub(super) fn message_size(body: &str, attributes: &BTreeMap<String, AttributeValue>) -> usize {
    let attributes: usize = attributes
        .iter()
        .map(|(name, attribute)| {
            name.len()
                + attribute.data_type.as_deref().map_or(0, str::len)
                + attribute.string_value.as_deref().map_or(0, str::len)
                + binary(attribute).map_or(0, |value| value.len())
        })
        .sum();
    body.len() + attributes
}

/// A binary attribute's value, decoded from the JSON protocol's base64 (`None` if absent or not
/// base64, which the SDKs never send).
fn binary(attribute: &AttributeValue) -> Option<Vec<u8>> {
    attribute
        .binary_value
        .as_deref()
        .and_then(|value| base64::engine::general_purpose::STANDARD.decode(value).ok())
}

/// A batch's total size: every entry's message size, which may not exceed [`MAX_MESSAGE_SIZE`]
/// together (whatever a queue's own `MaximumMessageSize`).
pub(super) fn check_batch_size(total: usize) -> Result<(), AwsError> {
    if total > MAX_MESSAGE_SIZE {
        return Err(AwsError::sqs(
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            format!(
                "Batch requests cannot be longer than {MAX_MESSAGE_SIZE} bytes. You have sent {total} bytes."
            ),
        ));
    }
    Ok(())
}

/// The message attributes: at most 10, each with a valid name, data type and value.
fn check_attributes(attributes: &BTreeMap<String, AttributeValue>) -> Result<(), AwsError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].",
            attributes.len()
        )));
    }
    for (name, attribute) in attributes {
        check_name(name)?;
        check_value(name, attribute)?;
    }
    Ok(())
}

/// A message attribute's name: 1 to 256 of `A-Za-z0-9_-.`, neither starting nor ending with a
/// period, no two periods in a row, not starting with `AWS.` or `Amazon.` in any case.
fn check_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() {
        return Err(invalid_parameter(
            "The request must contain non-empty message (user) attribute names.",
        ));
    }
    if name.chars().count() > MAX_NAME_LENGTH {
        return Err(invalid_parameter(format!(
            "Message (user) attribute names can be up to {MAX_NAME_LENGTH} characters long."
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(invalid_parameter(
            "Message (user) attributes name can only contain upper and lower score characters, digits, periods, hyphens and underscores. ",
        ));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws.")
        || lower.starts_with("amazon.")
        || name.starts_with('.')
        || name.ends_with('.')
    {
        return Err(invalid_parameter(
            "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These strings are reserved for internal use. Additionally, they cannot start or end with '.'.",
        ));
    }
    if name.contains("..") {
        return Err(invalid_parameter(format!(
            "Message (user) attribute name '{name}' can't have successive '.' characters."
        )));
    }
    Ok(())
}

/// The logical data types, which a custom label may follow (`Number.int`, `Binary.png`).
const DATA_TYPES: [&str; 3] = ["String", "Number", "Binary"];

/// A message attribute's data type and value: a known type (with an optional label) of up to 256
/// characters; a non-empty value of that type, in SQS's character set for a string; a number that
/// SQS can keep for a `Number`.
fn check_value(name: &str, attribute: &AttributeValue) -> Result<(), AwsError> {
    let data_type = attribute.data_type.as_deref().unwrap_or_default();
    if data_type.is_empty() {
        return Err(invalid_parameter(format!(
            "The message (user) attribute '{name}' must contain a non-empty message attribute type."
        )));
    }
    let (base, label) = match data_type.split_once('.') {
        Some((base, label)) => (base, Some(label)),
        None => (data_type, None),
    };
    if !DATA_TYPES.contains(&base) || label.is_some_and(str::is_empty) {
        return Err(invalid_parameter(format!(
            "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )));
    }
    if data_type.chars().count() > MAX_NAME_LENGTH {
        return Err(invalid_parameter(format!(
            "Message (user) attribute types can be up to {MAX_NAME_LENGTH} characters long."
        )));
    }
    if let Some(refused) = label.and_then(refused_character) {
        return Err(invalid_parameter(format!(
            "The type of message (user) attribute '{name}' contains the invalid character '{refused}'; the set of allowed characters is {ALLOWED_CHARACTERS}."
        )));
    }
    let empty = || {
        invalid_parameter(format!(
            "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
        ))
    };
    if base == "Binary" {
        return match &attribute.binary_value {
            None => Err(empty()),
            Some(value) if value.is_empty() => Err(empty()),
            Some(_) if binary(attribute).is_none() => Err(invalid_parameter(format!(
                "The binary value of message (user) attribute '{name}' is not base64."
            ))),
            Some(_) => Ok(()),
        };
    }
    let value = attribute.string_value.as_deref().unwrap_or_default();
    if value.is_empty() {
        return Err(empty());
    }
    if let Some(refused) = refused_character(value) {
        return Err(invalid_parameter(format!(
            "Invalid binary character '{refused}' was found in the value of message (user) attribute '{name}', the set of allowed characters is {ALLOWED_CHARACTERS}."
        )));
    }
    if base == "Number" && !is_number(value) {
        return Err(invalid_parameter(format!(
            "Can't cast the value of message (user) attribute '{name}' to a number."
        )));
    }
    Ok(())
}

/// Whether SQS keeps `value` as a `Number`: a decimal (an optional sign, digits with an optional
/// fraction, an optional exponent) of up to 38 significant digits, zero or between 10^-128 and
/// 10^+126 in magnitude.
pub(super) fn is_number(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            let Ok(exponent) = exponent.parse::<i64>() else {
                return false;
            };
            (mantissa, exponent)
        }
        None => (unsigned, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || integer.bytes().chain(fraction.bytes());
    if integer.len() + fraction.len() == 0 || !digits().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let all: String = digits().map(char::from).collect();
    let Some(first) = all.find(|c| c != '0') else {
        return true; // zero
    };
    let last = all.rfind(|c| c != '0').unwrap_or(first);
    if last - first + 1 > 38 {
        return false;
    }
    // The value is 0.d1d2… × 10^magnitude: the power of ten of its first significant digit.
    let position =
        i64::try_from(integer.len()).unwrap_or(i64::MAX) - i64::try_from(first).unwrap_or(i64::MAX);
    let magnitude = exponent.saturating_add(position).saturating_sub(1);
    (-128..=126).contains(&magnitude)
}

/// A batch's entry ids: 1 to 10 entries, each id 1 to 80 letters, digits, `-` or `_`, all
/// distinct.
pub(super) fn check_batch<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Result<(), AwsError> {
    match ids.len() {
        0 => {
            return Err(AwsError::sqs(
                "EmptyBatchRequest",
                "AWS.SimpleQueueService.EmptyBatchRequest",
                "There should be at least one entry in the request.",
            ));
        }
        n if n > MAX_BATCH_SIZE => {
            return Err(AwsError::sqs(
                "TooManyEntriesInBatchRequest",
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                format!("Maximum number of entries per request are 10. You have sent {n}."),
            ));
        }
        _ => {}
    }
    let mut seen = HashSet::new();
    for id in ids {
        let valid = (1..=80).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(AwsError::sqs(
                "InvalidBatchEntryId",
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(AwsError::sqs(
                "BatchEntryIdsNotDistinct",
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(())
}

/// A number of seconds from 0 to `max`, or the error naming the parameter, in SQS's words.
fn seconds(
    value: Option<i64>,
    parameter: &str,
    max: i64,
    reason: &str,
) -> Result<Option<Duration>, AwsError> {
    value
        .map(|n| match u64::try_from(n) {
            Ok(secs) if n <= max => Ok(Duration::from_secs(secs)),
            _ => Err(invalid_parameter(format!(
                "Value {n} for parameter {parameter} is invalid. Reason: {reason}"
            ))),
        })
        .transpose()
}

/// `DelaySeconds`: 0 to 900 (15 minutes).
pub(super) fn delay_seconds(value: Option<i64>) -> Result<Option<Duration>, AwsError> {
    seconds(
        value,
        "DelaySeconds",
        900,
        "DelaySeconds must be >= 0 and <= 900.",
    )
}

/// `VisibilityTimeout` of `ReceiveMessage` and `ChangeMessageVisibility`: 0 to 43,200 (12 hours).
pub(super) fn visibility_timeout(value: Option<i64>) -> Result<Option<Duration>, AwsError> {
    seconds(
        value,
        "VisibilityTimeout",
        43_200,
        "Must be >= 0 and <= 43200, if provided.",
    )
}

/// `WaitTimeSeconds`: 0 to 20.
pub(super) fn wait_time_seconds(value: Option<i64>) -> Result<Option<Duration>, AwsError> {
    seconds(
        value,
        "WaitTimeSeconds",
        20,
        "Must be >= 0 and <= 20, if provided.",
    )
}

/// `MaxNumberOfMessages`: 1 to 10, 1 if not given.
pub(super) fn max_number_of_messages(value: Option<i64>) -> Result<usize, AwsError> {
    let max = value.unwrap_or(1);
    match usize::try_from(max) {
        Ok(n) if (1..=10).contains(&n) => Ok(n),
        _ => Err(invalid_parameter(format!(
            "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
        ))),
    }
}
