//! The payment card: the one piece of data that must never travel past the payment function.
//!
//! [`Card`] implements neither `Serialize` nor `Clone`, and its `Debug` prints only the brand and
//! the last four digits, so it cannot reach a queue message, a log line or a table by accident.
//! The payment gateway reads the number through [`Card::number`], which hands out the secret on
//! purpose.

use chrono::{Datelike, NaiveDate};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("must be 13 to 19 digits")]
    NumberLength,
    #[error("must be {} digits for {}", .0.lengths_in_words(), .0.described())]
    NumberLengthForBrand(Brand),
    #[error("is not a valid card number (check the digits)")]
    NumberChecksum,
    #[error("must be a month written YYYY-MM")]
    ExpiryFormat,
    #[error("has expired")]
    Expired,
    #[error("must be the 3 or 4 digits on the card")]
    SecurityCode,
    #[error("must be the {} digits on the {} of {}", .0.security_code_len(), if *.0 == Brand::Amex { "front" } else { "back" }, .0.described())]
    SecurityCodeForBrand(Brand),
}

/// The card network, by the number's issuer prefix. Each network issues numbers of given lengths
/// and security codes of one length; PayPal refuses a number that breaks its network's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    /// A network we do not know by prefix: PayPal's general limits apply (13 to 19 digits).
    Other,
}

impl Brand {
    /// The brand of a string of digits (at least 4).
    pub fn of(digits: &str) -> Self {
        let prefix = |n: usize| {
            digits
                .get(..n)
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0)
        };
        match () {
            _ if digits.starts_with('4') => Brand::Visa,
            _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => {
                Brand::Mastercard
            }
            _ if matches!(prefix(2), 34 | 37) => Brand::Amex,
            _ if digits.starts_with("6011")
                || prefix(2) == 65
                || (644..=649).contains(&prefix(3)) =>
            {
                Brand::Discover
            }
            _ if (3528..=3589).contains(&prefix(4)) => Brand::Jcb,
            _ => Brand::Other,
        }
    }

    /// The lengths this network issues.
    pub fn lengths(self) -> &'static [usize] {
        match self {
            Brand::Visa => &[13, 16, 19],
            Brand::Mastercard => &[16],
            Brand::Amex => &[15],
            Brand::Discover | Brand::Jcb => &[16, 17, 18, 19],
            Brand::Other => &[13, 14, 15, 16, 17, 18, 19],
        }
    }

    pub fn security_code_len(self) -> usize {
        if self == Brand::Amex { 4 } else { 3 }
    }

    /// The name PayPal gives the brand (`card.brand`).
    pub fn paypal_name(self) -> &'static str {
        match self {
            Brand::Visa => "VISA",
            Brand::Mastercard => "MASTERCARD",
            Brand::Amex => "AMEX",
            Brand::Discover => "DISCOVER",
            Brand::Jcb => "JCB",
            Brand::Other => "UNKNOWN",
        }
    }

    /// The card as an attendee would name it: "a Visa card", "an American Express card".
    pub fn described(self) -> &'static str {
        match self {
            Brand::Visa => "a Visa card",
            Brand::Mastercard => "a Mastercard",
            Brand::Amex => "an American Express card",
            Brand::Discover => "a Discover card",
            Brand::Jcb => "a JCB card",
            Brand::Other => "a card",
        }
    }

    fn lengths_in_words(self) -> String {
        match self.lengths() {
            [one] => one.to_string(),
            [first, .., last] if last - first + 1 == self.lengths().len() => {
                format!("{first} to {last}")
            }
            [init @ .., last] => {
                let init: Vec<String> = init.iter().map(ToString::to_string).collect();
                format!("{} or {last}", init.join(", "))
            }
            [] => String::new(),
        }
    }
}

/// Month and year the card expires (valid through the end of that month).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardExpiry {
    year: i32,
    month: u32,
}

