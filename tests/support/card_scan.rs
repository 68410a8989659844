//! Card data must never be kept or shown: not in a log line, a queue message, an execution's
//! history, a table or an answer. The tests register with one test card, and this scan looks for
//! its number and security code everywhere the system writes, in every form they could take there.

use crate::app::TestApp;
use crate::logs;

/// The test card used by every registration (PayPal's sandbox Visa).
pub const CARD_NUMBER: &str = "4012888888881881";

/// The test card's security code, which must not be kept or shown any more than its number.
pub(crate) const SECURITY_CODE: &str = "123";

/// The names of the security code's field in the site's, PayPal's and other card APIs' JSON.
const SECURITY_CODE_FIELDS: [&str; 4] = ["securityCode", "security_code", "cvv", "cvv2"];

/// The card data in `text`, if any, named for a failure message: the card number as sent or
/// grouped by fours (`4012 8888 8888 1881`, `4012-8888-8888-1881`), or the security code as the
/// value of a card field, in JSON (`"cvv":"123"`, `"cvv": "123"`), in JSON escaped inside a JSON
/// string (a queue message's body in a listing) or in Rust's `Debug` form (`cvv: "123"`).
fn card_data_in(text: &str) -> Option<String> {
    let groups: Vec<&str> = CARD_NUMBER
        .as_bytes()
        .chunks(4)
        .map(|group| std::str::from_utf8(group).expect("the card number is ASCII"))
        .collect();
    if let Some(form) = [CARD_NUMBER.to_owned(), groups.join(" "), groups.join("-")]
        .into_iter()
        .find(|form| text.contains(form.as_str()))
    {
        return Some(format!("the card number ({form})"));
    }
    SECURITY_CODE_FIELDS
        .into_iter()
        .find(|field| {
            text.match_indices(field).any(|(at, _)| {
                // The field's own name, not the end of a longer one (`cvv` in `mycvv`).
                let stands_alone =
                    !text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                stands_alone && security_code_follows(&text[at + field.len()..])
            })
        })
        .map(|field| format!("the security code (as {field})"))
}

/// Whether a field's name ending where `after_name` starts is given the security code: maybe a
/// closing quote, then `:` and the quoted code, with any whitespace between.
fn security_code_follows(after_name: &str) -> bool {
    after_quote(after_name)
        .unwrap_or(after_name)
        .trim_start()
        .strip_prefix(':')
        .map(str::trim_start)
        .and_then(after_quote)
        .and_then(|value| value.strip_prefix(SECURITY_CODE))
        .and_then(after_quote)
        .is_some()
}

/// `text` after its leading quote, written as is (`"`) or escaped (`\"`, `\\\"`, …).
fn after_quote(text: &str) -> Option<&str> {
    text.trim_start_matches('\\').strip_prefix('"')
}

/// Fails if `text`, read from `place`, holds card data (see `card_data_in`).
fn assert_no_card_data_in(place: std::fmt::Arguments<'_>, text: &str) {
    if let Some(found) = card_data_in(text) {
        panic!("{found} in {place}");
    }
}

impl TestApp {
    /// Fails if card data (the number in any of its forms, or the security code next to a card
    /// field: see `card_data_in`) is in any inspector listing (queues with their messages,
    /// executions, emails, audience, payments, orders), each order's story, the database (its files on SQLite,
    /// every table on PostgreSQL), any log line of this process, or any response so far.
    pub async fn assert_no_card_data(&self) {
        for what in [
            "queues",
            "executions",
            "outbox",
            "audience",
            "payments",
            "orders",
        ] {
            let listing = serde_json::to_string(&self.inspect(what).await).expect("json");
            assert_no_card_data_in(format_args!("/_emulator/api/{what}"), &listing);
        }
        // Each order's story: what its functions logged, step by step.
        for order in self.inspect("orders").await {
            if let Some(id) = order["orderId"].as_str() {
                let story = self.get(&format!("/_emulator/api/stories/{id}")).await;
                assert_no_card_data_in(format_args!("the story of {id}"), &story.to_string());
            }
        }
        for (place, content) in self.database().contents().await {
            assert_no_card_data_in(format_args!("the database: {place}"), &content);
        }
        let logs = logs::captured();
        assert!(!logs.is_empty(), "logs are captured");
        assert_no_card_data_in(format_args!("the logs"), &logs);
        for response in self.responses_so_far() {
            assert_no_card_data_in(format_args!("a response: {response}"), &response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_number_is_found_as_sent_and_grouped() {
        for text in [
            r#"{"card":{"number":"4012888888881881"}}"#,
            "charged 4012 8888 8888 1881",
            "charged 4012-8888-8888-1881",
        ] {
            assert!(
                card_data_in(text).is_some_and(|found| found.contains("card number")),
                "{text}"
            );
        }
    }

    #[test]
    fn the_security_code_is_found_as_a_card_field() {
        for text in [
            r#"{"card":{"securityCode":"123"}}"#,
            // As PostgreSQL shows a `jsonb`.
            r#"{"security_code": "123"}"#,
            // A message body (JSON in a JSON string) in a listing.
            r#"{"body":"{\"cvv\":\"123\"}"}"#,
            // A `Debug` struct in a log line.
            r#"Card { cvv2: "123" }"#,
        ] {
            assert!(
                card_data_in(text).is_some_and(|found| found.contains("security code")),
                "{text}"
            );
        }
    }

    #[test]
    fn other_numbers_are_not_card_data() {
        for text in [
            r#"{"card":{"brand":"VISA","lastDigits":"1881"}}"#,
            r#"{"number":"4012888888881882"}"#,
            r#"{"cvv":"1234"}"#,
            r#"{"cvv_result":"123"}"#,
            r#"{"mycvv":"123"}"#,
            r#"{"line1":"123 Main Street"}"#,
        ] {
            assert_eq!(card_data_in(text), None, "{text}");
        }
    }
}
