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
    #[error("must be 12 to 19 digits")]
    NumberLength,
    #[error("is not a valid card number (check the digits)")]
    NumberChecksum,
    #[error("must be a month written YYYY-MM")]
    ExpiryFormat,
    #[error("has expired")]
    Expired,
    #[error("must be the 3 or 4 digits on the card")]
    SecurityCode,
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

    /// Removes spaces and dashes, then checks length (12–19 digits) and the Luhn checksum.
    pub fn parse_number(raw: &str) -> Result<SecretString, CardError> {
        let digits: String = raw.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::NumberLength);
        }
        if !luhn_valid(&digits) {
            return Err(CardError::NumberChecksum);
        }
        Ok(SecretString::from(digits))
    }

    pub fn parse_security_code(raw: &str) -> Result<SecretString, CardError> {
        let raw = raw.trim();
        if (3..=4).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(SecretString::from(raw.to_owned()))
        } else {
            Err(CardError::SecurityCode)
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

    /// The card brand by its issuer prefix, as PayPal names them.
    pub fn brand(&self) -> &'static str {
        let n = self.number.expose_secret();
        let prefix2: u32 = n[..2].parse().unwrap_or(0);
        let prefix4: u32 = n[..4].parse().unwrap_or(0);
        match () {
            _ if n.starts_with('4') => "VISA",
            _ if (51..=55).contains(&prefix2) || (2221..=2720).contains(&prefix4) => "MASTERCARD",
            _ if prefix2 == 34 || prefix2 == 37 => "AMEX",
            _ if n.starts_with("6011") || prefix2 == 65 => "DISCOVER",
            _ => "UNKNOWN",
        }
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Card({} ending {}, [REDACTED])",
            self.brand(),
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
            Card::parse_security_code("123").expect("valid code"),
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
    fn security_code_is_three_or_four_digits() {
        assert!(Card::parse_security_code("123").is_ok());
        assert!(Card::parse_security_code("1234").is_ok());
        for bad in ["12", "12345", "12a", ""] {
            assert_eq!(
                Card::parse_security_code(bad).err(),
                Some(CardError::SecurityCode),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_masks_the_number_and_code() {
        let shown = format!("{:?}", card("4012888888881881"));
        assert_eq!(shown, "Card(VISA ending 1881, [REDACTED])");
        assert!(!shown.contains("4012888888881881") && !shown.contains("123"));
    }

    #[test]
    fn brands_follow_issuer_prefixes() {
        assert_eq!(card("4012888888881881").brand(), "VISA");
        assert_eq!(card("5555555555554444").brand(), "MASTERCARD");
        assert_eq!(card("378282246310005").brand(), "AMEX");
        assert_eq!(card("6011111111111117").brand(), "DISCOVER");
    }
}
