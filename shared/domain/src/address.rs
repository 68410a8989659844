//! The billing address PayPal checks the card against.

use serde::{Deserialize, Serialize};

/// An ISO 3166-1 alpha-2 country code, upper-cased (`GB`, `US`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a two-letter country code, like GB or US")]
pub struct CountryCodeError;

/// The 249 officially assigned ISO 3166-1 alpha-2 codes, sorted (user-assigned codes such as `XX`,
/// `ZZ`, `QQ` and `AA`, and reserved ones, are not countries PayPal can bill in).
const ASSIGNED: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, CountryCodeError> {
        let code = raw.trim().to_ascii_uppercase();
        if ASSIGNED.binary_search(&code.as_str()).is_ok() {
            Ok(Self(code))
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
        assert!(ASSIGNED.is_sorted(), "binary search needs a sorted list");
        for good in ["AD", "us", " fr ", "ZW", "SS"] {
            assert!(CountryCode::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "GBR", "G", "", "1A", "G B", "XX", "ZZ", "QQ", "AA", "UK", "EU", "C2",
        ] {
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
