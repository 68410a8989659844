//! What the payment function is built from, wherever it runs: the payment provider's settings,
//! the function's timeout and the card-testing defence's. The Lambda binary reads them from its environment
//! ([`PaymentSettings::from_env`]); the Azure Function App takes the timeout from its `host.json`
//! and the emulator from the template, so both fill the struct themselves.

use std::time::Duration;

use clients::config::{ConfigError, Env};
use clients::paypal::PayPalConfig;

use crate::CardTesting;

/// The payment function's settings (the parts that differ by host, the order publisher and the
/// database of idempotency records, are arguments of `Payment::from_settings`).
pub struct PaymentSettings {
    pub paypal: PayPalConfig,
    /// The function's timeout: an unfinished idempotency claim older than this was left by an
    /// instance that died, and is taken over.
    pub timeout: Duration,
    pub card_testing: CardTesting,
}

impl PaymentSettings {
    /// The function's `Timeout` in `template.yaml`, which Lambda does not tell the function.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(29);

    /// Reads PayPal's settings, `PAYMENT_TIMEOUT_SECONDS` (a whole number of seconds,
    /// [`Self::DEFAULT_TIMEOUT`] when unset) and the card-testing defence's
    /// ([`CardTesting::from_env`]), naming the first variable missing or invalid.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            paypal: PayPalConfig::from_env(env)?,
            timeout: timeout(env)?,
            card_testing: CardTesting::from_env(env)?,
        })
    }
}

fn timeout(env: &dyn Env) -> Result<Duration, ConfigError> {
    env.var("PAYMENT_TIMEOUT_SECONDS")
        .map(|raw| {
            raw.parse()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::Invalid {
                    variable: "PAYMENT_TIMEOUT_SECONDS",
                    reason: "must be a whole number of seconds".into(),
                })
        })
        .unwrap_or(Ok(PaymentSettings::DEFAULT_TIMEOUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYPAL: [(&str, &str); 4] = [
        ("PAYPAL_BASE_URL", "http://127.0.0.1:9"),
        ("PAYPAL_CLIENT_ID", "id"),
        ("PAYPAL_CLIENT_SECRET", "secret"),
        ("FINGERPRINT_KEY", "a key of at least thirty-two characters"),
    ];

    #[test]
    fn the_timeout_defaults_to_the_templates_and_is_read_in_whole_seconds() {
        let settings = PaymentSettings::from_env(&PAYPAL).expect("settings");
        assert_eq!(settings.timeout, PaymentSettings::DEFAULT_TIMEOUT);
        let [a, b, c, d] = PAYPAL;
        let settings = PaymentSettings::from_env(&[a, b, c, d, ("PAYMENT_TIMEOUT_SECONDS", "12")])
            .expect("settings");
        assert_eq!(settings.timeout, Duration::from_secs(12));
    }

    #[test]
    fn a_timeout_that_is_not_whole_seconds_and_missing_paypal_settings_are_named() {
        let [a, b, c, d] = PAYPAL;
        for invalid in ["soon", "1.5", "-3"] {
            let error =
                PaymentSettings::from_env(&[a, b, c, d, ("PAYMENT_TIMEOUT_SECONDS", invalid)])
                    .err()
                    .expect("invalid");
            assert!(
                matches!(
                    error,
                    ConfigError::Invalid {
                        variable: "PAYMENT_TIMEOUT_SECONDS",
                        ..
                    }
                ),
                "{invalid}: {error}"
            );
        }
        let error = PaymentSettings::from_env(&[("PAYMENT_TIMEOUT_SECONDS", "12")])
            .err()
            .expect("no PayPal");
        assert_eq!(error, ConfigError::Missing("PAYPAL_BASE_URL"));
    }
}
