//! Money as exact integers of minor units, never floats.
//!
//! Amounts travel as PayPal writes them: a decimal string with exactly the currency's number of
//! decimals (`"250.00"` USD, `"25000"` JPY), next to an ISO 4217 code.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency this system can price in, with its number of decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Currency {
    Usd,
    Eur,
    Gbp,
    Chf,
    Cad,
    Aud,
    Jpy,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unsupported currency {0:?}")]
    UnsupportedCurrency(String),
    #[error("amount {value:?} must be a non-negative decimal with {decimals} decimals")]
    InvalidAmount { value: String, decimals: u32 },
}

impl Currency {
    const ALL: [Currency; 7] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Chf,
        Currency::Cad,
        Currency::Aud,
        Currency::Jpy,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Chf => "CHF",
            Currency::Cad => "CAD",
            Currency::Aud => "AUD",
            Currency::Jpy => "JPY",
        }
    }

    /// Digits after the decimal point (ISO 4217 minor unit).
    pub fn decimals(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
    }

    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        Self::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| MoneyError::UnsupportedCurrency(code.to_owned()))
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(code: String) -> Result<Self, MoneyError> {
        Self::parse(&code)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

/// A non-negative amount in minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MoneyWire", into = "MoneyWire")]
pub struct Money {
    minor_units: u64,
    currency: Currency,
}

/// The wire shape: `{"value": "250.00", "currency": "USD"}`.
#[derive(Serialize, Deserialize)]
struct MoneyWire {
    value: String,
    currency: Currency,
}

impl Money {
    pub fn from_minor_units(minor_units: u64, currency: Currency) -> Self {
        Self {
            minor_units,
            currency,
        }
    }

    /// Parses a decimal string that has exactly the currency's number of decimals.
    pub fn parse(value: &str, currency: Currency) -> Result<Self, MoneyError> {
        let decimals = currency.decimals();
        let invalid = || MoneyError::InvalidAmount {
            value: value.to_owned(),
            decimals,
        };
        let (units, fraction) = match value.split_once('.') {
            Some((units, fraction)) if decimals > 0 => (units, fraction),
            None if decimals == 0 => (value, ""),
            _ => return Err(invalid()),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(units)
            || (decimals > 0 && (fraction.len() != decimals as usize || !all_digits(fraction)))
        {
            return Err(invalid());
        }
        let scale = 10u64.pow(decimals);
        let units: u64 = units.parse().map_err(|_| invalid())?;
        let fraction: u64 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| invalid())?
        };
        let minor_units = units
            .checked_mul(scale)
            .and_then(|u| u.checked_add(fraction))
            .ok_or_else(invalid)?;
        Ok(Self {
            minor_units,
            currency,
        })
    }

    pub fn minor_units(&self) -> u64 {
        self.minor_units
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as a decimal string with the currency's decimals: `"250.00"`, `"25000"`.
    pub fn value(&self) -> String {
        let decimals = self.currency.decimals();
        if decimals == 0 {
            return self.minor_units.to_string();
        }
        let scale = 10u64.pow(decimals);
        format!(
            "{}.{:0width$}",
            self.minor_units / scale,
            self.minor_units % scale,
            width = decimals as usize
        )
    }
}

impl TryFrom<MoneyWire> for Money {
    type Error = MoneyError;
    fn try_from(wire: MoneyWire) -> Result<Self, MoneyError> {
        Money::parse(&wire.value, wire.currency)
    }
}

impl From<Money> for MoneyWire {
    fn from(m: Money) -> MoneyWire {
        MoneyWire {
            value: m.value(),
            currency: m.currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value(), self.currency.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_the_currency_decimals() {
        assert_eq!(
            Money::from_minor_units(25000, Currency::Usd).value(),
            "250.00"
        );
        assert_eq!(Money::from_minor_units(5, Currency::Eur).value(), "0.05");
        assert_eq!(
            Money::from_minor_units(25000, Currency::Jpy).value(),
            "25000"
        );
        assert_eq!(
            Money::from_minor_units(25000, Currency::Usd).to_string(),
            "250.00 USD"
        );
    }

    #[test]
    fn parses_exact_decimals_only() {
        assert_eq!(
            Money::parse("250.00", Currency::Usd).map(|m| m.minor_units()),
            Ok(25000)
        );
        assert_eq!(
            Money::parse("25000", Currency::Jpy).map(|m| m.minor_units()),
            Ok(25000)
        );
        for bad in [
            "250", "250.0", "250.000", "-1.00", "1,00", "", ".50", "1.5a", "1e3",
        ] {
            assert!(Money::parse(bad, Currency::Usd).is_err(), "{bad}");
        }
        assert!(Money::parse("250.00", Currency::Jpy).is_err());
        assert!(
            Money::parse("99999999999999999999.00", Currency::Usd).is_err(),
            "overflow"
        );
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert_eq!(Currency::parse("GBP"), Ok(Currency::Gbp));
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("XYZ").is_err());
    }

    #[test]
    fn wire_shape_round_trips() {
        let m = Money::from_minor_units(45000, Currency::Usd);
        let json = serde_json::to_value(m).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"value": "450.00", "currency": "USD"})
        );
        assert_eq!(serde_json::from_value::<Money>(json).expect("parses"), m);
        assert!(
            serde_json::from_value::<Money>(serde_json::json!({"value": "4.5", "currency": "USD"}))
                .is_err()
        );
    }
}
