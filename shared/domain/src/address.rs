//! The billing address PayPal checks the card against.

use serde::{Deserialize, Serialize};

/// An ISO 3166-1 alpha-2 country code, upper-cased (`GB`, `US`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a two-letter country code, like GB or US")]
pub struct CountryCodeError;

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, CountryCodeError> {
        let raw = raw.trim();
        if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(CountryCodeError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CountryCode {
    type Error = CountryCodeError;
    fn try_from(raw: String) -> Result<Self, CountryCodeError> {
        Self::parse(&raw)
    }
}

impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.0
    }
}

/// Where the card is billed. Line and city are free text (trimmed, no control characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingAddress {
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub country_code: CountryCode,
}

/// Limits from PayPal's `address_portable` (line 300, admin area 120); postal codes are held to 16, longer than any real one.
pub(crate) const LINE_MAX: usize = 300;
pub(crate) const CITY_MAX: usize = 120;
pub(crate) const POSTAL_CODE_MAX: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{TextError, plain_text};

    #[test]
    fn country_codes_are_two_letters_upper_cased() {
        assert_eq!(
            CountryCode::parse("gb").map(|c| c.as_str().to_owned()),
            Ok("GB".into())
        );
        for bad in ["GBR", "G", "", "1A", "G B"] {
            assert_eq!(CountryCode::parse(bad), Err(CountryCodeError), "{bad}");
        }
    }

    #[test]
    fn address_parts_are_checked() {
        assert_eq!(plain_text("  12 Square ", LINE_MAX), Ok("12 Square".into()));
        assert_eq!(plain_text(" ", LINE_MAX), Err(TextError::Empty));
        assert_eq!(
            plain_text(&"x".repeat(17), POSTAL_CODE_MAX),
            Err(TextError::TooLong { max: 16 })
        );
        assert_eq!(
            plain_text("a\tb", CITY_MAX),
            Err(TextError::ControlCharacter)
        );
    }
}