impl CardExpiry {
    /// Parses `YYYY-MM` and rejects a month before `today`'s.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, CardError> {
        let (year, month) = raw.trim().split_once('-').ok_or(CardError::ExpiryFormat)?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(CardError::ExpiryFormat);
        }
        let year: i32 = year.parse().map_err(|_| CardError::ExpiryFormat)?;
        let month: u32 = month.parse().map_err(|_| CardError::ExpiryFormat)?;
        if !(1..=12).contains(&month) {
            return Err(CardError::ExpiryFormat);
        }
        if (year, month) < (today.year(), today.month()) {
            return Err(CardError::Expired);
        }
        Ok(Self { year, month })
    }

    /// `YYYY-MM`, the form PayPal expects.
    pub fn as_year_month(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// A payment card as the attendee entered it.
pub struct Card {
    name: String,
    number: SecretString,
    expiry: CardExpiry,
    security_code: SecretString,
}

impl Card {
    /// Builds a card from parts that have each been checked ([`Card::parse_number`],
    /// [`Card::parse_security_code`], [`CardExpiry::parse`]); the name is checked as any text.
    pub fn new(
        name: String,
        number: SecretString,
        expiry: CardExpiry,
        security_code: SecretString,
    ) -> Self {
        Self {
            name,
            number,
            expiry,
            security_code,
        }
    }

    /// Removes spaces and dashes, then checks the length (13 to 19 digits, PayPal's limits, and
    /// the lengths the brand issues) and the Luhn checksum.
    pub fn parse_number(raw: &str) -> Result<SecretString, CardError> {
        let digits: String = raw.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if !(13..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::NumberLength);
        }
        let brand = Brand::of(&digits);
        if !brand.lengths().contains(&digits.len()) {
            return Err(CardError::NumberLengthForBrand(brand));
        }
        if !luhn_valid(&digits) {
            return Err(CardError::NumberChecksum);
        }
        Ok(SecretString::from(digits))
    }

    /// Checks the security code: as long as `brand`'s (4 digits for American Express, 3 for the
    /// others), or 3 or 4 digits when the number, and so the brand, is not known.
    pub fn parse_security_code(raw: &str, brand: Option<Brand>) -> Result<SecretString, CardError> {
        let raw = raw.trim();
        if !(3..=4).contains(&raw.len()) || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::SecurityCode);
        }
        match brand {
            Some(brand) if brand.security_code_len() != raw.len() => {
                Err(CardError::SecurityCodeForBrand(brand))
            }
            _ => Ok(SecretString::from(raw.to_owned())),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full number: only for the request to the payment provider.
    pub fn number(&self) -> &str {
        self.number.expose_secret()
    }

    /// The security code: only for the request to the payment provider.
    pub fn security_code(&self) -> &str {
        self.security_code.expose_secret()
    }

    pub fn expiry(&self) -> CardExpiry {
        self.expiry
    }

    pub fn last_digits(&self) -> &str {
        let number = self.number.expose_secret();
        &number[number.len() - 4..]
    }

    /// The card brand by its issuer prefix.
    pub fn brand(&self) -> Brand {
        Brand::of(self.number.expose_secret())
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Card({} ending {}, [REDACTED])",
            self.brand().paypal_name(),
            self.last_digits()
        )
    }
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).expect("valid date")
    }

    fn card(number: &str) -> Card {
        Card::new(
            "Ada Lovelace".into(),
            Card::parse_number(number).expect("valid number"),
            CardExpiry::parse("2030-12", today()).expect("valid expiry"),
            Card::parse_security_code("123", None).expect("valid code"),
        )
    }

    #[test]
    fn numbers_are_normalised_and_luhn_checked() {
        let n = Card::parse_number("4012 8888 8888 1881").expect("valid");
        assert_eq!(n.expose_secret(), "4012888888881881");
        assert!(Card::parse_number("4012-8888-8888-1881").is_ok());
        assert_eq!(
            Card::parse_number("4012888888881882").err(),
            Some(CardError::NumberChecksum)
        );
        assert_eq!(
            Card::parse_number("40128888").err(),
            Some(CardError::NumberLength)
        );
        assert_eq!(
            Card::parse_number(&"4".repeat(20)).err(),
            Some(CardError::NumberLength)
        );
        assert_eq!(
            Card::parse_number("401288888881").err(),
            Some(CardError::NumberLength),
            "12 digits pass Luhn but PayPal needs 13"
        );
        assert_eq!(
            Card::parse_number("4012x88888881881").err(),
            Some(CardError::NumberLength)
        );
    }

    #[test]
    fn expiry_is_a_month_not_in_the_past() {
        assert_eq!(
            CardExpiry::parse("2026-11", today()).map(|e| e.as_year_month()),
            Ok("2026-11".into())
        );
        assert_eq!(
            CardExpiry::parse("2026-10", today()),
            Err(CardError::Expired)
        );
        for bad in [
            "2030-13", "2030-00", "30-12", "2030/12", "2030-1", "december",
        ] {
            assert_eq!(
                CardExpiry::parse(bad, today()),
                Err(CardError::ExpiryFormat),
                "{bad}"
            );
        }
    }

    #[test]
    fn numbers_have_their_brands_lengths() {
        // Luhn-valid numbers of the wrong length for their brand.
        for (number, brand, message) in [
            (
                "41111111111111",
                Brand::Visa,
                "must be 13, 16 or 19 digits for a Visa card",
            ),
            (
                "555555555555444",
                Brand::Mastercard,
                "must be 16 digits for a Mastercard",
            ),
            (
                "3782822463100005",
                Brand::Amex,
                "must be 15 digits for an American Express card",
            ),
            (
                "601111111111117",
                Brand::Discover,
                "must be 16 to 19 digits for a Discover card",
            ),
        ] {
            let digits: String = number.chars().collect();
            let fixed = with_check_digit(&digits[..digits.len() - 1]);
            let error = Card::parse_number(&fixed).expect_err(number);
            assert_eq!(error, CardError::NumberLengthForBrand(brand), "{number}");
            assert_eq!(error.to_string(), message);
        }
        for valid in [
            "4222222222222",
            "4012888888881881",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
        ] {
            assert!(Card::parse_number(valid).is_ok(), "{valid}");
        }
    }

    /// `partial` with the digit that makes it pass Luhn.
    fn with_check_digit(partial: &str) -> String {
        (0..10)
            .map(|d| format!("{partial}{d}"))
            .find(|n| luhn_valid(n))
            .expect("one digit fits")
    }

    #[test]
    fn security_codes_have_their_brands_length() {
        assert!(Card::parse_security_code("123", None).is_ok());
        assert!(Card::parse_security_code("1234", None).is_ok());
        assert!(Card::parse_security_code("123", Some(Brand::Visa)).is_ok());
        assert!(Card::parse_security_code("1234", Some(Brand::Amex)).is_ok());
        for bad in ["12", "12345", "12a", ""] {
            assert_eq!(
                Card::parse_security_code(bad, None).err(),
                Some(CardError::SecurityCode),
                "{bad}"
            );
        }
        assert_eq!(
            Card::parse_security_code("1234", Some(Brand::Visa)).err(),
            Some(CardError::SecurityCodeForBrand(Brand::Visa))
        );
        let amex = Card::parse_security_code("123", Some(Brand::Amex)).expect_err("3 digits");
        assert_eq!(
            amex.to_string(),
            "must be the 4 digits on the front of an American Express card"
        );
    }

    #[test]
    fn debug_masks_the_number_and_code() {
        let shown = format!("{:?}", card("4012888888881881"));
        assert_eq!(shown, "Card(VISA ending 1881, [REDACTED])");
        assert!(!shown.contains("4012888888881881") && !shown.contains("123"));
    }

    #[test]
    fn brands_follow_issuer_prefixes() {
        assert_eq!(card("4012888888881881").brand(), Brand::Visa);
        assert_eq!(card("5555555555554444").brand(), Brand::Mastercard);
        assert_eq!(card("378282246310005").brand(), Brand::Amex);
        assert_eq!(card("6011111111111117").brand(), Brand::Discover);
        assert_eq!(card("3530111333300000").brand(), Brand::Jcb);
    }
}
